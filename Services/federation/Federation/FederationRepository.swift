import FlukeModels
import FlukePostgres
import FlukeRuntime
import Foundation

/// One heartbeat, accepted and ready to be stored.
public struct HeartbeatRecord: Sendable {
    public var slug: String
    public var instanceID: String
    public var version: String
    public var sentAt: Date
    public var receivedAt: Date
    /// The heartbeat's `metadata` as JSON text (`{}` when absent).
    public var metadataJSON: String
    /// Flushes on which Postgres refused this record (it is dropped at the second).
    var refusedFlushes = 0
}

/// Where federation keeps catalog, status and history.
public protocol FederationRepository: Sendable {
    /// Makes the stored catalog match `projects` (new ones start UNKNOWN; removed ones are hidden).
    func syncCatalog(_ projects: [CatalogProject]) async throws
    /// Stores heartbeats; projects not ONLINE become ONLINE with one event each. Returns the
    /// slugs that changed status.
    func recordHeartbeats(_ heartbeats: [HeartbeatRecord]) async throws -> [String]
    /// Marks ONLINE projects silent since `cutoff` OFFLINE, one event each. Returns `nil` when
    /// another replica is running the check right now.
    func markStale(silentSince cutoff: Date) async throws -> [String]?
    func list(status: ProjectStatus?, tag: String?, after: String?, limit: Int, liveSince: Date) async throws
        -> [ProjectView]
    func stats() async throws -> FederationStats
    /// Status, times and live instances of projects written since `changedSince` (all when nil);
    /// `nil` values mark projects no longer in the catalog.
    func liveStatuses(liveSince: Date, changedSince: Date?) async throws -> [String: LiveStatus?]
    /// The newest `limit` status changes of one project.
    func history(_ slug: String, limit: Int) async throws -> [StatusChange]
}

/// A project's live state as the read model keeps it.
public struct LiveStatus: Sendable, Equatable {
    /// Status changes shown by `GET /api/fed/projects/{slug}`.
    public static let historyLimit = 50
    public var status: ProjectStatus
    public var statusChangedAt: Date?
    public var lastHeartbeatAt: Date?
    public var instances: [ProjectInstance]
    /// The newest status changes, present when the status changed in the refreshed window.
    public var history: [StatusChange]?
}

/// The Postgres implementation, on schema `federation`.
public struct PostgresFederationRepository: FederationRepository {
    let db: PostgresClient
    let outbox: Outbox

    public init(db: PostgresClient, outbox: Outbox) {
        self.db = db
        self.outbox = outbox
    }

    public func syncCatalog(_ projects: [CatalogProject]) async throws {
        let document = String(decoding: try JSONEncoder().encode(projects), as: UTF8.self)
        let slugs = projects.map(\.slug)
        try await db.withTransaction { tx in
            try await tx.query("""
                INSERT INTO federation.projects (slug, name, description, owner, repository, tags, project_id, in_catalog)
                SELECT x.slug, x.name, x.description, x.owner, x.repository,
                       ARRAY(SELECT jsonb_array_elements_text(coalesce(x.tags, '[]'::jsonb))), x.project_id::uuid, true
                FROM jsonb_to_recordset(\(document)::jsonb) AS x(slug text, name text, description text, owner text,
                                                               repository text, tags jsonb, project_id text)
                ON CONFLICT (slug) DO UPDATE SET name = excluded.name, description = excluded.description,
                    owner = excluded.owner, repository = excluded.repository, tags = excluded.tags,
                    project_id = excluded.project_id, in_catalog = true, changed_at = now()
                """)
            try await tx.query("""
                UPDATE federation.projects SET in_catalog = false, changed_at = now()
                WHERE in_catalog AND NOT (slug = ANY(\(slugs)::text[]))
                """)
        }
    }

