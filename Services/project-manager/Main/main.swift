import FlukeRuntime
import Foundation
import Logging
import ProjectManager

if CommandLine.arguments.dropFirst().first == "bootstrap" {
    // stdout carries only the result, for scripts; logs go to stderr.
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = .warning
        return handler
    }
    do {
        print(try await Bootstrap.run(arguments: Array(CommandLine.arguments.dropFirst(2)),
                                      logger: Logger(label: "project-manager bootstrap")))
        exit(0)
    } catch let error as ConfigError {
        FileHandle.standardError.write(Data("project-manager bootstrap: \(error)\n".utf8))
        exit(78)
    } catch {
        FileHandle.standardError.write(Data("project-manager bootstrap: \(error)\n".utf8))
        exit(1)
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
