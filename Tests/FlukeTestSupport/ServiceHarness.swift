import FlukeNATS
import FlukePostgres
import FlukeRuntime
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Synchronization

/// A database with the fleet's schemas and a nats-server, on which tests start services as
/// production runs them: each as its own Postgres role and NATS user, with the test fleet's keys.
///
/// Every service test target builds its harness on this one, naming the services it starts with
/// ``ServiceUnderTest``.
public struct ServiceHarness: Sendable {
    public let database: TestDatabase
    public let nats: NATSServer
    /// Set when the test owns its Postgres cluster (to stop and start it).
    public let postgres: PostgresServer?
    /// What every service started here gets before its own settings; a test may change it first.
    public var common: [String: String]

    /// - Parameters:
    ///   - migrators: the schemas the services under test need, applied as their owners.
    ///   - fleetSettings: settings every service here shares (keys, mostly).
    ///   - database: an existing database (a second replica's), instead of a new one.
    ///   - nats: an existing nats-server, instead of a new one.
    ///   - privatePostgres: a Postgres cluster of the test's own, for tests that restart it.
    public init(migrating migrators: [PostgresMigrator], fleetSettings: [String: String] = [:],
                database: TestDatabase? = nil, nats: NATSServer? = nil, privatePostgres: Bool = false) async throws {
        if privatePostgres {
            let server = try PostgresServer()
            postgres = server
            self.database = TestDatabase.on(server)
        } else {
            postgres = nil
            if let database { self.database = database } else { self.database = try await TestDatabase.create() }
        }
        for migrator in migrators { try await self.database.migrate(migrator) }
        self.nats = try nats ?? NATSServer()
        common = [
            "NATS_URL": self.nats.url,
            "HTTP_PORT": "0",
            // A few quick tries: a dependency that is down in a test stays down.
            "STARTUP_ATTEMPTS": "3",
            "STARTUP_RETRY_DELAY": "0.2",
            // project-manager answers fluke.rpc.identity.verify in milliseconds, but on a machine
            // busy with the whole suite (and a first build) a reply can take seconds; a test that
            // wants it unreachable sets its own timeout.
            "FLUKE_IDENTITY_TIMEOUT": "10",
        ].merging(fleetSettings) { _, new in new }
    }

    /// The environment `service` starts with: the common settings, its own NATS user and Postgres
    /// role, its own settings, then `overrides`.
    public func environment<Config, Parts>(for service: ServiceUnderTest<Config, Parts>,
                                           _ overrides: [String: String] = [:]) -> [String: String] {
        common
            .merging(TestEnvironment.natsUser(service.natsUser)) { _, new in new }
            .merging(["DATABASE_URL": database.url(role: service.databaseRole)]) { _, new in new }
            .merging(service.environment) { _, new in new }
            .merging(overrides) { _, new in new }
    }

    /// `service`'s configuration, read from ``environment(for:_:)`` as its process would.
    public func config<Config, Parts>(for service: ServiceUnderTest<Config, Parts>,
                                      _ overrides: [String: String] = [:]) throws -> Config {
        try service.makeConfig(ConfigReader(environment: environment(for: service, overrides), variables: service.variables))
    }

    /// Builds `service` and serves it over real HTTP on a free port while `body` runs; `body` gets
    /// a client and the parts the service exposes to tests.
    public func run<Config, Parts, T: Sendable>(
        _ service: ServiceUnderTest<Config, Parts>, _ overrides: [String: String] = [:],
        logger: Logger = TestEnvironment.logger,
        _ body: @escaping @Sendable (any TestClientProtocol, Parts) async throws -> T) async throws -> T {
        let config = try config(for: service, overrides)
        let parts = Mutex<Parts?>(nil)
        let app = try await service.build(config, logger) { built in parts.withLock { $0 = built } }
        let captured = parts.withLock { $0 }!
        return try await app.test(.live) { client in try await body(client, captured) }
    }

    /// Serves `service` on `port` (chosen by the test) while `body` runs: for tests whose
    /// services must know each other's URLs before any of them starts (the dashboard's browser
    /// tests: CORS origins, its Content-Security-Policy). ``run(_:_:logger:_:)`` picks the port itself.
    public func serve<Config, Parts, T: Sendable>(
        _ service: ServiceUnderTest<Config, Parts>, port: Int, _ overrides: [String: String] = [:],
        logger: Logger = TestEnvironment.logger,
        _ body: @escaping @Sendable (Parts) async throws -> T) async throws -> T {
        let config = try config(for: service, overrides.merging(["HTTP_HOST": "127.0.0.1", "HTTP_PORT": String(port)]) { _, new in new })
        let parts = Mutex<Parts?>(nil)
        let app = try await service.build(config, logger) { built in parts.withLock { $0 = built } }
        let captured = parts.withLock { $0 }!
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                try await app.runService(gracefulShutdownSignals: [])
                return nil
            }
            group.addTask {
                try await eventually(timeout: .seconds(30), "listening on \(port)") {
                    (try? await HTTP.get("http://127.0.0.1:\(port)/health", timeout: 1))?.status == 200
                }
                return try await body(captured)
            }
            // The first to finish is the body (or the service failing): the other is stopped.
            defer { group.cancelAll() }
            while let result = try await group.next() {
                if let result { return result }
                throw ConfigError("HTTP_PORT", "the service stopped while the test was running")
            }
            throw CancellationError()
        }
    }

    /// A connection of the test's own to this nats-server, as the admin user.
    public func natsClient(name: String = "test-client") async throws -> NATSClient {
        try await NATSClient.connect(.admin(url: nats.url, name: name), logger: TestEnvironment.logger)
    }
}
