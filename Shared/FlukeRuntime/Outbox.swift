import FlukeModels
import FlukeNATS
import FlukePostgres
import Foundation
import Logging
import Prometheus
import ServiceLifecycle
import Synchronization

/// The transactional outbox of one service schema.
///
/// A service writes its change and its event in the same Postgres transaction
/// (``enqueue(_:on:)``); ``OutboxRelay`` later publishes the row to JetStream with
/// `Nats-Msg-Id` = the event id and marks it sent. A crash or NATS outage between commit and
/// publish therefore loses nothing, and a crash between publish and marking duplicates nothing
/// (JetStream drops the repeated id within its duplicate window).
///
/// Each service's migrations create `<schema>.outbox` (see `docs/adding-a-service.md`).
public struct Outbox: Sendable {
    public let schema: String
    let relay: OutboxRelay?

    public init(schema: String, relay: OutboxRelay? = nil) {
        precondition(PostgresIdentifier.isValid(schema))
        self.schema = schema
        self.relay = relay
    }

    /// Records `event` inside the caller's transaction.
    public func enqueue(_ event: CloudEvent, on tx: PostgresHandle) async throws {
        Self.enqueued?.set()
        let payload = String(decoding: try FleetJSON.encoder.encode(event), as: UTF8.self)
        try await tx.query("""
            INSERT INTO \(identifier: schema).outbox (event_id, subject, payload)
            VALUES (\(event.id)::uuid, \(event.subject), \(payload))
            """)
    }

    /// Records a message for any JetStream subject inside the caller's transaction (deploy-tracker's
    /// log entries on `fluke.logs.…`): published like events, with `Nats-Msg-Id` = `messageID`.
    public func enqueue(subject: String, messageID: UUID, payload: Data, on tx: PostgresHandle) async throws {
        Self.enqueued?.set()
        try await tx.query("""
            INSERT INTO \(identifier: schema).outbox (event_id, subject, payload)
            VALUES (\(messageID)::uuid, \(subject), \(String(decoding: payload, as: UTF8.self)))
            """)
    }

    /// One message of ``enqueue(batch:on:)``.
    public struct Message: Sendable {
        public var subject: String
        public var messageID: UUID
        public var payload: String

        public init(subject: String, messageID: UUID, payload: String) {
            self.subject = subject
            self.messageID = messageID
            self.payload = payload
        }
    }

    /// Records many messages inside the caller's transaction in one statement (log-streamer's
    /// batches of up to thousands of entries), in the array's order. A message whose id is already
    /// in the outbox (a client repeating a request) is skipped: it was, or will be, published once.
    /// Returns how many were recorded.
    @discardableResult
    public func enqueue(batch: [Message], on tx: PostgresHandle) async throws -> Int {
        guard !batch.isEmpty else { return 0 }
        Self.enqueued?.set()
        // WITH ORDINALITY keeps the array's order in `seq`, which is the order the relay publishes.
        return try await tx.query("""
            INSERT INTO \(identifier: schema).outbox (event_id, subject, payload)
            SELECT m.id::uuid, m.subject, m.payload
            FROM unnest(\(batch.map(\.messageID.uuidString))::text[], \(batch.map(\.subject))::text[],
                        \(batch.map(\.payload))::text[])
                 WITH ORDINALITY AS m(id, subject, payload, n)
            ORDER BY m.n
            ON CONFLICT (event_id) DO NOTHING
            """).affectedRows
    }

    /// Tells the relay to look now rather than at its next poll (call after commit).
    public func notifyCommitted() { relay?.wake() }

    /// Runs `body` (typically a whole transaction) and wakes the relay afterwards if `body`
    /// enqueued an event, so that reads never cost the relay a look.
    public func notifyingAfter<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        let flag = Flag()
        let value = try await Self.$enqueued.withValue(flag) { try await body() }
        if flag.isSet { notifyCommitted() }
        return value
    }

    @TaskLocal static var enqueued: Flag?

    final class Flag: Sendable {
        private let value = Atomic<Bool>(false)
        var isSet: Bool { value.load(ordering: .relaxed) }
        func set() { value.store(true, ordering: .relaxed) }
    }
}

/// Publishes outbox rows to JetStream, in commit order, one relay at a time per schema.
///
/// Replicas of a service each run a relay; a transaction-scoped advisory lock lets only one of
/// them publish at a time, which keeps the stream in commit order.
public final class OutboxRelay: Service, Sendable {
    let schema: String
    let postgres: PostgresClient
    let nats: NATSClient
    let logger: Logger
    let pollInterval: Duration
    let batchSize: Int
    private let signal = WakeSignal()
    private let published: Counter
    private let failures: Counter
    private let pending: Gauge

