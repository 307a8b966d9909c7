import FlukeRuntime
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// An in-memory read model of every project's live status, so `GET /api/fed/projects/{slug}`
/// answers without a database round trip.
///
/// Postgres stays the truth: every refresh interval (the same bound as the heartbeat flush, so
/// the view is no staler than the data it mirrors), and at once after this process changes a
/// status, the view reloads the projects written since its last refresh (`changed_at`), looking
/// back two seconds so that a transaction committing late is not missed; a full reload runs at
/// startup and every ten minutes. Changes made by another replica appear within one interval.
/// History changes only with the status: a refresh brings it along for projects whose status
/// changed, and it is kept per project until `status_changed_at` moves again.
final class LiveStatusView: Service, Sendable {
    let repository: StatusStore
    let ttl: Duration
    let interval: Duration
    let logger: Logger
    private let snapshot = Mutex<[String: LiveStatus]>([:])
    private let histories = Mutex<[String: (changedAt: Date?, changes: [StatusChange])]>([:])
    private let wake = WakeSignal()
    private let lastRefresh = Mutex<(incremental: Date?, full: ContinuousClock.Instant)>((nil, .now))
    /// Longer than any transaction that writes `federation.projects`.
    static let lookback: TimeInterval = 2

    init(repository: StatusStore, ttl: Duration, interval: Duration, logger: Logger) {
        self.repository = repository
        self.ttl = ttl
        self.interval = max(interval, .milliseconds(100))
        self.logger = logger
    }

    func run() async throws {
        await withGracefulShutdownHandler {
            while !wake.isFinished && !Task.isCancelled {
                await wake.wait(timeout: interval)
                do {
                    try await refresh()
                } catch {
                    // Keep serving the last snapshot; /ready already reports the outage.
                    logger.debug("read model refresh failed", metadata: ["error": "\(error)"])
                }
            }
        } onGracefulShutdown: { [wake] in
            wake.finish()
        }
    }

    /// Reloads what changed since the last refresh (everything the first time and every ten minutes).
    func refresh() async throws {
        let started = Date()
        let (previous, lastFull) = lastRefresh.withLock { ($0.incremental, $0.full) }
        let full = previous == nil || ContinuousClock.now - lastFull > .seconds(600)
        let since = full ? nil : previous!.addingTimeInterval(-Self.lookback)
        let changes = try await repository.liveStatuses(liveSince: started.addingTimeInterval(-ttl.secondsValue),
                                                        changedSince: since)
        snapshot.withLock { snapshot in
            if full { snapshot.removeAll(keepingCapacity: true) }
            for (slug, live) in changes { snapshot[slug] = live }
        }
        histories.withLock { histories in
            for (slug, live) in changes {
                if let live, let history = live.history { histories[slug] = (live.statusChangedAt, history) }
            }
        }
        lastRefresh.withLock { $0 = (started, full ? .now : $0.full) }
    }

    /// Asks for a reload soon (after this process changed a status).
    func refreshSoon() { wake.signal() }

    /// The live state of `slug`, instances filtered to those heard from within the TTL.
    func live(_ slug: String) -> LiveStatus? {
        guard var live = snapshot.withLock({ $0[slug] }) else { return nil }
        let since = Date().addingTimeInterval(-ttl.secondsValue)
        live.instances.removeAll { $0.lastHeartbeatAt < since }
        return live
    }

    /// The newest status changes of `slug`, from the cache while its status has not moved.
    func history(_ slug: String, changedAt: Date?, limit: Int) async throws -> [StatusChange] {
        if let cached = histories.withLock({ $0[slug] }), cached.changedAt == changedAt {
            return cached.changes
        }
        let changes = try await repository.history(slug, limit: limit)
        histories.withLock { $0[slug] = (changedAt, changes) }
        return changes
    }
}
