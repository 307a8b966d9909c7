import FlukePostgres
import FlukeRuntime
import FlukeTestSupport
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

/// A database that is slow or gone is the caller's reason to retry, not a server error: every
/// service answers 503 with `Retry-After`, and each connection carries the configured timeouts.
@Suite("Postgres timeouts and outages at the HTTP edge", .needsPostgresAndNATS)
struct DatabaseUnavailableTests {
    @Test("a statement past DATABASE_STATEMENT_TIMEOUT and an unreachable Postgres both get 503 with Retry-After, never 500")
    func unavailableIs503() async throws {
        let server = try PostgresServer()
        let database = TestDatabase.on(server)
        let migrator = try await database.migrated(PostgresMigrator(schema: "logs", migrations: [PostgresMigration("0001", """
            CREATE TABLE logs.outbox (seq bigserial PRIMARY KEY, event_id uuid NOT NULL UNIQUE, subject text NOT NULL,
                payload text NOT NULL, created_at timestamptz NOT NULL DEFAULT now(), published_at timestamptz);
            """)]))
        let reader = ConfigReader(environment: [
            "DATABASE_URL": database.url(role: "fluke_logs"), "NATS_URL": TestEnvironment.natsURL, "HTTP_PORT": "0",
            "DATABASE_STATEMENT_TIMEOUT": "0.3", "DATABASE_IDLE_IN_TRANSACTION_TIMEOUT": "0.5",
        ].merging(TestEnvironment.natsUser("admin")) { _, b in b }, variables: FleetConfig.variables(defaultPort: 0))
        let runtime = try await FleetRuntime.start(config: try FleetConfig(serviceName: "timeouts", reader: reader),
                                                   migrator: migrator, logger: TestEnvironment.logger)
        let postgres = runtime.postgres
        let app = FleetApplication.build(runtime: runtime, openAPI: "{}") { r in
            r.on(.get, "/sleep/{ms}") { _, context -> Response in
                let ms = Int(context.parameters.get("ms") ?? "0") ?? 0
                try await postgres.query("SELECT pg_sleep(\(Double(ms) / 1000))")
                return FleetApplication.jsonResponse("{}")
            }
            r.on(.get, "/settings") { _, _ -> Response in
                let row = try await postgres.query(
                    "SELECT current_setting('statement_timeout'), current_setting('idle_in_transaction_session_timeout')").first
                return FleetApplication.jsonResponse(#"{"statement":"\#(try row!.decode(String.self, at: 0))","idle":"\#(try row!.decode(String.self, at: 1))"}"#)
            }
        }
        try await app.test(.live) { client in
            let settings = try await client.execute(uri: "/settings", method: .get)
            #expect(String(buffer: settings.body) == #"{"statement":"300ms","idle":"500ms"}"#)

            #expect(try await client.execute(uri: "/sleep/10", method: .get).status == .ok)
            let slow = try await client.execute(uri: "/sleep/3000", method: .get)
            #expect(slow.status == .serviceUnavailable)
            #expect(slow.headers[.retryAfter] == "2")
            #expect(slow.headers[.contentType] == "application/problem+json")

            try server.stop()
            let gone = try await client.execute(uri: "/sleep/1", method: .get)
            #expect(gone.status == .serviceUnavailable, "\(String(buffer: gone.body))")
            #expect(gone.headers[.retryAfter] == "2")
            let ready = try await client.execute(uri: "/ready", method: .get)
            #expect(ready.status == .serviceUnavailable)
        }
    }
}
