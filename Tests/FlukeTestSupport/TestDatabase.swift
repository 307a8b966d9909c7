import FlukePostgres
import Foundation
import Logging

/// A fresh database per test, set up with deploy/postgres/init.sql exactly as production is, so
/// tests run in parallel without seeing each other and connect as the services' own roles.
public struct TestDatabase: Sendable {
    public let name: String
    let admin: String

    public static func create() async throws -> TestDatabase {
        let name = "t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16)
        let admin = TestEnvironment.adminDatabaseURL
        let client = PostgresClient(configuration: .testClient(url: admin, applicationName: "tests"),
                                    logger: TestEnvironment.logger)
        try await client.query("CREATE DATABASE \(identifier: String(name))")
        await client.shutdown()
        let db = TestDatabase(name: String(name), admin: admin)
        let init_ = try String(contentsOf: TestEnvironment.repositoryRoot.appendingPathComponent("deploy/postgres/init.sql"),
                               encoding: .utf8)
        let setup = PostgresClient(configuration: .testClient(url: db.adminURL, applicationName: "tests"),
                                   logger: TestEnvironment.logger)
        try await setup.withConnection { try await $0.executeScript(init_) }
        await setup.shutdown()
        return db
    }

    /// The `fluke` database of a private cluster, for tests that restart Postgres.
    public static func on(_ server: PostgresServer) -> TestDatabase {
        TestDatabase(name: "fluke", admin: server.adminURL)
    }

    /// Superuser URL of this database.
    public var adminURL: String { Self.replacingDatabase(admin, with: name, user: nil) }

    /// URL for a service role (`fluke_federation`, …); loopback trusts it.
    public func url(role: String) -> String { Self.replacingDatabase(admin, with: name, user: role) }

    static func replacingDatabase(_ url: String, with database: String, user: String?) -> String {
        var c = URLComponents(string: url)!
        c.path = "/" + database
        if let user { c.user = user }
        return c.string!
    }

    /// Applies migrations as each schema's owner, as `<service> migrate` does before a service
    /// starts (a service's own role cannot).
    public func migrate(_ migrators: PostgresMigrator...) async throws {
        for migrator in migrators {
            let client = PostgresClient(configuration: .testClient(url: url(role: migrator.ownerRole),
                                                                   applicationName: "migrate"), logger: TestEnvironment.logger)
            do {
                try await migrator.migrate(client, logger: TestEnvironment.logger)
                await client.shutdown()
            } catch {
                await client.shutdown()
                throw error
            }
        }
    }

    /// `migrator`, once applied.
    public func migrated(_ migrator: PostgresMigrator) async throws -> PostgresMigrator {
        try await migrate(migrator)
        return migrator
    }

    /// Lends `body` a client on this database as the superuser, closed afterwards.
    public func withAdminClient<T: Sendable>(_ body: (PostgresClient) async throws -> T) async throws -> T {
        let client = PostgresClient(configuration: .testClient(url: adminURL, applicationName: "tests", maxConnections: 2),
                                    logger: TestEnvironment.logger)
        do {
            let value = try await body(client)
            await client.shutdown()
            return value
        } catch {
            await client.shutdown()
            throw error
        }
    }
}

extension PostgresClient.Configuration {
    /// A test's own connections. Patient: several suites and builds share two cores, and a
    /// backend that takes over libpq's default 5 s to start must not fail the test.
    static func testClient(url: String, applicationName: String, maxConnections: Int = 1) -> Self {
        .init(url: url, applicationName: applicationName, maxConnections: maxConnections, acquireTimeout: .seconds(60),
              connectTimeoutSeconds: 30)
    }
}
