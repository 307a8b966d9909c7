import Federation
import FlukeRuntime

await runService(ServiceDescription(
    name: "federation",
    summary: "the project catalog, ONLINE/OFFLINE from NATS heartbeats",
    variables: FederationConfig.variables,
    migrator: FederationMigrations.migrator
)) { reader, logger in
    try await buildApplication(config: FederationConfig(reader: reader), logger: logger)
}
