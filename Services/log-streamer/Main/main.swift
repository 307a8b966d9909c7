import FlukeRuntime
import LogStreamer

await runService(ServiceDescription(
    name: "log-streamer",
    summary: "JSON-LD log entries stored from FLUKE_LOGS and POST /api/v1/logs, queried by tenant and project",
    variables: LogsConfig.variables,
    migrator: LogsMigrations.migrator
)) { reader, logger in
    try await buildApplication(config: LogsConfig(reader: reader), logger: logger)
}
