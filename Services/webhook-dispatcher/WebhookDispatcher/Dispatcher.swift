import FlukeModels
import FlukePostgres
import FlukeRuntime
import Foundation
import Logging
import Prometheus
import ServiceLifecycle
import Synchronization

/// The delivery loop of one replica: claims due deliveries (woken by `NOTIFY`, or polling for
/// scheduled retries), sends them through per-subscription lanes, and records outcomes in
/// batches.
///
/// A lane sends its subscription's deliveries in claim order (event order for first
/// attempts), at most `WEBHOOK_SUBSCRIPTION_CONCURRENCY` at once and no faster than the
/// subscription's `rate_limit_per_second`.
final class Dispatcher: Service, Sendable {
    let queue: DeliveryQueue
    let sender: WebhookSender
    let store: SubscriptionStore
    let settings: DeliverySettings
    let listener: PostgresListener
    let metrics: WebhookMetrics
    let logger: Logger
    static let poll: Duration = .milliseconds(500)
    /// Outcomes recorded in one transaction at most.
    static let outcomeBatch = 1000

    struct Lane {
        var waiting: [DeliveryQueue.Claimed] = []
        var inFlight = 0
        var tokens: Double = 0
        var refilledAt: ContinuousClock.Instant = .now
        var rate: Int?
        /// Nothing to send or wait for, and no rate-limit tokens worth keeping.
        var isIdle: Bool { waiting.isEmpty && inFlight == 0 && rate == nil }
    }
    struct State {
        var lanes: [UUID: Lane] = [:]
        var inFlight = 0
        var waiting = 0
        /// Deliveries this replica holds: a claim that comes back while still held (its lease
        /// ran out while it waited) is not sent twice.
        var held: Set<UUID> = []
        var outcomes: [DeliveryQueue.Outcome] = []
        /// Subscriptions the intake says have new work, for the next claim.
        var hinted: Set<UUID> = []
        /// A notification named no subscription (or the listener reconnected): look everywhere.
        var discoverNow = false
    }
    private let state = Mutex(State())
    /// Opened signing keys by sealed secret.
    private let keys = Mutex<[String: [UInt8]]>([:])
    private let wake = WakeSignal()
    private let completed = WakeSignal()

    init(queue: DeliveryQueue, sender: WebhookSender, store: SubscriptionStore, settings: DeliverySettings,
         listener: PostgresListener, metrics: WebhookMetrics, logger: Logger) {
        self.queue = queue
        self.sender = sender
        self.store = store
        self.settings = settings
        self.listener = listener
        self.metrics = metrics
        self.logger = logger
    }

    func run() async throws {
        let listening = Task {
            for await notification in listener.notifications {
                state.withLock { s in
                    guard case .notification(_, let payload) = notification,
                          case let ids = payload.split(separator: ",").compactMap({ UUID(uuidString: String($0)) }), !ids.isEmpty
                    else { s.discoverNow = true; return }
                    s.hinted.formUnion(ids)
                }
                wake.signal()
            }
        }
        let recording = Task { await recordOutcomes() }
        await withTaskCancellationHandler {
            await cancelWhenGracefulShutdown { await self.loop() }
            // Shutdown: nothing new is claimed or started; what waits is handed back, what is in
            // flight finishes (bounded by the request timeout) and is recorded.
            let unsent = state.withLock { s -> [DeliveryQueue.Claimed] in
                let all = s.lanes.values.flatMap(\.waiting)
                for id in s.lanes.keys { s.lanes[id]!.waiting.removeAll() }
                s.waiting = 0
                for c in all { s.held.remove(c.id) }
                return all
            }
            try? await queue.release(unsent)
            while state.withLock({ $0.inFlight }) > 0, !Task.isCancelled { try? await Task.sleep(for: .milliseconds(20)) }
            completed.finish()
            await recording.value
            if !Task.isCancelled { try? await queue.releaseLanes() }
        } onCancel: {
            // SHUTDOWN_TIMEOUT ran out (the service group cancels): stop recording. Unrecorded
            // attempts keep their leases, which run out, and they are sent again, with the same
            // webhook-id; nothing is lost.
            recording.cancel()
        }
        listening.cancel()
    }

