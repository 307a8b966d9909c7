import FlukeModels
import FlukeNATS
import FlukeRuntime
import Foundation
import Logging

/// Assembled contexts, ready to send: `GET …/context` is what every connected tool polls, and a
/// project's context changes far less often than it is read.
///
/// An entry is keyed by project, tenant and what shapes the body (secrets revealed or not, level,
/// environment). It is dropped the moment this replica commits a change to the project (env,
/// memory, MCP, replica event), when another replica's change arrives as an event, after the TTL,
/// and when the NATS connection was lost since it was stored (see ``EventInvalidatedCache``).
///
/// Bounded in bytes (`CONTEXT_CACHE_MAX_BYTES`), not entries: one project's context can be a
/// thousand times another's (full level, many memories).
typealias ContextCache = EventInvalidatedCache<ContextCacheKey, (ProjectInfo, ContextStore.Snapshot)>

/// What shapes a cached context body.
struct ContextCacheKey: Hashable, Sendable {
    var project: UUID
    var tenant: UUID
    var reveal: Bool
    var level: ContextLevel?
    var environment: Environment?
}

extension ContextCache {
    /// This service's own changes arrive as their events, after the commit. The replica's do not:
    /// project-manager's event precedes the replica's write of it, so the replica that applied it
    /// says so on ``appliedSubject`` after its commit (``announce(_:)``).
    static var eventSubjects: [String] { ["env", "memory", "mcp"].map { EventType.subjectPrefix + $0 + ".>" } }
    static var appliedSubject: String { "fluke.internal.context.replica_applied" }

    /// Each entry costs its body (plus the cache's fixed allowance per entry).
    convenience init(nats: NATSClient, ttl: Duration = .seconds(5), maxBytes: Int = 64 << 20, logger: Logger) {
        self.init(nats: nats, subjects: Self.eventSubjects, announceSubject: Self.appliedSubject, ttl: ttl,
                  maxBytes: maxBytes, scope: { key, _ in key.project }, cost: { context in context.1.buffer.readableBytes },
                  logger: logger)
    }
}
