import FlukeModels
import FlukeNATS
import FlukePostgres
import FlukeRuntime
import FlukeTestSupport
import Foundation
import Testing

@Suite("transactional outbox", .needsPostgresAndNATS)
struct OutboxTests {
    /// A runtime on `database`'s `logs` schema, which holds just an outbox.
    static func runtime(_ database: TestDatabase, natsURL: String) async throws -> FleetRuntime {
        let reader = ConfigReader(environment: [
            "DATABASE_URL": database.url(role: "fluke_logs"), "NATS_URL": natsURL, "HTTP_PORT": "0",
        ].merging(TestEnvironment.natsUser("admin")) { _, b in b }, variables: FleetConfig.variables(defaultPort: 0))
        return try await FleetRuntime.start(
            config: try FleetConfig(serviceName: "outbox-test", reader: reader),
            migrator: try await database.migrated(PostgresMigrator(schema: "logs", migrations: [PostgresMigration("0001", """
                CREATE TABLE logs.outbox (seq bigserial PRIMARY KEY, event_id uuid NOT NULL UNIQUE,
                    subject text NOT NULL, payload text NOT NULL, created_at timestamptz NOT NULL DEFAULT now(),
                    published_at timestamptz);
                """)])),
            logger: TestEnvironment.logger)
    }

    @Test("an event committed while NATS is down is published once NATS returns, exactly once")
    func publishesAfterOutage() async throws {
        let server = try NATSServer()
        let database = try await TestDatabase.create()
        let runtime = try await Self.runtime(database, natsURL: server.url)
        let relay = runtime.relay
        let relayTask = Task { try await relay.run() }

        try server.stop()
        try await eventually { runtime.nats.state != .connected }
        let event = CloudEvent(source: "outbox-test", type: "test.happened", tenantID: "t-1", projectID: "p-1",
                               data: .object(["n": .number(1)]))
        try await runtime.postgres.withTransaction { tx in try await runtime.outbox.enqueue(event, on: tx) }
        runtime.outbox.notifyCommitted()
        try await Task.sleep(for: .milliseconds(500))
        let pending = try await runtime.postgres.query("SELECT count(*) FROM logs.outbox WHERE published_at IS NULL")
        #expect(try pending.first?.decode(Int.self, at: 0) == 1)

        try server.start()
        try await eventually(timeout: .seconds(10), "outbox drained") {
            try await runtime.postgres.query("SELECT count(*) FROM logs.outbox WHERE published_at IS NULL")
                .first?.decode(Int.self, at: 0) == 0
        }
        // Publishing the same row again (a crash between publish and marking) is dropped by JetStream.
        let duplicate = try await runtime.nats.jetStreamPublish(event.subject, payload: try CloudEvent.encoder().encode(event),
                                                                messageID: event.id)
        #expect(duplicate.duplicate)

        let collector = try await EventCollector(natsURL: server.url, filter: "fluke.events.test.>")
        let events = try await collector.collect(count: 2, window: .seconds(2))
        // One copy, the one committed (times travel at millisecond precision).
        #expect(events.map(\.id) == [event.id])
        let received = try #require(events.first)
        #expect(received.type == "test.happened" && received.source == "outbox-test")
        #expect(received.tenantid == "t-1" && received.projectid == "p-1")
        #expect(received.data == event.data)
        #expect(abs(received.time.timeIntervalSince(event.time)) < 0.001)
        await collector.close()
        relayTask.cancel()
        await runtime.nats.shutdown()
        await runtime.postgres.shutdown()
    }

    @Test("outbox_pending is the number of rows still unpublished when a batch stops at a failed publish")
    func pendingGauge() async throws {
        let database = try await TestDatabase.create()
        let runtime = try await Self.runtime(database, natsURL: TestEnvironment.natsURL)
        func enqueue(_ count: Int) async throws {
            for n in 0..<count {
                let event = CloudEvent(source: "outbox-test", type: "test.pending", data: .object(["n": .number(Double(n))]))
                try await runtime.postgres.withTransaction { tx in try await runtime.outbox.enqueue(event, on: tx) }
            }
        }
        try await enqueue(3)
        // No stream takes this subject, so its publish fails and the batch stops there.
        try await runtime.postgres.query("""
            INSERT INTO logs.outbox (event_id, subject, payload)
            VALUES (\(UUID().uuidString)::uuid, 'outbox.test.nowhere', '{}')
            """)
        try await enqueue(3)

        #expect(try await runtime.relay.drain() == 3)
        let unpublished = try await runtime.postgres.query(
            "SELECT count(*) FROM logs.outbox WHERE published_at IS NULL").first?.decode(Int.self, at: 0)
        #expect(unpublished == 4)
        var text: [UInt8] = []
        runtime.registry.emit(into: &text)
        let line = String(decoding: text, as: UTF8.self).split(separator: "\n")
            .first { $0.hasPrefix("outbox_pending{") }
        #expect(line.flatMap { $0.split(separator: " ").last }.flatMap { Double($0) } == 4)
        await runtime.nats.shutdown()
        await runtime.postgres.shutdown()
    }
}