    private func loop() async {
        var discoveredAt = ContinuousClock.now - .seconds(3600)
        // Full discovery every poll, or less often when it is costly (many subscriptions with
        // pending retries): it takes at most a tenth of the time.
        var discoveryEvery = Self.poll
        while !Task.isCancelled {
            var claimedAll = false
            // Outcomes not yet recorded count too, beyond one batch's worth (the writer records
            // that much in one transaction): if Postgres records them slower than they come,
            // claiming stops until it catches up, so the backlog stays bounded and is recorded
            // well within the lease (and within SHUTDOWN_TIMEOUT) instead of growing until leases
            // run out and deliveries are sent twice.
            let room = state.withLock { s in
                settings.concurrency * 2 - s.inFlight - s.waiting - max(0, s.outcomes.count - Self.outcomeBatch)
            }
            if room > 0 {
                let (hinted, forced) = state.withLock { s in
                    defer { s.hinted.removeAll(); s.discoverNow = false }
                    return (s.hinted, s.discoverNow)
                }
                let began = ContinuousClock.now
                let discover = forced || began - discoveredAt >= discoveryEvery
                do {
                    let limit = min(room, 500)
                    let claims = try await queue.claim(limit: limit, budgets: budgets(), defaultBudget: laneCapacity(nil),
                                                       hinted: hinted, discover: discover)
                    if discover {
                        discoveredAt = .now
                        discoveryEvery = max(Self.poll, (discoveredAt - began) * 10)
                    }
                    accept(claims)
                    claimedAll = claims.count == limit
                } catch is CancellationError {
                    return
                } catch {
                    state.withLock { s in
                        s.hinted.formUnion(hinted)
                        s.discoverNow = s.discoverNow || forced
                    }
                    logger.warning("claiming deliveries failed; retrying", metadata: ["error": "\(error)"])
                }
            }
            let nextToken = start()
            if claimedAll { continue }
            await wake.wait(timeout: min(Self.poll, nextToken ?? Self.poll))
        }
    }

    /// How many deliveries a lane may hold (waiting or in flight): a few rounds of its
    /// concurrency, and no more than 10 s of its rate limit.
    func laneCapacity(_ rate: Int?) -> Int {
        min(settings.perSubscription * 4, rate.map { $0 * 10 } ?? Int.max)
    }

    private func budgets() -> [UUID: Int] {
        state.withLock { s in
            var out: [UUID: Int] = [:]
            for (id, lane) in s.lanes { out[id] = max(0, laneCapacity(lane.rate) - lane.waiting.count - lane.inFlight) }
            return out
        }
    }

    private func accept(_ claims: [DeliveryQueue.Claimed]) {
        guard !claims.isEmpty else { return }
        state.withLock { s in
            for c in claims where !s.held.contains(c.id) {
                s.held.insert(c.id)
                var lane = s.lanes[c.subscriptionID] ?? Lane(tokens: Double(c.rateLimit ?? 0))
                lane.rate = c.rateLimit
                lane.waiting.append(c)
                s.lanes[c.subscriptionID] = lane
                s.waiting += 1
            }
        }
    }

    /// Starts every delivery a lane may send now; returns when a rate-limited lane can next send.
    private func start() -> Duration? {
        let now = ContinuousClock.now
        var ready: [DeliveryQueue.Claimed] = []
        var nextToken: Duration?
        state.withLock { s in
            for id in Array(s.lanes.keys) {
                var lane = s.lanes[id]!
                if let rate = lane.rate {
                    lane.tokens = min(Double(rate), lane.tokens + (now - lane.refilledAt).secondsValue * Double(rate))
                    lane.refilledAt = now
                }
                while !lane.waiting.isEmpty, lane.inFlight < settings.perSubscription, s.inFlight < settings.concurrency {
                    if let rate = lane.rate {
                        guard lane.tokens >= 1 else {
                            let wait = Duration.milliseconds(Int64(((1 - lane.tokens) / Double(rate)) * 1000) + 1)
                            nextToken = min(nextToken ?? wait, wait)
                            break
                        }
                        lane.tokens -= 1
                    }
                    ready.append(lane.waiting.removeFirst())
                    lane.inFlight += 1
                    s.inFlight += 1
                    s.waiting -= 1
                }
                if lane.isIdle {
                    s.lanes.removeValue(forKey: id)
                } else {
                    s.lanes[id] = lane
                }
            }
        }
        // Unstructured, and counted in `inFlight`, which shutdown waits for.
        for claim in ready {
            Task { await self.attempt(claim) }
        }
        return nextToken
    }

