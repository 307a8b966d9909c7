import FlukeModels
import FlukeNATS
import FlukeRuntime
import Foundation
import Logging
import Prometheus
import ServiceLifecycle

/// Stores every entry on `FLUKE_LOGS`: the durable consumer `log_streamer` (shared by the
/// replicas, each fetching its own batches, four in flight, a partial one followed by a short wait
/// so that a trickle is stored in batches too), one insert per fetched batch,
/// acknowledged after it commits. A redelivery (a crash before the acknowledgement, or a producer repeating an entry)
/// stores nothing twice: entries are unique per tenant, id and timestamp.
///
/// A message that is no valid entry of the tenant its subject names is a dead letter at once
/// (`logs.dead_letters`); an entry older than the retention window is acknowledged and counted,
/// not stored (its day's partition is gone).
final class LogIntake: Service, Sendable {
    static let durable = "log_streamer"
    /// The wait before the next fetch after a partial batch. Entries that trickle in (5,000 a
    /// second come a few at a time) are stored in batches of hundreds rather than a statement
    /// and commit per handful, which cost Postgres three times the CPU per entry and took it
    /// from the live tails. Storage lags by at most this much more; tails do not wait.
    static let linger = Duration.milliseconds(100)
    let nats: NATSClient
    let store: LogStore
    let validator: LogEntryValidator
    let deadLetters: DeadLetters
    let batchSize: Int
    let stored: Counter
    let expired: Counter
    let logger: Logger

    init(nats: NATSClient, store: LogStore, validator: LogEntryValidator, deadLetters: DeadLetters, batchSize: Int,
         registry: PrometheusCollectorRegistry, logger: Logger) {
        self.nats = nats
        self.store = store
        self.validator = validator
        self.deadLetters = deadLetters
        self.batchSize = batchSize
        stored = registry.makeCounter(name: "logs_entries_stored_total", help: "log entries stored (redeliveries not counted)")
        expired = registry.makeCounter(name: "logs_entries_expired_total",
                                       help: "log entries from FLUKE_LOGS older than LOGS_RETENTION_DAYS, not stored")
        self.logger = logger
    }

    func run() async throws {
        let worker = JetStreamWorker(
            nats: nats,
            configuration: .init(durable: Self.durable, filterSubject: UnifiedLogEntry.subjectPrefix + ">",
                                 stream: UnifiedLogEntry.streamName, batchSize: batchSize,
                                 fetchTimeout: .milliseconds(200), maxAckPending: max(20_000, batchSize * 4),
                                 concurrentBatches: 4, linger: Self.linger),
            deadLetters: deadLetters, logger: logger,
            handleBatch: { [self] batch in await handle(batch) })
        try await worker.run()
    }

    func handle(_ batch: [JetStreamMessage]) async -> [JetStreamWorker.Outcome] {
        var outcomes = [JetStreamWorker.Outcome](repeating: .done, count: batch.count)
        var rows: [(index: Int, row: StoredEntry)] = []
        let now = Date()
        for (index, message) in batch.enumerated() {
            switch entry(message, now: now) {
            case .failure(let rejection): outcomes[index] = .reject(rejection)
            case .success(nil): expired.increment()
            case .success(let checked?): rows.append((index, StoredEntry(checked: checked, seq: Int64(message.streamSequence))))
            }
        }
        do {
            stored.increment(by: Int64(try await store.insert(rows.map(\.row))))
        } catch {
            // One entry Postgres refuses must not hold back the rest: each is tried alone, and the
            // one that keeps failing becomes a dead letter after its attempts.
            logger.warning("could not store a batch of log entries; storing them one by one",
                           metadata: ["entries": "\(rows.count)", "error": "\(error)"])
            for (index, row) in rows {
                do {
                    stored.increment(by: Int64(try await store.insert([row])))
                } catch {
                    outcomes[index] = .retry(reason: "\(error)")
                }
            }
        }
        return outcomes
    }

    /// The entry `message` carries, checked as the tenant its subject names
    /// (`fluke.logs.<tenant_id>.<app>`); `nil` when past retention.
    func entry(_ message: JetStreamMessage, now: Date) -> Result<CheckedEntry?, JetStreamRejection> {
        guard let tenant = Self.tenant(inSubject: message.message.subject.utf8) else {
            return .failure(JetStreamRejection(.malformed, "the subject names no tenant: fluke.logs.<tenant_id>.<app>"))
        }
        guard let raw = try? JSONValue(parsing: message.message.payload) else {
            return .failure(JetStreamRejection(.malformed, "not JSON"))
        }
        do {
            return .success(try validator.check(raw, index: 0, origin: .stream(tenant: tenant), now: now))
        } catch {
            return .failure(JetStreamRejection(.malformed, "not a UnifiedLogEntry: \(error)"))
        }
    }

    /// The tenant of `fluke.logs.<tenant_id>.<app>`: its third token. Split as bytes, once per
    /// entry on both the intake and the live tail.
    static func tenant(inSubject subject: some Collection<UInt8>) -> UUID? {
        let tokens = subject.split(separator: UInt8(ascii: "."), maxSplits: 3, omittingEmptySubsequences: false)
        guard tokens.count == 4 else { return nil }
        return UUID(text: String(decoding: tokens[2], as: UTF8.self))
    }
}
