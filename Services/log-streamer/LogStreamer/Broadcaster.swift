import FlukeModels
import Foundation
import NIOWebSocket
import Prometheus
import Synchronization

/// This replica's live tails and the entries it has seen most recently, in `FLUKE_LOGS` order.
///
/// ``LiveTail`` publishes every stream message here, in sequence order; each goes to the tails
/// of its tenant whose filter it matches, without waiting for any of them. The ring of recent
/// entries serves resumes from memory and tells a repeated entry (same tenant and id: a producer
/// that sent it twice) from a new one, so a tail shows it once, as storage does.
///
/// `highSequence` splits every tail's history in two: a tail registered when it was H receives
/// everything after H live and gets everything up to H from a replay (the ring, or storage).
final class Broadcaster: Sendable {
    struct RingKey: Hashable {
        let tenant: UUID
        let id: String
    }

    private struct State {
        var ring: [TailEntry?]
        var head = 0
        var count = 0
        /// Every entry after this sequence is in the ring.
        var ringFloor: Int64 = 0
        var highSequence: Int64 = 0
        var ids: [RingKey: Int64] = [:]
        var tails: [UUID: [ObjectIdentifier: TailConnection]] = [:]
        var tailCount = 0
    }

    enum Registration {
        /// Registered; `high` is the split, `replay` the ring's part of a resume when it held it all.
        case registered(high: Int64, replay: [TailEntry]?)
        case tooMany(limit: Int)
    }

    let ringCapacity: Int
    let maxTailsPerTenant: Int
    let startedAt = ContinuousClock.now
    private let state: Mutex<State>
    private let tailsGauge: Gauge
    private let sentCounter: Counter
    private let droppedCounter: Counter

    init(ringCapacity: Int, maxTailsPerTenant: Int, registry: PrometheusCollectorRegistry) {
        self.ringCapacity = ringCapacity
        self.maxTailsPerTenant = maxTailsPerTenant
        state = Mutex(State(ring: Array(repeating: nil, count: ringCapacity)))
        tailsGauge = registry.makeGauge(name: "logs_tails", help: "live tails open on this replica")
        sentCounter = registry.makeCounter(name: "logs_tail_entries_offered_total",
                                           help: "entries queued for live tails (one per tail)")
        droppedCounter = registry.makeCounter(name: "logs_tail_dropped_total",
                                              help: "entries dropped for live tails whose send buffer was full")
    }

    /// Where the live stream starts: entries up to `sequence` come from storage.
    func start(after sequence: Int64) {
        state.withLock { s in
            guard s.highSequence == 0 && s.count == 0 else { return }
            s.highSequence = sequence
            s.ringFloor = sequence
        }
    }

    var highSequence: Int64 { state.withLock { $0.highSequence } }

    /// Takes stream message `sequence`: `entry` is nil for one that is no valid entry (it moves
    /// the split on all the same). Sequences at or below the last one are ignored.
    func publish(sequence: Int64, entry: TailEntry?) {
        var offered = 0, dropped = 0
        state.withLock { s in
            guard sequence > s.highSequence else { return }
            s.highSequence = sequence
            guard let entry else { return }
            let key = RingKey(tenant: entry.tenantID, id: entry.id)
            guard s.ids[key] == nil else { return }
            if s.count == ringCapacity, let oldest = s.ring[s.head] {
                s.ids.removeValue(forKey: RingKey(tenant: oldest.tenantID, id: oldest.id))
                s.ringFloor = oldest.seq
                s.head = (s.head + 1) % ringCapacity
                s.count -= 1
            }
            s.ring[(s.head + s.count) % ringCapacity] = entry
            s.count += 1
            s.ids[key] = sequence
            guard let tails = s.tails[entry.tenantID] else { return }
            for tail in tails.values {
                if tail.offer(entry) { dropped += 1 } else { offered += 1 }
            }
        }
        if offered > 0 { sentCounter.increment(by: Int64(offered)) }
        if dropped > 0 { droppedCounter.increment(by: Int64(dropped)) }
    }

    /// Adds `tail`; for a resume after `resumeAfter` (a sequence), also the ring's entries after
    /// it up to the split, when the ring holds every one of them.
    func register(_ tail: TailConnection, resumeAfter: Int64?, filter: TailFilter) -> Registration {
        let registration = state.withLock { s -> Registration in
            let open = s.tails[tail.tenantID]?.count ?? 0
            guard open < maxTailsPerTenant else { return .tooMany(limit: maxTailsPerTenant) }
            s.tails[tail.tenantID, default: [:]][ObjectIdentifier(tail)] = tail
            s.tailCount += 1
            guard let after = resumeAfter, after >= s.ringFloor else { return .registered(high: s.highSequence, replay: nil) }
            var replay: [TailEntry] = []
            for i in 0..<s.count {
                guard let entry = s.ring[(s.head + i) % ringCapacity], entry.seq > after,
                      entry.tenantID == tail.tenantID, filter.matches(entry) else { continue }
                replay.append(entry)
            }
            return .registered(high: s.highSequence, replay: replay)
        }
        tailsGauge.set(Double(state.withLock { $0.tailCount }))
        return registration
    }

    func remove(_ tail: TailConnection) {
        let count = state.withLock { s -> Int in
            if s.tails[tail.tenantID]?.removeValue(forKey: ObjectIdentifier(tail)) != nil { s.tailCount -= 1 }
            if s.tails[tail.tenantID]?.isEmpty == true { s.tails.removeValue(forKey: tail.tenantID) }
            return s.tailCount
        }
        tailsGauge.set(Double(count))
    }

    /// The sequence of `tenant`'s entry `id`, when the ring still holds it.
    func sequence(of id: String, tenant: UUID) -> Int64? {
        state.withLock { $0.ids[RingKey(tenant: tenant, id: id)] }
    }

    func tails(of tenant: UUID) -> Int { state.withLock { $0.tails[tenant]?.count ?? 0 } }

    /// Closes every tail (shutdown), or those of one token (revoked).
    func closeAll(tokenID: UUID? = nil, code: WebSocketErrorCode, reason: String) {
        let tails = state.withLock { s in s.tails.values.flatMap(\.values) }
        for tail in tails where tokenID == nil || tail.principal.tokenID == tokenID {
            tail.close(code, reason: reason)
        }
    }
}
