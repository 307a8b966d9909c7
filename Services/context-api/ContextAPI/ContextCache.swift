import FlukeModels
import FlukeNATS
import FlukeRuntime
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Assembled contexts, ready to send: `GET …/context` is what every connected tool polls, and a
/// project's context changes far less often than it is read.
///
/// An entry is keyed by project, tenant and what shapes the body (secrets revealed or not, level,
/// environment). It is dropped the moment this replica commits a change to the project (env,
/// memory, MCP, replica event), when another replica's change arrives as an event (core NATS on
/// the subjects below), after `ttl`, and when the NATS connection was lost since it was stored.
/// A read that raced with a change cannot store the older context (per-project epochs).
///
/// Bounded in bytes (`CONTEXT_CACHE_MAX_BYTES`), not entries: one project's context can be a
/// thousand times another's (full level, many memories). Beyond the bound the entries stored
/// longest ago go first.
final class ContextCache: Service, Sendable {
    struct Key: Hashable {
        var project: UUID
        var tenant: UUID
        var reveal: Bool
        var level: ContextLevel?
        var environment: Environment?
    }
    struct Entry {
        var project: ProjectInfo
        var snapshot: ContextStore.Snapshot
        var storedAt: ContinuousClock.Instant
        var generation: Int
    }
    private struct State {
        var entries: [Key: Entry] = [:]
        var epochs: [UUID: Int] = [:]
        var bytes = 0

        mutating func remove(_ key: Key) {
            if let gone = entries.removeValue(forKey: key) { bytes -= ContextCache.size(gone) }
        }
    }
    private let state = Mutex(State())
    let nats: NATSClient
    let ttl: Duration
    let maxBytes: Int
    let logger: Logger

    /// What an entry costs: its body plus a fixed allowance for the rest (key, validators, project),
    /// so that many small entries are bounded too.
    static func size(_ entry: Entry) -> Int { entry.snapshot.buffer.readableBytes + entryOverhead }
    static let entryOverhead = 1024

    /// Bytes held now, by the measure of ``size(_:)``.
    var bytes: Int { state.withLock { $0.bytes } }

    /// This service's own changes arrive as their events, after the commit. The replica's do not:
    /// project-manager's event precedes the replica's write of it, so the replica that applied it
    /// says so on ``appliedSubject`` after its commit.
    static let subjects = ["env", "memory", "mcp"].map { EventType.subjectPrefix + $0 + ".>" }
    static let appliedSubject = "fluke.internal.context.replica_applied"


    init(nats: NATSClient, ttl: Duration = .seconds(5), maxBytes: Int = 64 << 20, logger: Logger) {
        self.nats = nats
        self.ttl = ttl
        self.maxBytes = maxBytes
        self.logger = logger
    }

    func get(_ key: Key) -> (ProjectInfo, ContextStore.Snapshot)? {
        let generation = nats.generation
        return state.withLock { s in
            guard let entry = s.entries[key] else { return nil }
            guard ContinuousClock.now - entry.storedAt < ttl, entry.generation == generation else {
                s.remove(key)
                return nil
            }
            return (entry.project, entry.snapshot)
        }
    }

    /// Taken before reading: ``put(_:_:_:readAt:)`` is refused if the project changed since.
    func epoch(_ project: UUID) -> Int { state.withLock { $0.epochs[project] ?? 0 } }

    func put(_ key: Key, _ project: ProjectInfo, _ snapshot: ContextStore.Snapshot, readAt epoch: Int) {
        let generation = nats.generation
        state.withLock { s in
            guard (s.epochs[key.project] ?? 0) == epoch else { return }
            let entry = Entry(project: project, snapshot: snapshot, storedAt: .now, generation: generation)
            let size = Self.size(entry)
            s.remove(key)
            guard size <= maxBytes else { return }
            if s.bytes + size > maxBytes {
                // Down to three quarters at once, so that a full cache does not sort on every put.
                let target = maxBytes / 4 * 3 - size
                for (oldKey, _) in s.entries.sorted(by: { $0.value.storedAt < $1.value.storedAt }) {
                    if s.bytes <= target { break }
                    s.remove(oldKey)
                }
            }
            s.entries[key] = entry
            s.bytes += size
        }
    }

    /// Drops every cached context of `project`.
    func invalidate(_ project: UUID) {
        state.withLock { s in
            s.epochs[project, default: 0] += 1
            for key in Array(s.entries.keys) where key.project == project { s.remove(key) }
        }
    }

    /// Invalidates here, and tells the other replicas that `project` changed in Postgres.
    func announce(_ project: UUID) {
        invalidate(project)
        _ = nats.publishNow(Self.appliedSubject, payload: Data(#"{"projectid":"\#(project.lowercased)"}"#.utf8))
    }

    func run() async throws {
        let subscriptions = try (Self.subjects + [Self.appliedSubject]).map { subject in
            try nats.subscribe(subject) { [self] message in
                struct Event: Decodable { var projectid: String? }
                if let id = (try? JSONDecoder().decode(Event.self, from: Data(message.payload)))?.projectid
                    .flatMap(UUID.init(uuidString:)) {
                    invalidate(id)
                }
            }
        }
        try? await gracefulShutdown()
        for s in subscriptions { s.cancel() }
    }
}
