import FlukeModels
import FlukeNATS
import FlukeRuntime
import Foundation
import Logging

/// Recently read projects, so that `GET /api/v1/projects/{id}` (what tools poll) is served from
/// memory. Entries are filled only from row-level-security-checked reads in the reader's tenant
/// and found only by that tenant (the key holds it); this replica drops an entry the moment it
/// commits a change to the project, other replicas when the change's event reaches them (core NATS
/// on `fluke.events.project.>`); see ``EventInvalidatedCache`` for the TTL, reconnects and the
/// byte bound (`PM_PROJECT_CACHE_MAX_BYTES`).
typealias ProjectCache = EventInvalidatedCache<ProjectCacheKey, Project>

/// A project as one tenant may find it.
struct ProjectCacheKey: Hashable, Sendable {
    var project: UUID
    var tenant: UUID
}

extension ProjectCache {
    convenience init(nats: NATSClient, ttl: Duration = .seconds(5), maxBytes: Int, logger: Logger) {
        self.init(nats: nats, subjects: [EventType.subjectPrefix + "project.>"], ttl: ttl, maxBytes: maxBytes,
                  scope: { key, _ in key.project }, cost: Project.cachedBytes, logger: logger)
    }
}

extension Project {
    /// Its text, which is what varies (the fixed-size fields fit the cache's allowance per entry).
    @Sendable static func cachedBytes(_ project: Project) -> Int {
        project.name.utf8.count + project.description.utf8.count + (project.repositoryURL?.utf8.count ?? 0)
    }
}
