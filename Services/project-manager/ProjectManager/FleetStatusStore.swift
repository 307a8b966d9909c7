import FlukeModels
import FlukePostgres
import FlukeRuntime
import Foundation

/// What the rest of the fleet says about projects, kept from its events: each app's latest
/// deployment (`deploy.*`) and federation's catalog (`federation.project.*`). Both writes are
/// idempotent and order-proof, since events arrive at least once and not always in order.
struct FleetStatusStore: Sendable {
    let db: TenantDatabase

    /// How far a deployment event has gone: a later event of the same deployment never moves it back.
    static func rank(_ type: EventType) -> Int {
        switch type {
        case .deployQueued: 0
        case .deployStarted, .deployPhaseChanged: 1
        case .deployRolledBack: 3
        default: 2
        }
    }

    /// Deployments kept per app: the latest is the one shown; older ones go.
    static let keptPerApp = 10

    /// Keeps what `payload` says of its deployment unless the deployment is already further on
    /// (by rank, then by time), and drops the app's deployments beyond the last ``keptPerApp``.
    func recordDeployment(_ type: EventType, _ payload: DeploymentPayload, at time: Date, tenant: UUID, project: UUID) async throws {
        try await db.inTenant(tenant) { tx in
            let kept = try await tx.query("""
                INSERT INTO pm.app_deployments AS d (tenant_id, project_id, app, deployment_id, version, status, phase, reason, rank,
                                                     first_event_at, event_at)
                SELECT \(tenant), \(project), \(payload.app), \(payload.deploymentID), \(payload.version), \(payload.status),
                       \(payload.phase), \(payload.reason.map { String($0.prefix(2000)) }), \(Self.rank(type)), \(time), \(time)
                WHERE EXISTS (SELECT 1 FROM pm.projects WHERE id = \(project) AND tenant_id = \(tenant))
                ON CONFLICT (tenant_id, project_id, app, deployment_id) DO UPDATE SET
                    first_event_at = least(d.first_event_at, EXCLUDED.first_event_at),
                    version = COALESCE(EXCLUDED.version, d.version),
                    status = CASE WHEN (EXCLUDED.rank, EXCLUDED.event_at) >= (d.rank, d.event_at) THEN EXCLUDED.status ELSE d.status END,
                    phase = CASE WHEN (EXCLUDED.rank, EXCLUDED.event_at) >= (d.rank, d.event_at) THEN EXCLUDED.phase ELSE d.phase END,
                    reason = CASE WHEN (EXCLUDED.rank, EXCLUDED.event_at) >= (d.rank, d.event_at) THEN EXCLUDED.reason ELSE d.reason END,
                    rank = greatest(d.rank, EXCLUDED.rank), event_at = greatest(d.event_at, EXCLUDED.event_at), updated_at = now()
                RETURNING 1
                """)
            guard !kept.isEmpty else { return }
            try await tx.query("""
                DELETE FROM pm.app_deployments WHERE tenant_id = \(tenant) AND project_id = \(project) AND app = \(payload.app)
                  AND deployment_id NOT IN (SELECT deployment_id FROM pm.app_deployments
                                            WHERE tenant_id = \(tenant) AND project_id = \(project) AND app = \(payload.app)
                                            ORDER BY first_event_at DESC, deployment_id LIMIT \(Self.keptPerApp))
                """)
        }
    }

    /// Status changes kept per catalog entry.
    static let historyLimit = 50

    /// Keeps a catalog entry's status unless a later change is already kept, and the change in
    /// its history (the last ``historyLimit``; a redelivered event adds nothing).
    func recordCatalog(_ payload: FederationProjectStatusPayload) async throws {
        // Global like the catalog: no tenant's rows, so no tenant setting.
        try await db.postgres.withTransaction { tx in
            try await tx.query("""
                INSERT INTO pm.catalog_status AS c (slug, name, project_id, status, changed_at, last_heartbeat_at)
                VALUES (\(payload.slug), \(payload.name), \(payload.projectID?.lowercased()), \(payload.status), \(payload.changedAt),
                        \(payload.lastHeartbeatAt))
                ON CONFLICT (slug) DO UPDATE SET
                    name = EXCLUDED.name, project_id = EXCLUDED.project_id, status = EXCLUDED.status,
                    changed_at = EXCLUDED.changed_at, last_heartbeat_at = EXCLUDED.last_heartbeat_at, updated_at = now()
                WHERE c.changed_at <= EXCLUDED.changed_at
                """)
            let added = try await tx.query("""
                INSERT INTO pm.catalog_history (slug, status, previous_status, changed_at)
                VALUES (\(payload.slug), \(payload.status), \(payload.previousStatus), \(payload.changedAt))
                ON CONFLICT DO NOTHING
                """).affectedRows
            guard added > 0 else { return }
            try await tx.query("""
                DELETE FROM pm.catalog_history WHERE slug = \(payload.slug) AND changed_at < (
                    SELECT changed_at FROM pm.catalog_history WHERE slug = \(payload.slug)
                    ORDER BY changed_at DESC OFFSET \(Self.historyLimit - 1) LIMIT 1)
                """)
        }
    }
}
