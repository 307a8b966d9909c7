import FlukeCrypto
import FlukeModels
import Foundation
import Synchronization

/// Verified `fbk_` tokens kept for a short while (≤ 30 s), keyed by the token's SHA-256 so no
/// secret sits in memory longer than a request.
///
/// Entries die at their TTL, at the token's own expiry, when `token.revoked` names their token,
/// and when the NATS connection has been lost since they were stored (a revocation may have been
/// missed meanwhile).
public final class TokenCache: Sendable {
    struct Entry {
        var reply: IdentityRPC.Reply
        var storedAt: ContinuousClock.Instant
        var ttl: Duration
        var generation: Int
        /// The reply as sent over NATS, encoded once per entry.
        var encoded: Data?
    }
    private let entries = Mutex<[String: Entry]>([:])
    private let observers = Mutex<[@Sendable (UUID) -> Void]>([])
    let ttl: Duration
    let negativeTTL: Duration
    let capacity: Int

    public init(ttl: Duration = .seconds(30), negativeTTL: Duration = .seconds(5), capacity: Int = 100_000) {
        precondition(ttl <= .seconds(30), "the identity cache may hold a token for 30 s at most")
        self.ttl = ttl
        self.negativeTTL = negativeTTL
        self.capacity = capacity
    }

    public static func key(for token: String) -> String { Crypto.sha256Hex(token) }

    public func get(_ key: String, generation: Int, now: ContinuousClock.Instant = .now) -> IdentityRPC.Reply? {
        entries.withLock { e in
            guard let entry = e[key] else { return nil }
            let expired = now - entry.storedAt >= entry.ttl || entry.generation != generation
                || (entry.reply.expiresAt.map { $0 <= Date() } ?? false)
            if expired {
                e.removeValue(forKey: key)
                return nil
            }
            return entry.reply
        }
    }

    /// The cached reply, encoded by `encode` the first time it is asked for: what the identity
    /// responder sends for a hit without encoding JSON each time.
    public func getEncoded(_ key: String, generation: Int, encode: (IdentityRPC.Reply) -> Data?) -> Data? {
        let now = ContinuousClock.now
        return entries.withLock { e in
            guard var entry = e[key] else { return nil }
            if now - entry.storedAt >= entry.ttl || entry.generation != generation
                || (entry.reply.expiresAt.map { $0 <= Date() } ?? false) {
                e.removeValue(forKey: key)
                return nil
            }
            if let data = entry.encoded { return data }
            entry.encoded = encode(entry.reply)
            e[key] = entry
            return entry.encoded
        }
    }

    public func put(_ key: String, _ reply: IdentityRPC.Reply, generation: Int) {
        entries.withLock { e in
            // A full cache starts over rather than tracking recency: refills cost one RPC each.
            if e.count >= capacity { e.removeAll(keepingCapacity: true) }
            e[key] = Entry(reply: reply, storedAt: .now, ttl: reply.valid ? ttl : negativeTTL, generation: generation)
        }
    }

    /// Forgets every entry of the token `id` (a `token.revoked` event), and tells those who
    /// asked (``onRevoke(_:)``).
    public func revoke(tokenID id: UUID) {
        entries.withLock { e in
            for (k, v) in e where v.reply.tokenID == id { e.removeValue(forKey: k) }
        }
        for observer in observers.withLock({ $0 }) { observer(id) }
    }

    /// Calls `observer` with each revoked token's id: for what holds a token longer than a
    /// request (log-streamer's live tails).
    public func onRevoke(_ observer: @escaping @Sendable (UUID) -> Void) {
        observers.withLock { $0.append(observer) }
    }

    public func removeAll() { entries.withLock { $0.removeAll() } }

    public var count: Int { entries.withLock { $0.count } }
}