    public func recordHeartbeats(_ heartbeats: [HeartbeatRecord]) async throws -> [String] {
        guard !heartbeats.isEmpty else { return [] }
        var latest: [String: Date] = [:]
        for hb in heartbeats { latest[hb.slug] = max(latest[hb.slug] ?? hb.receivedAt, hb.receivedAt) }
        let slugs = latest.keys.sorted()
        let changed = try await db.withTransaction { tx -> [String] in
            // Row locks in slug order: replicas flushing together serialise here instead of
            // deadlocking, and the second sees the first's ONLINE (so one event per change).
            let rows = try await tx.query("""
                SELECT slug, status, name, project_id FROM federation.projects
                WHERE slug = ANY(\(slugs)::text[]) AND in_catalog ORDER BY slug FOR UPDATE
                """)
            try await tx.query("""
                INSERT INTO federation.instances (slug, instance_id, version, metadata, sent_at, last_heartbeat_at)
                SELECT * FROM unnest(\(heartbeats.map(\.slug))::text[], \(heartbeats.map(\.instanceID))::text[],
                                     \(heartbeats.map(\.version))::text[], \(heartbeats.map(\.metadataJSON))::jsonb[],
                                     \(heartbeats.map(\.sentAt.postgresText))::timestamptz[],
                                     \(heartbeats.map(\.receivedAt.postgresText))::timestamptz[])
                ON CONFLICT (slug, instance_id) DO UPDATE SET version = excluded.version, metadata = excluded.metadata,
                    sent_at = excluded.sent_at,
                    last_heartbeat_at = greatest(federation.instances.last_heartbeat_at, excluded.last_heartbeat_at)
                """)
            try await tx.query("""
                UPDATE federation.projects p SET last_heartbeat_at = greatest(p.last_heartbeat_at, v.at),
                                                 changed_at = now()
                FROM unnest(\(slugs)::text[], \(slugs.map { latest[$0]!.postgresText })::timestamptz[]) AS v(slug, at)
                WHERE p.slug = v.slug
                """)
            var changed: [String] = []
            for row in rows {
                let status = ProjectStatus(rawValue: try row.decode(String.self, "status")) ?? .unknown
                guard status != .online else { continue }
                let slug = try row.decode(String.self, "slug")
                try await transition(tx, slug: slug, name: try row.decode(String.self, "name"),
                                     projectID: try row.decode(String?.self, "project_id"), from: status, to: .online,
                                     lastHeartbeat: latest[slug], reason: "heartbeat received")
                changed.append(slug)
            }
            return changed
        }
        if !changed.isEmpty { outbox.notifyCommitted() }
        return changed
    }

    public func markStale(silentSince cutoff: Date) async throws -> [String]? {
        let changed = try await db.withTransaction { tx -> [String]? in
            let lock = try await tx.query("SELECT pg_try_advisory_xact_lock(hashtext('fluke.federation.stale'))")
            guard try lock.first?.decode(Bool.self, at: 0) == true else { return nil }
            // SKIP LOCKED: a row being refreshed by a heartbeat flush right now is not stale.
            let rows = try await tx.query("""
                SELECT slug, name, project_id, last_heartbeat_at FROM federation.projects
                WHERE in_catalog AND status = 'ONLINE' AND last_heartbeat_at < \(cutoff)
                ORDER BY slug FOR UPDATE SKIP LOCKED
                """)
            var changed: [String] = []
            for row in rows {
                let slug = try row.decode(String.self, "slug")
                try await transition(tx, slug: slug, name: try row.decode(String.self, "name"),
                                     projectID: try row.decode(String?.self, "project_id"), from: .online, to: .offline,
                                     lastHeartbeat: try row.decode(Date?.self, "last_heartbeat_at"),
                                     reason: "no heartbeat since \(RFC3339.format(cutoff))")
                changed.append(slug)
            }
            return changed
        }
        if let changed, !changed.isEmpty { outbox.notifyCommitted() }
        return changed
    }

    /// Writes the new status, its history row and its event, in the caller's transaction.
    private func transition(_ tx: PostgresHandle, slug: String, name: String, projectID: String?,
                            from: ProjectStatus, to: ProjectStatus, lastHeartbeat: Date?, reason: String) async throws {
        let now = Date()
        try await tx.query("""
            UPDATE federation.projects SET status = \(to.rawValue), status_changed_at = \(now), changed_at = now()
            WHERE slug = \(slug)
            """)
        try await tx.query("""
            INSERT INTO federation.status_history (slug, from_status, to_status, changed_at, reason)
            VALUES (\(slug), \(from.rawValue), \(to.rawValue), \(now), \(reason))
            """)
        let payload = FederationProjectStatusPayload(slug: slug, name: name, status: to.rawValue,
                                                     previousStatus: from.rawValue, changedAt: now,
                                                     lastHeartbeatAt: lastHeartbeat, projectID: projectID)
        let event = try CloudEvent(source: "federation",
                                   type: to == .online ? .federationProjectOnline : .federationProjectOffline,
                                   time: now, projectID: projectID, payload: payload)
        try await outbox.enqueue(event, on: tx)
    }

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

    public func stats() async throws -> FederationStats {
        let rows = try await db.query("""
            SELECT status, count(*) AS n FROM federation.projects WHERE in_catalog GROUP BY status
            """)
        var byStatus = Dictionary(uniqueKeysWithValues: ProjectStatus.allCases.map { ($0.rawValue, 0) })
        for row in rows { byStatus[try row.decode(String.self, "status")] = try row.decode(Int.self, "n") }
        return FederationStats(total: byStatus.values.reduce(0, +), byStatus: byStatus)
    }

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