    public init(schema: String, postgres: PostgresClient, nats: NATSClient, registry: PrometheusCollectorRegistry,
                logger: Logger, pollInterval: Duration = .milliseconds(250), batchSize: Int = 200) {
        self.schema = schema
        self.postgres = postgres
        self.nats = nats
        self.logger = logger
        self.pollInterval = pollInterval
        self.batchSize = batchSize
        published = registry.makeCounter(name: "outbox_published_total", labels: [("schema", schema)])
        failures = registry.makeCounter(name: "outbox_publish_failures_total", labels: [("schema", schema)])
        pending = registry.makeGauge(name: "outbox_pending", labels: [("schema", schema)])
    }

    /// Wakes the relay now.
    public func wake() { signal.signal() }

    public func run() async throws {
        await withGracefulShutdownHandler {
            var lastPrune = ContinuousClock.now
            while !signal.isFinished && !Task.isCancelled {
                await drainLogged()
                if ContinuousClock.now - lastPrune > .seconds(600) {
                    lastPrune = .now
                    // Published rows are only kept for inspection; a day is plenty.
                    try? await prune()
                }
                await signal.wait(timeout: pollInterval)
            }
        } onGracefulShutdown: { [signal] in
            signal.finish()
        }
        // Whatever committed before shutdown goes out now, while NATS is still open.
        await drainLogged()
    }

    private func drainLogged() async {
        do {
            try await drain()
        } catch {
            failures.increment()
            logger.warning("outbox relay could not publish; will retry", metadata: [
                "schema": "\(schema)", "error": "\(error)"])
        }
    }

    /// Publishes everything pending now. Returns the number of events published.
    @discardableResult
    public func drain() async throws -> Int {
        var total = 0
        while true {
            let n = try await publishBatch()
            total += n
            if n < batchSize { break }
        }
        return total
    }

    private func publishBatch() async throws -> Int {
        guard nats.state == .connected else {
            throw NATSError(status: 0, message: "NATS is not connected")
        }
        let (count, remaining) = try await postgres.withTransaction { tx -> (Int, Int?) in
            let lock = try await tx.query("SELECT pg_try_advisory_xact_lock(hashtext(\("fluke.outbox." + schema)))")
            // Another replica is publishing: it knows the backlog, this one does not.
            guard try lock.first?.decode(Bool.self, at: 0) == true else { return (0, nil) }
            let rows = try await tx.query("""
                SELECT seq, event_id, subject, payload FROM \(identifier: schema).outbox
                WHERE published_at IS NULL ORDER BY seq LIMIT \(batchSize)
                """)
            var sent: [String] = []
            var firstError: (any Error)?
            for row in rows {
                do {
                    let payload = Data(try row.decode(String.self, "payload").utf8)
                    try await nats.jetStreamPublish(try row.decode(String.self, "subject"), payload: payload,
                                                    messageID: try row.decode(String.self, "event_id"),
                                                    timeout: .seconds(2))
                    sent.append(try row.decode(String.self, "seq"))
                } catch {
                    // Stop at the first failure so that the stream keeps commit order.
                    firstError = error
                    break
                }
            }
            if !sent.isEmpty {
                try await tx.query("""
                    UPDATE \(identifier: schema).outbox SET published_at = now() WHERE seq = ANY(\(sent)::bigint[])
                    """)
            }
            // Counted after the UPDATE above in the same transaction, so the rows just sent are
            // already excluded.
            let left = try await tx.query("""
                SELECT count(*) FROM \(identifier: schema).outbox WHERE published_at IS NULL
                """).first?.decode(Int.self, at: 0) ?? 0
            if let firstError, sent.isEmpty { throw firstError }
            return (sent.count, left)
        }
        published.increment(by: Int64(count))
        if let remaining { pending.set(Double(remaining)) }
        return count
    }

    /// Deletes rows published more than `age` ago.
    public func prune(olderThan age: Duration = .seconds(86_400)) async throws {
        let cutoff = Date().addingTimeInterval(-age.secondsValue)
        try await postgres.query("""
            DELETE FROM \(identifier: schema).outbox WHERE published_at IS NOT NULL AND published_at < \(cutoff)
            """)
    }
}