    /// Opens a sealed secret once, not on every attempt (the sealed text is unique per secret:
    /// it carries its own nonce).
    private func signingKey(_ secret: (keyID: String, sealed: String), subscription: UUID) -> [UInt8]? {
        if let key = keys.withLock({ $0[secret.sealed] }) { return key }
        guard let opened = try? store.open(secret.sealed, keyID: secret.keyID, for: subscription),
              let key = StandardWebhooks.key(of: opened) else { return nil }
        keys.withLock { k in
            if k.count >= 10_000 { k.removeAll() }
            k[secret.sealed] = key
        }
        return key
    }

    private func attempt(_ claim: DeliveryQueue.Claimed) async {
        var keys: [[UInt8]] = []
        for secret in claim.secrets {
            if let key = signingKey(secret, subscription: claim.subscriptionID) { keys.append(key) }
        }
        let outcome: DeliveryQueue.Outcome
        if keys.isEmpty {
            outcome = DeliveryQueue.Outcome(delivery: claim, startedAt: Date(), duration: .zero,
                                            error: "no signing secret could be opened (FLUKE_ENCRYPTION_KEY)")
        } else {
            outcome = await sender.send(claim, keys: keys)
        }
        metrics.attemptDuration.recordNanoseconds(outcome.duration.nanosecondsValue)
        state.withLock { s in
            s.outcomes.append(outcome)
            s.inFlight -= 1
            if var lane = s.lanes[claim.subscriptionID] {
                lane.inFlight -= 1
                if lane.isIdle {
                    s.lanes.removeValue(forKey: claim.subscriptionID)
                } else {
                    s.lanes[claim.subscriptionID] = lane
                }
            }
        }
        completed.signal()
        // The next waiting delivery leaves now, not when the loop is back from a claim.
        _ = start()
        wake.signal()
    }

    /// Writes outcomes in batches (one transaction each), until shutdown has drained them all.
    private func recordOutcomes() async {
        var delay: Duration = .milliseconds(100)
        while true {
            let finished = completed.isFinished
            let batch = state.withLock { s -> [DeliveryQueue.Outcome] in
                let n = min(s.outcomes.count, Self.outcomeBatch)
                defer { s.outcomes.removeFirst(n) }
                return Array(s.outcomes.prefix(n))
            }
            if Task.isCancelled {
                let left = state.withLock { $0.outcomes.count } + batch.count
                if left > 0 { logger.warning("stopping with attempt outcomes unrecorded; they will be sent again", metadata: ["count": "\(left)"]) }
                return
            }
            if batch.isEmpty {
                if finished { return }
                await completed.wait(timeout: .seconds(1))
                continue
            }
            do {
                let (disabled, held) = try await queue.complete(batch)
                state.withLock { s in for o in batch { s.held.remove(o.delivery.id) } }
                for id in disabled { logger.notice("subscription disabled", metadata: ["subscription_id": "\(id.lowercased)"]) }
                metrics.record(held)
                delay = .milliseconds(100)
                wake.signal()  // room for claims again
            } catch {
                // Postgres is away: keep the outcomes and try again (the leases cover them meanwhile).
                logger.warning("recording delivery outcomes failed; retrying", metadata: ["error": "\(error)"])
                state.withLock { s in s.outcomes.insert(contentsOf: batch, at: 0) }
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(5))
            }
        }
    }
}
