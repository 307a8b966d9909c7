import FlukeNATS
import FlukePostgres
import FlukeRuntime
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Receives heartbeats (queue group `federation`, so replicas share them), keeps the newest per
/// instance in memory, and writes them to Postgres in batches.
///
/// Batching is what makes tens of thousands of heartbeats a second cheap: Postgres sees one
/// upsert per instance per flush, not one per message. A heartbeat for a project this process
/// does not know to be ONLINE is flushed at once, so coming online is never delayed.
final class HeartbeatProcessor: Service, Sendable {
    static let queueGroup = "federation"

    let nats: NATSClient
    let repository: StatusStore
    let catalog: CatalogStore
    let view: LiveStatusView
    let metrics: FederationMetrics
    let flushInterval: Duration
    let logger: Logger
    private let pending = Mutex<[InstanceKey: HeartbeatRecord]>([:])
    private let knownOnline = Mutex<Set<String>>([])
    private let flushNow = WakeSignal()
    private let subscription = Mutex<NATSHandlerSubscription?>(nil)

    init(nats: NATSClient, repository: StatusStore, catalog: CatalogStore, view: LiveStatusView,
         metrics: FederationMetrics, flushInterval: Duration, logger: Logger) {
        self.nats = nats
        self.repository = repository
        self.catalog = catalog
        self.view = view
        self.metrics = metrics
        self.flushInterval = flushInterval
        self.logger = logger
    }

    /// Subscribes to heartbeats and waits until nats-server has the subscription: called while
    /// the application is built, so that heartbeats sent once it serves are never missed.
    func listen() async throws {
        guard subscription.withLock({ $0 == nil }) else { return }
        // Parsing and recording are CPU-only, so they run right on libnats' delivery thread:
        // no copy and no hop per heartbeat. Postgres is reached only from the flush loop.
        let subscribed = try nats.subscribe(HeartbeatParser.subscription, queue: Self.queueGroup) {
            [self] message in
            handle(subject: message.subject, payload: message.payload, receivedAt: Date())
        }
        subscription.withLock { $0 = subscribed }
        try await nats.flush()
    }

    func run() async throws {
        try await listen()
        let subscription = self.subscription.withLock { $0! }
        await withGracefulShutdownHandler {
            await flushLoop()
        } onGracefulShutdown: { [flushNow] in
            subscription.cancel()
            flushNow.finish()
        }
        await subscription.finished()
        await flushLogged()
    }

    /// Validates and records one heartbeat. Never throws: bad input is counted and dropped.
    func handle(subject: UnsafeBufferPointer<UInt8>, payload: UnsafeRawBufferPointer, receivedAt: Date) {
        metrics.received.increment()
        switch HeartbeatParser.parse(subject: subject, payload: payload, receivedAt: receivedAt,
                                     isKnown: catalog.contains) {
        case .failure(let reason):
            metrics.rejected(reason).increment()
            logger.debug("heartbeat rejected", metadata: ["reason": "\(reason.rawValue)", "subject": "\(subject)"])
        case .success(let record):
            let lag = receivedAt.timeIntervalSince(record.sentAt)
            metrics.latency.recordNanoseconds(Int64(max(0, lag) * 1e9))
            accept(record)
        }
    }

    /// Queues an accepted heartbeat for the next flush (newest per instance).
    func accept(_ record: HeartbeatRecord) {
        pending.withLock { $0[InstanceKey(slug: record.slug, instance: record.instanceID)] = record }
        if !knownOnline.withLock({ $0.contains(record.slug) }) { flushNow.signal() }
    }

    private func flushLoop() async {
        while !flushNow.isFinished {
            await flushNow.wait(timeout: flushInterval)
            await flushLogged()
        }
    }

    private func flushLogged() async {
        do {
            try await flush()
        } catch {
            logger.warning("could not store heartbeats; will retry", metadata: ["error": "\(error)"])
        }
    }

