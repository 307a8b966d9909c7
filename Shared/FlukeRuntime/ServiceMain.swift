import FlukeNATS
import FlukePostgres
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

/// What a service's `@main` hands to ``runService(_:)``.
public struct ServiceDescription: Sendable {
    public var name: String
    public var summary: String
    /// Every variable the service reads, common ones included, for `--help`.
    public var variables: [ConfigVariable]
    /// The schema's migrations, applied by `<service> migrate`.
    public var migrator: PostgresMigrator

    public init(name: String, summary: String, variables: [ConfigVariable], migrator: PostgresMigrator) {
        self.name = name
        self.summary = summary
        self.variables = variables
        self.migrator = migrator
    }
}

/// The whole life of a service process: `--help`, configuration (one line and exit 78 when it
/// is wrong), logging, startup, and graceful shutdown on SIGTERM/SIGINT (exit 0).
///
/// `<service> migrate` instead applies the schema's migrations with `DATABASE_URL` (the schema
/// owner's), prints the versions it applied as a JSON array, and exits 0.
///
/// `build` reads its configuration from the reader and returns the application to run.
public func runService<App: ApplicationProtocol>(
    _ description: ServiceDescription,
    arguments: [String] = CommandLine.arguments,
    build: @escaping @Sendable (ConfigReader, Logger) async throws -> App
) async -> Never {
    if arguments.dropFirst().contains(where: { $0 == "--help" || $0 == "-h" }) {
        print(configHelp(service: description.name, summary: description.summary, variables: description.variables))
        exit(0)
    }
    if arguments.dropFirst().first == "migrate", arguments.count == 2 {
        await runMigrate(description)
    }
    if let unknown = arguments.dropFirst().first {
        FileHandle.standardError.write(Data("\(description.name): unknown argument \(unknown) (see --help)\n".utf8))
        exit(64)
    }
    let reader = ConfigReader(variables: description.variables)
    let common: FleetConfig
    do {
        common = try FleetConfig(serviceName: description.name, reader: reader)
    } catch {
        FileHandle.standardError.write(Data("\(description.name): \(error)\n".utf8))
        exit(78)
    }
    let level = common.logLevel
    let json = common.logFormat == "json"
    LoggingSystem.bootstrap { label in
        if json { return JSONLogHandler(label: label, level: level) }
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = level
        return handler
    }
    let logger = Logger(label: description.name)
    do {
        let app = try await build(reader, logger)
        var configuration = ServiceGroupConfiguration(services: [app], gracefulShutdownSignals: [.sigterm, .sigint],
                                                      logger: logger)
        configuration.maximumGracefulShutdownDuration = common.shutdownTimeout
        try await ServiceGroup(configuration: configuration).run()
        logger.info("stopped")
        NATSClient.releaseLibrary()
        exit(0)
    } catch let error as ConfigError {
        FileHandle.standardError.write(Data("\(description.name): \(error)\n".utf8))
        exit(78)
    } catch {
        logger.critical("stopped on error", metadata: ["error": "\(error)"])
        exit(1)
    }
}

private func runMigrate(_ description: ServiceDescription) async -> Never {
    await runCommand(description.name + " migrate", logLevel: .info) { logger in
        let applied = try await FleetRuntime.migrate(description.migrator,
                                                     reader: ConfigReader(variables: description.variables), logger: logger)
        return String(decoding: try JSONEncoder().encode(applied), as: UTF8.self)
    }
}

/// Runs one of a service's commands (`migrate`, `project-manager bootstrap`) to its end: logs go
/// to stderr at `logLevel` (stdout carries only the result, for scripts), what `body` returns is
/// printed and the process exits 0; on an error one line `<name>: <error>` goes to stderr and the
/// exit status is 78 for a ``ConfigError``, 1 for anything else.
public func runCommand(_ name: String, logLevel: Logger.Level, _ body: (Logger) async throws -> String) async -> Never {
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = logLevel
        return handler
    }
    do {
        print(try await body(Logger(label: name)))
        exit(0)
    } catch let error as ConfigError {
        FileHandle.standardError.write(Data("\(name): \(error)\n".utf8))
        exit(78)
    } catch {
        FileHandle.standardError.write(Data("\(name): \(error)\n".utf8))
        exit(1)
    }
}
