import FlukeNATS
import Foundation
import Logging
import Synchronization

/// An in-memory cache of what a service reads from Postgres, kept honest by events.
///
/// Every key belongs to a scope (a project): ``invalidate(_:)`` drops every entry of a scope, and
/// is called by the replica that commits a change and, on the other replicas, by the change's
/// event (core NATS on ``subjects``, see ``run()``). An entry also dies after ``ttl``, and all of
/// them when the NATS connection was lost since they were stored (an event may have been missed).
///
/// A read that raced with a change cannot store the older value: take an ``Epoch`` with
/// ``epoch()`` before reading, and ``put(_:for:readAt:)`` refuses it when the scope was
/// invalidated, or NATS reconnected, since.
///
/// Bounded in bytes (``maxBytes``), not entries: each entry costs what `cost` says of its value
/// plus ``entryOverhead``. Beyond the bound the entries stored longest ago go first, and a value
/// larger than the whole budget is not kept.
public final class EventInvalidatedCache<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    /// When a read began, as the cache counts: its invalidations and NATS' reconnections.
    public struct Epoch: Sendable, Equatable {
        let invalidations: Int
        let generation: Int
    }

    struct Entry {
        var value: Value
        var scope: UUID
        var cost: Int
        var storedAt: ContinuousClock.Instant
    }

    struct State {
        var entries: [Key: Entry] = [:]
        var keysByScope: [UUID: Set<Key>] = [:]
        var bytes = 0
        /// Invalidations so far; an ``Epoch`` is this count when the read began.
        var invalidations = 0
        /// The count at each scope's last invalidation.
        var invalidatedAt: [UUID: Int] = [:]
        /// Puts read before this count are refused: `invalidatedAt` was emptied then to stay small.
        var floor = 0
        /// The NATS generation the entries were stored under.
        var generation: Int
    }

    let state: Mutex<State>
    let nats: NATSClient
    let scope: @Sendable (Key, Value) -> UUID
    let cost: @Sendable (Value) -> Int
    let logger: Logger
    /// How long an entry is served after it was stored.
    public let ttl: Duration
    /// The most bytes held, by the measure of `cost` plus ``entryOverhead``.
    public let maxBytes: Int
    /// The event subjects whose messages (naming their scope in `projectid`) invalidate.
    public let subjects: [String]
    /// Where ``announce(_:)`` tells the other replicas of a change that has no event of its own.
    public let announceSubject: String?

    /// A fixed allowance per entry for what `cost` does not count (key, bookkeeping), so that many
    /// small entries are bounded too.
    public static var entryOverhead: Int { 1024 }
    /// How many scopes' last invalidations are remembered before they are forgotten all at once
    /// (which then refuses every fill that began earlier: a missed fill, never a stale one).
    static var maxTrackedScopes: Int { 65_536 }

    /// - Parameters:
    ///   - scope: the scope (project) an entry belongs to, which invalidations name: found in its
    ///     key, or in its value when the key alone does not say (a deployment read by its id).
    ///   - cost: the bytes a value holds.
    public init(nats: NATSClient, subjects: [String], announceSubject: String? = nil, ttl: Duration = .seconds(5),
                maxBytes: Int, scope: @escaping @Sendable (Key, Value) -> UUID, cost: @escaping @Sendable (Value) -> Int,
                logger: Logger) {
        self.nats = nats
        self.subjects = subjects
        self.announceSubject = announceSubject
        self.ttl = ttl
        self.maxBytes = maxBytes
        self.scope = scope
        self.cost = cost
        self.logger = logger
        state = Mutex(State(generation: nats.generation))
    }

    /// Bytes held now.
    public var bytes: Int { state.withLock { $0.bytes } }

    /// The value stored for `key`, unless it expired, its scope was invalidated or NATS
    /// reconnected since.
    public func get(_ key: Key) -> Value? {
        let generation = nats.generation
        let now = ContinuousClock.now
        return state.withLock { current in
            current.adopt(generation)
            guard let entry = current.entries[key] else { return nil }
            guard now - entry.storedAt < ttl else {
                current.remove(key)
                return nil
            }
            return entry.value
        }
    }

    /// Taken before reading what will be stored: ``put(_:for:readAt:)`` is refused if the key's
    /// scope changed (or NATS reconnected) since.
    public func epoch() -> Epoch {
        let generation = nats.generation
        return state.withLock { Epoch(invalidations: $0.invalidations, generation: generation) }
    }

    /// Stores `value` read since `epoch`, unless its scope was invalidated since or it alone
    /// exceeds ``maxBytes``; makes room by dropping the entries stored longest ago.
    public func put(_ value: Value, for key: Key, readAt epoch: Epoch) {
        let generation = nats.generation
        // Events published while disconnected may never arrive: what was read then is suspect.
        guard epoch.generation == generation else { return }
        let keyScope = scope(key, value)
        let entry = Entry(value: value, scope: keyScope, cost: cost(value) + Self.entryOverhead, storedAt: .now)
        state.withLock { current in
            current.adopt(generation)
            guard max(current.invalidatedAt[keyScope] ?? 0, current.floor) <= epoch.invalidations else { return }
            current.remove(key)
            guard entry.cost <= maxBytes else { return }
            if current.bytes + entry.cost > maxBytes {
                // Down to three quarters at once, so that a full cache does not sort on every put.
                let target = maxBytes / 4 * 3 - entry.cost
                for (oldKey, _) in current.entries.sorted(by: { $0.value.storedAt < $1.value.storedAt }) {
                    if current.bytes <= target { break }
                    current.remove(oldKey)
                }
            }
            current.entries[key] = entry
            current.keysByScope[keyScope, default: []].insert(key)
            current.bytes += entry.cost
        }
    }

    /// Drops every entry of `scope`, and refuses the fills of it that began before.
    public func invalidate(_ scope: UUID) {
        state.withLock { current in
            current.invalidations += 1
            if current.invalidatedAt.count >= Self.maxTrackedScopes {
                current.invalidatedAt.removeAll()
                current.floor = current.invalidations
            }
            current.invalidatedAt[scope] = current.invalidations
            for key in current.keysByScope.removeValue(forKey: scope) ?? [] {
                if let gone = current.entries.removeValue(forKey: key) { current.bytes -= gone.cost }
            }
        }
    }
}

extension EventInvalidatedCache.State {
    mutating func remove(_ key: Key) {
        guard let gone = entries.removeValue(forKey: key) else { return }
        bytes -= gone.cost
        keysByScope[gone.scope]?.remove(key)
        if keysByScope[gone.scope]?.isEmpty == true { keysByScope.removeValue(forKey: gone.scope) }
    }

    /// Forgets everything stored under an older NATS generation.
    mutating func adopt(_ current: Int) {
        guard generation != current else { return }
        generation = current
        entries.removeAll()
        keysByScope.removeAll()
        bytes = 0
    }
}