    /// Writes what arrived since the last flush.
    ///
    /// When Postgres is unreachable every record goes back (newest kept) for the next flush. When
    /// Postgres refuses the batch itself, one bad record would fail it on every flush and no
    /// heartbeat would be stored again: the records are then written one by one, and a record
    /// refused on two flushes is dropped and counted (`federation_heartbeats_dropped_total`).
    func flush() async throws {
        let batch = pending.withLock { principal -> [HeartbeatRecord] in
            defer { principal.removeAll(keepingCapacity: true) }
            return Array(principal.values)
        }
        guard !batch.isEmpty else { return }
        do {
            try await store(batch)
        } catch let error as PostgresError where Self.isRefusal(error) && batch.count == 1 {
            refused(batch[0], error)
        } catch let error as PostgresError where Self.isRefusal(error) {
            for record in batch {
                do {
                    try await store([record])
                } catch let error as PostgresError where Self.isRefusal(error) {
                    refused(record, error)
                } catch {
                    putBack([record])
                    throw error
                }
            }
        } catch {
            putBack(batch)
            throw error
        }
    }

    private func store(_ batch: [HeartbeatRecord]) async throws {
        let changed = try await repository.recordHeartbeats(batch)
        for _ in changed { metrics.transitions(to: .online).increment() }
        if !changed.isEmpty {
            logger.info("projects online", metadata: ["slugs": "\(changed.joined(separator: ","))"])
        }
        view.refreshSoon()
        knownOnline.withLock { $0.formUnion(batch.map(\.slug)) }
    }

    /// Postgres answered and said no to the data (not an outage or a busy pool).
    static func isRefusal(_ error: PostgresError) -> Bool {
        (error.code == .queryFailed || error.code == .invalidParameter) && !error.isConnectionFailure
    }

    private func refused(_ record: HeartbeatRecord, _ error: PostgresError) {
        var record = record
        record.refusedFlushes += 1
        guard record.refusedFlushes < 2 else {
            metrics.dropped.increment()
            logger.warning("heartbeat dropped: refused by Postgres twice", metadata: [
                "slug": "\(record.slug)", "instance_id": "\(record.instanceID)", "error": "\(error)"])
            return
        }
        putBack([record])
    }

    /// Returns records to the queue unless a newer heartbeat of the same instance arrived meanwhile.
    private func putBack(_ records: [HeartbeatRecord]) {
        pending.withLock { principal in
            for record in records {
                let key = InstanceKey(slug: record.slug, instance: record.instanceID)
                if principal[key] == nil { principal[key] = record }
            }
        }
    }

    /// The stale checker marked these OFFLINE: their next heartbeat must be flushed at once.
    func forget(_ slugs: [String]) {
        knownOnline.withLock { $0.subtract(slugs) }
    }
}

/// One running instance of one project: the unit heartbeats are deduplicated on between flushes.
struct InstanceKey: Hashable {
    var slug: String
    var instance: String
}

/// Marks silent projects OFFLINE every `FEDERATION_CHECK_INTERVAL`. With several replicas, an
/// advisory lock lets one check at a time.
struct StaleChecker: Service {
    let repository: StatusStore
    let processor: HeartbeatProcessor
    let view: LiveStatusView
    let metrics: FederationMetrics
    let ttl: Duration
    let interval: Duration
    let logger: Logger

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            await check()
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }

    func check() async {
        let start = ContinuousClock.now
        do {
            let cutoff = Date().addingTimeInterval(-ttl.secondsValue)
            if let changed = try await repository.markStale(silentSince: cutoff) {
                metrics.staleRuns.increment()
                metrics.staleDuration.recordNanoseconds((ContinuousClock.now - start).nanosecondsValue)
                if !changed.isEmpty {
                    processor.forget(changed)
                    view.refreshSoon()
                    for _ in changed { metrics.transitions(to: .offline).increment() }
                    logger.info("projects offline", metadata: ["slugs": "\(changed.joined(separator: ","))"])
                }
            }
            let stats = try await repository.stats()
            for status in ProjectStatus.allCases {
                metrics.projects(status).set(Double(stats.byStatus[status.rawValue] ?? 0))
            }
        } catch {
            logger.warning("stale check failed; will retry", metadata: ["error": "\(error)"])
        }
    }
}
