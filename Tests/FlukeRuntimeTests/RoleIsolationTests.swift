import FlukePostgres
import FlukeRuntime
import FlukeTestSupport
import Foundation
import Testing

/// deploy/postgres/init.sql as the services meet it: each logs in as a role that cannot become
/// its schema's owner, cannot change the schema, and cannot reach another service's schema.
@Suite("Postgres roles (deploy/postgres/init.sql)", .needsPostgresAndNATS)
struct RoleIsolationTests {
    static let schemas = ["pm", "context", "webhooks", "deploy", "logs", "federation"]

    static func expectRefused(_ client: PostgresClient, _ sql: PostgresQuery, _ what: String) async {
        do {
            try await client.query(sql)
            Issue.record("\(what) was allowed")
        } catch let error as PostgresError {
            #expect(error.sqlState == "42501", "\(what): \(error)")   // insufficient_privilege
        } catch {
            Issue.record("\(what): \(error)")
        }
    }

    @Test("no service role can SET ROLE to its owner, change its schema, or touch another schema; the owner can migrate")
    func servicesCannotBecomeOwners() async throws {
        let database = try await TestDatabase.create()
        for schema in Self.schemas {
            let migrator = PostgresMigrator(schema: schema, migrations: [
                PostgresMigration("0001", "CREATE TABLE \(schema).things (id int PRIMARY KEY)"),
            ])
            try await database.migrate(migrator)
            let service = PostgresClient(configuration: .init(url: database.url(role: "fluke_" + schema),
                                                              applicationName: "isolation", maxConnections: 1),
                                         logger: TestEnvironment.logger)
            // What it is for works: reading and writing its own tables.
            try await service.query("INSERT INTO \(identifier: schema).things VALUES (1)")
            #expect(try await service.query("SELECT count(*) FROM \(identifier: schema).things").first?.decode(Int.self, at: 0) == 1)
            #expect(try await migrator.pending(service).isEmpty)

            await Self.expectRefused(service, "SET ROLE \(identifier: migrator.ownerRole)", "fluke_\(schema): SET ROLE owner")
            await Self.expectRefused(service, "CREATE TABLE \(identifier: schema).evil (id int)", "fluke_\(schema): CREATE TABLE")
            await Self.expectRefused(service, "ALTER TABLE \(identifier: schema).things DISABLE ROW LEVEL SECURITY",
                                     "fluke_\(schema): ALTER TABLE")
            await Self.expectRefused(service, "DROP TABLE \(identifier: schema).things", "fluke_\(schema): DROP TABLE")
            let other = Self.schemas.first { $0 != schema }!
            await Self.expectRefused(service, "CREATE TABLE \(identifier: other).evil (id int)", "fluke_\(schema) in \(other)")
            let member = try await service.query(
                "SELECT pg_has_role(current_user, \(migrator.ownerRole), 'MEMBER')").first?.decode(Bool.self, at: 0)
            #expect(member == false)
            await service.shutdown()
        }
    }

    @Test("a service refuses to start on a schema that lacks migrations, naming `<service> migrate`")
    func startRequiresMigrations() async throws {
        let database = try await TestDatabase.create()
        let reader = ConfigReader(environment: [
            "DATABASE_URL": database.url(role: "fluke_logs"), "NATS_URL": TestEnvironment.natsURL, "HTTP_PORT": "0",
            "STARTUP_ATTEMPTS": "1",
        ].merging(TestEnvironment.natsUser("admin")) { _, b in b }, variables: FleetConfig.variables(defaultPort: 0))
        let migrator = PostgresMigrator(schema: "logs", migrations: [PostgresMigration("0001", "CREATE TABLE logs.x (id int)")])
        do {
            _ = try await FleetRuntime.start(config: try FleetConfig(serviceName: "log-streamer", reader: reader),
                                             migrator: migrator, logger: TestEnvironment.logger)
            Issue.record("started without its migrations")
        } catch let error as ConfigError {
            #expect(error.variable == "DATABASE_URL")
            #expect(error.description.contains("log-streamer migrate") && error.description.contains("0001"))
        }
        // Its own role cannot apply them either: only the owner can.
        let service = PostgresClient(configuration: .init(url: database.url(role: "fluke_logs"), applicationName: "m",
                                                          maxConnections: 1), logger: TestEnvironment.logger)
        await #expect(throws: PostgresError.self) { try await migrator.migrate(service, logger: TestEnvironment.logger) }
        await service.shutdown()
        try await database.migrate(migrator)
        let runtime = try await FleetRuntime.start(config: try FleetConfig(serviceName: "log-streamer", reader: reader),
                                                   migrator: migrator, logger: TestEnvironment.logger)
        await runtime.nats.shutdown()
        await runtime.postgres.shutdown()
    }
}
