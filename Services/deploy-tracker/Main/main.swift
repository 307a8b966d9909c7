import DeployTracker
import FlukeRuntime

await runService(ServiceDescription(
    name: "deploy-tracker",
    summary: "deployments through five phases with rollback, on the process (nginx), swarm and kubernetes executors",
    variables: DeployConfig.variables,
    migrator: DeployMigrations.migrator
)) { reader, logger in
    try await buildApplication(config: DeployConfig(reader: reader), logger: logger)
}
