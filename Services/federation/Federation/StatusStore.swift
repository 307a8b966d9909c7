import FlukeModels
import FlukePostgres
import FlukeRuntime
import Foundation

/// Where federation keeps catalog, status and history (schema `federation`).
public struct StatusStore: Sendable {
    let db: PostgresClient
    let outbox: Outbox

    public init(db: PostgresClient, outbox: Outbox) {
        self.db = db
        self.outbox = outbox
    }

    /// Makes the stored catalog match `projects` (new ones start UNKNOWN; removed ones are hidden).
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

    /// Stores heartbeats; projects not ONLINE become ONLINE with one event each. Returns the
    /// slugs that changed status.
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

    /// Marks ONLINE projects silent since `cutoff` OFFLINE, one event each. Returns `nil` when
    /// another replica is running the check right now.
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
}
