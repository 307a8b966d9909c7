import ContextAPI
import FlukeRuntime

await runService(ServiceDescription(
    name: "context-api",
    summary: "the project context AI tools fetch: env vars, memories with sync, MCP configuration",
    variables: ContextConfig.variables,
    migrator: ContextMigrations.migrator
)) { reader, logger in
    try await buildApplication(config: ContextConfig(reader: reader), logger: logger)
}
