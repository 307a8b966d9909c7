import FlukePostgres
import FlukeRuntime
import FlukeTestSupport
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@Suite("/ready and NATS credentials", .needsPostgresAndNATS)
struct NATSReadinessTests {
    @Test("when nats-server stops accepting a service's password, /ready says so: 503 naming the Authorization Violation")
    func readyNamesAuthFailure() async throws {
        let server = try NATSServer()
        let database = try await TestDatabase.create()
        let migrator = try await database.migrated(PostgresMigrator(schema: "logs", migrations: [PostgresMigration("0001", """
            CREATE TABLE logs.outbox (seq bigserial PRIMARY KEY, event_id uuid NOT NULL UNIQUE, subject text NOT NULL,
                payload text NOT NULL, created_at timestamptz NOT NULL DEFAULT now(), published_at timestamptz);
            """)]))
        let reader = ConfigReader(environment: [
            "DATABASE_URL": database.url(role: "fluke_logs"), "NATS_URL": server.url, "HTTP_PORT": "0",
        ].merging(TestEnvironment.natsUser("log-streamer")) { _, b in b }, variables: FleetConfig.variables(defaultPort: 0))
        let runtime = try await FleetRuntime.start(config: try FleetConfig(serviceName: "log-streamer", reader: reader),
                                                   migrator: migrator, logger: TestEnvironment.logger)
        let app = FleetApplication.build(runtime: runtime, openAPI: "{}") { _ in }
        try await app.test(.live) { client in
            #expect(try await client.execute(uri: "/ready", method: .get).status == .ok)
            // The password is rotated on the server but not in the service.
            try server.stop()
            try server.start(passwords: ["FLUKE_NATS_LOGS_PASSWORD": "rotated-elsewhere"])
            try await eventually(timeout: .seconds(20), "/ready naming the authorization failure") {
                let ready = try await client.execute(uri: "/ready", method: .get)
                return ready.status == .serviceUnavailable
                    && String(buffer: ready.body).lowercased().contains("authorization violation")
            }
            // libnats 3.4.1 gives up on a server that refuses the same credentials twice in a row:
            // the connection is then closed, and only a restart with the right password recovers.
        }
    }
}
