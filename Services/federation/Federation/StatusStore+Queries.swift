import FlukeModels
import FlukePostgres
import FlukeRuntime
import Foundation

/// The read side: catalog pages, counts, live statuses and history.
extension StatusStore {
    /// One page of the catalog, by slug, optionally filtered by status and tag.
    public func list(status: ProjectStatus?, tag: String?, after: String?, limit: Int, liveSince: Date) async throws
        -> [ProjectView] {
        // One statement per request: instances come back as JSON beside each row.
        let rows = try await db.query("""
            SELECT p.slug, p.name, p.description, p.owner, p.repository, p.tags, p.project_id, p.status,
                   p.status_changed_at, p.last_heartbeat_at,
                   (SELECT coalesce(json_agg(json_build_object('instance_id', i.instance_id, 'version', i.version,
                                                               'last_heartbeat_at', i.last_heartbeat_at,
                                                               'metadata', i.metadata) ORDER BY i.instance_id), '[]')
                    FROM federation.instances i WHERE i.slug = p.slug AND i.last_heartbeat_at >= \(liveSince)) AS instances
            FROM federation.projects p
            WHERE p.in_catalog AND (\(status?.rawValue)::text IS NULL OR p.status = \(status?.rawValue))
              AND (\(tag)::text IS NULL OR \(tag) = ANY(p.tags)) AND (\(after)::text IS NULL OR p.slug > \(after))
            ORDER BY p.slug LIMIT \(limit)
            """)
        return try rows.map(Self.view)
    }

    /// Counts of projects by status.
    public func stats() async throws -> FederationStats {
        let rows = try await db.query("""
            SELECT status, count(*) AS n FROM federation.projects WHERE in_catalog GROUP BY status
            """)
        var byStatus = Dictionary(uniqueKeysWithValues: ProjectStatus.allCases.map { ($0.rawValue, 0) })
        for row in rows { byStatus[try row.decode(String.self, "status")] = try row.decode(Int.self, "n") }
        return FederationStats(total: byStatus.values.reduce(0, +), byStatus: byStatus)
    }

    /// Status, times and live instances of projects written since `changedSince` (all when nil);
    /// `nil` values mark projects no longer in the catalog.
    public func liveStatuses(liveSince: Date, changedSince: Date?) async throws -> [String: LiveStatus?] {
        let rows = try await db.query("""
            SELECT p.slug, p.in_catalog, p.status, p.status_changed_at, p.last_heartbeat_at,
                   (SELECT coalesce(json_agg(json_build_object('instance_id', i.instance_id, 'version', i.version,
                                                               'last_heartbeat_at', i.last_heartbeat_at,
                                                               'metadata', i.metadata) ORDER BY i.instance_id), '[]')
                    FROM federation.instances i WHERE i.slug = p.slug AND i.last_heartbeat_at >= \(liveSince)) AS instances,
                   CASE WHEN \(changedSince)::timestamptz IS NULL OR p.status_changed_at > \(changedSince) THEN
                   (SELECT coalesce(json_agg(json_build_object('from', h.from_status, 'to', h.to_status,
                                                               'at', h.changed_at, 'reason', h.reason) ORDER BY h.id DESC), '[]')
                    FROM (SELECT * FROM federation.status_history WHERE slug = p.slug
                          ORDER BY id DESC LIMIT \(LiveStatus.historyLimit)) h) END AS history
            FROM federation.projects p
            WHERE (\(changedSince)::timestamptz IS NULL AND p.in_catalog) OR p.changed_at > \(changedSince)
            """)
        var result: [String: LiveStatus?] = [:]
        result.reserveCapacity(rows.count)
        for row in rows {
            guard try row.decode(Bool.self, "in_catalog") else {
                result[try row.decode(String.self, "slug")] = .some(nil)
                continue
            }
            let instances = try row.decode(String.self, "instances")
            result[try row.decode(String.self, "slug")] = LiveStatus(
                status: ProjectStatus(rawValue: try row.decode(String.self, "status")) ?? .unknown,
                statusChangedAt: try row.decode(Date?.self, "status_changed_at"),
                lastHeartbeatAt: try row.decode(Date?.self, "last_heartbeat_at"),
                instances: instances == "[]" ? [] : try Self.json([ProjectInstance].self, instances),
                history: try row.decode(String?.self, "history").map { try Self.json([StatusChange].self, $0) })
        }
        return result
    }

    /// The newest `limit` status changes of one project.
    public func history(_ slug: String, limit: Int) async throws -> [StatusChange] {
        try await db.query("""
            SELECT from_status, to_status, changed_at, reason FROM federation.status_history
            WHERE slug = \(slug) ORDER BY id DESC LIMIT \(limit)
            """).map { row in
            StatusChange(from: ProjectStatus(rawValue: try row.decode(String.self, "from_status")) ?? .unknown,
                         to: ProjectStatus(rawValue: try row.decode(String.self, "to_status")) ?? .unknown,
                         at: try row.decode(Date.self, "changed_at"), reason: try row.decode(String.self, "reason"))
        }
    }

    private static let decoder = CloudEvent.decoder()

    /// Decodes a `json_agg` column (Postgres writes timestamps as RFC 3339).
    static func json<T: Decodable>(_ type: T.Type, _ text: String) throws -> T {
        try decoder.decode(type, from: Data(text.utf8))
    }

    static func view(_ row: PostgresRow) throws -> ProjectView {
        ProjectView(
            slug: try row.decode(String.self, "slug"), name: try row.decode(String.self, "name"),
            description: try row.decode(String?.self, "description"), owner: try row.decode(String?.self, "owner"),
            repository: try row.decode(String?.self, "repository"), tags: try row.decode([String].self, "tags"),
            projectID: try row.decode(String?.self, "project_id"),
            status: ProjectStatus(rawValue: try row.decode(String.self, "status")) ?? .unknown,
            statusChangedAt: try row.decode(Date?.self, "status_changed_at"),
            lastHeartbeatAt: try row.decode(Date?.self, "last_heartbeat_at"),
            instances: try json([ProjectInstance].self, row.decode(String.self, "instances")), history: nil)
    }
}
