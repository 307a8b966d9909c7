import FlukeModels
import FlukeNATS
import FlukePostgres
import FlukeRuntime
import FlukeTestSupport
import Foundation
import Testing

/// FLUKE_EVENTS on a 3-node JetStream cluster, as the prod overlay runs it: created with three
/// replicas by the fleet's own startup code, and an outbox burst that loses a node midway loses
/// and duplicates no event. Deadlines are generous and polled: the machine may be loaded.
@Suite("NATS cluster")
struct NATSClusterTests {
    static let burst = 3_000

    /// A runtime whose outbox is `database`'s `logs.outbox`, connected as the federation service
    /// (its NATS user may publish `fluke.events.federation.>` and manage FLUKE_EVENTS) to every node.
    static func runtime(_ database: TestDatabase, natsURL: String, replicas: Int) async throws -> FleetRuntime {
        let reader = ConfigReader(environment: [
            "DATABASE_URL": database.url(role: "fluke_logs"), "NATS_URL": natsURL, "HTTP_PORT": "0",
            "FLUKE_EVENTS_REPLICAS": String(replicas), "STARTUP_ATTEMPTS": "60",
        ].merging(TestEnvironment.natsUser("federation")) { _, b in b }, variables: FleetConfig.variables(defaultPort: 0))
        return try await FleetRuntime.start(
            config: try FleetConfig(serviceName: "federation", reader: reader),
            migrator: try await database.migrated(PostgresMigrator(schema: "logs", migrations: [PostgresMigration("0001", """
                CREATE TABLE logs.outbox (seq bigserial PRIMARY KEY, event_id uuid NOT NULL UNIQUE,
                    subject text NOT NULL, payload text NOT NULL, created_at timestamptz NOT NULL DEFAULT now(),
                    published_at timestamptz);
                """)])),
            logger: TestEnvironment.logger)
    }

    static func unpublished(_ runtime: FleetRuntime) async throws -> Int {
        try await runtime.postgres.query("SELECT count(*) FROM logs.outbox WHERE published_at IS NULL")
            .first?.decode(Int.self, at: 0) ?? -1
    }

    @Test("FLUKE_EVENTS_REPLICAS above what nats-server can place stops startup, naming the setting")
    func replicasOnSingleServer() async throws {
        let server = try NATSServer()
        let database = try await TestDatabase.create()
        do {
            let runtime = try await Self.runtime(database, natsURL: server.url, replicas: 3)
            await runtime.nats.shutdown()
            await runtime.postgres.shutdown()
            Issue.record("started with FLUKE_EVENTS_REPLICAS=3 on a single nats-server")
        } catch let error as ConfigError {
            #expect(error.variable == "FLUKE_EVENTS_REPLICAS")
        }
    }

