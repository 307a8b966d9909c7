import FlukeModels
import FlukeNATS
import FlukeRuntime
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Recently read projects, so that `GET /api/v1/projects/{id}` (what tools poll) is served from
/// memory. Entries are filled only from row-level-security-checked reads in the reader's tenant
/// and found only by that tenant; this replica drops an entry the moment it commits a change to
/// the project, other replicas when the change's event reaches them (core NATS on
/// `fluke.events.project.>`), and every entry dies after `ttl` or when the NATS connection was lost
/// since it was stored (an event may have been missed).
final class ProjectCache: Service, Sendable {
    private struct Entry {
        var project: Project
        var storedAt: ContinuousClock.Instant
        var generation: Int
    }
    private let entries = Mutex<(map: [UUID: Entry], invalidations: Int)>(([:], 0))
    let nats: NATSClient
    let ttl: Duration
    let capacity: Int
    let logger: Logger

    init(nats: NATSClient, ttl: Duration = .seconds(5), capacity: Int = 10_000, logger: Logger) {
        self.nats = nats
        self.ttl = ttl
        self.capacity = capacity
        self.logger = logger
    }

    func get(_ id: UUID, tenant: UUID) -> Project? {
        let generation = nats.generation
        return entries.withLock { e in
            guard let entry = e.map[id] else { return nil }
            guard entry.project.tenantID == tenant else { return nil }
            guard ContinuousClock.now - entry.storedAt < ttl, entry.generation == generation else {
                e.map.removeValue(forKey: id)
                return nil
            }
            return entry.project
        }
    }

    /// Taken before reading from Postgres: a `put` is refused if anything was invalidated since,
    /// so a read that raced with a change cannot put the old version back.
    var epoch: Int { entries.withLock { $0.invalidations } }

    func put(_ project: Project, readAt epoch: Int) {
        let generation = nats.generation
        entries.withLock { e in
            guard e.invalidations == epoch else { return }
            if e.map.count >= capacity { e.map.removeAll(keepingCapacity: true) }
            e.map[project.id] = Entry(project: project, storedAt: .now, generation: generation)
        }
    }

    func remove(_ id: UUID) {
        entries.withLock { e in
            e.map.removeValue(forKey: id)
            e.invalidations += 1
        }
    }

    func run() async throws {
        let subscription = try nats.subscribe(EventType.subjectPrefix + "project.>") { [self] message in
            struct Event: Decodable { var projectid: String? }
            if let id = (try? JSONDecoder().decode(Event.self, from: Data(message.payload)))?.projectid.flatMap(UUID.init(uuidString:)) {
                remove(id)
            }
        }
        try? await gracefulShutdown()
        subscription.cancel()
    }
}
