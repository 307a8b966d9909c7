import FlukeRuntime
import Foundation
import Logging
import ProjectManager

if CommandLine.arguments.dropFirst().first == "bootstrap" {
    await runCommand("project-manager bootstrap", logLevel: .warning) { logger in
        try await Bootstrap.run(arguments: Array(CommandLine.arguments.dropFirst(2)), logger: logger)
    }
}

if CommandLine.arguments.dropFirst().first == "rewrap-keys" {
    await runCommand("project-manager rewrap-keys", logLevel: .warning) { logger in
        try await RewrapKeys.run(logger: logger)
    }
}

await runService(ServiceDescription(
    name: "project-manager",
    summary: "tenants, identity and API tokens for the fleet; projects, team, milestones and tasks",
    variables: PMConfig.variables,
    migrator: PMMigrations.migrator
)) { reader, logger in
    try await buildApplication(config: PMConfig(reader: reader), logger: logger)
}