    @Test("FLUKE_EVENTS with 3 replicas: a node killed in the middle of an outbox burst loses and duplicates no event")
    func burstSurvivesNodeLoss() async throws {
        let cluster = try NATSCluster(size: 3)
        defer { cluster.stop() }
        let admin = try await NATSClient.connect(.admin(url: cluster.url, name: "test-cluster-admin"),
                                                 logger: TestEnvironment.logger, attempts: 60)
        // The cluster is up once its JetStream API answers (a meta leader elected): "no such stream".
        try await eventually(timeout: .seconds(90), "JetStream cluster ready") {
            do {
                _ = try await admin.streamInfo(EventType.streamName)
                return false
            } catch let error as NATSError {
                return error.jetStreamCode == 10059  // JSStreamNotFoundErr
            }
        }

        // What every service does at startup creates the stream, with FLUKE_EVENTS_REPLICAS copies.
        let database = try await TestDatabase.create()
        let runtime = try await Self.runtime(database, natsURL: cluster.url, replicas: 3)
        let created = try await admin.streamInfo(EventType.streamName)
        #expect(created.replicas == 3)
        try await eventually(timeout: .seconds(60), "three current copies") {
            let info = try await admin.streamInfo(EventType.streamName)
            return info.leader != nil && info.followers.count == 2 && info.followers.allSatisfy(\.current)
        }

        let relay = runtime.relay
        let relayTask = Task { try await relay.run() }
        // The burst: transactions of 30 events, enqueued while the relay publishes.
        let ids = (0..<Self.burst).map { _ in UUID() }
        let writer = Task {
            for chunk in stride(from: 0, to: ids.count, by: 30) {
                let slice = ids[chunk..<min(chunk + 30, ids.count)]
                try await runtime.postgres.withTransaction { tx in
                    for (offset, id) in slice.enumerated() {
                        let event = CloudEvent(id: id, source: "federation", type: "federation.test.burst",
                                               data: .object(["n": .number(Double(chunk + offset))]))
                        try await runtime.outbox.enqueue(event, on: tx)
                    }
                }
                runtime.outbox.notifyCommitted()
                try await Task.sleep(for: .milliseconds(10))
            }
        }

        // Midway (a third published), the node leading the stream dies: its in-flight publishes go
        // unacknowledged and the relay retries them elsewhere with the same Nats-Msg-Id.
        try await eventually(timeout: .seconds(180), "a third of the burst published") {
            try await runtime.postgres.query("SELECT count(*) FROM logs.outbox WHERE published_at IS NOT NULL")
                .first?.decode(Int.self, at: 0) ?? 0 >= Self.burst / 3
        }
        let leader = try #require(try await admin.streamInfo(EventType.streamName).leader)
        try cluster.kill(leader)
        let publishedAtKill = try await runtime.postgres.query(
            "SELECT count(*) FROM logs.outbox WHERE published_at IS NOT NULL").first?.decode(Int.self, at: 0) ?? 0
        #expect(publishedAtKill < Self.burst, "the node must die in the middle of the burst")

        try await writer.value
        try await eventually(timeout: .seconds(300), "outbox drained after the node loss") {
            try await Self.unpublished(runtime) == 0
        }
        relayTask.cancel()

        // The stream, as the surviving nodes hold it: exactly the burst, each event once.
        try await eventually(timeout: .seconds(60), "stream holds the burst") {
            try await admin.streamInfo(EventType.streamName).messages >= UInt64(Self.burst)
        }
        let info = try await admin.streamInfo(EventType.streamName)
        #expect(info.messages == UInt64(Self.burst))
        #expect(info.replicas == 3)

        let consumer = admin.pullConsumer(stream: EventType.streamName, durable: "test_cluster_reader",
                                          filterSubject: "fluke.events.federation.test.burst")
        var seen: [String: Int] = [:]
        let decoder = CloudEvent.decoder()
        let deadline = ContinuousClock.now + .seconds(180)
        var quietSince = ContinuousClock.now
        // Until every event came and then 3 s without anything more (a duplicate would show there).
        // Creating the consumer and fetching may fail for a while after the loss (the cluster may
        // be electing a new meta leader): the consumer makes its subscription again on the next
        // fetch, as the fleet's consumers do.
        while ContinuousClock.now < deadline {
            let messages: [JetStreamMessage]
            do {
                messages = try await consumer.fetch(batch: 500, timeout: .seconds(1))
            } catch {
                try await Task.sleep(for: .milliseconds(500))
                continue
            }
            if messages.isEmpty {
                if seen.count >= Self.burst && ContinuousClock.now - quietSince > .seconds(3) { break }
                continue
            }
            quietSince = .now
            for m in messages {
                seen[try decoder.decode(CloudEvent.self, from: m.message.payload).id, default: 0] += 1
                try await m.ack()
            }
        }
        let duplicated = seen.filter { $0.value > 1 }
        let expected = Set(ids.map { $0.uuidString.lowercased() })
        let missing = expected.subtracting(seen.keys)
        #expect(seen.values.reduce(0, +) == Self.burst)
        #expect(duplicated.isEmpty, "duplicated: \(duplicated.count)")
        #expect(missing.isEmpty, "missing: \(missing.count)")
        #expect(Set(seen.keys) == expected)

        // A replica with a lower setting (the default, a stale pod in a rollout) never scales the
        // stream down.
        let stale = try FleetConfig(serviceName: "federation", reader: ConfigReader(environment: [
            "DATABASE_URL": database.url(role: "fluke_logs"), "NATS_URL": cluster.url, "FLUKE_EVENTS_REPLICAS": "1",
        ].merging(TestEnvironment.natsUser("federation")) { _, b in b }, variables: FleetConfig.variables(defaultPort: 0)))
        try await FleetRuntime.ensureEventStream(runtime.nats, config: stale, logger: TestEnvironment.logger)
        #expect(try await admin.streamInfo(EventType.streamName).replicas == 3)

        await runtime.nats.shutdown()
        await runtime.postgres.shutdown()
        await admin.shutdown()
    }
}
