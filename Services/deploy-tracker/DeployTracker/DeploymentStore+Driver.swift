import DeployExecutors
import FlukeModels
import FlukePostgres
import FlukeRuntime
import Foundation

/// A deployment a replica has claimed, with its app as it stands.
struct ClaimedDeployment: Sendable {
    var id: UUID
    var tenantID: UUID
    var projectID: UUID
    var appID: UUID
    var appName: String
    var kind: String
    var status: DeploymentStatus
    var version: Int?
    var image: String?
    var source: DeploymentSource?
    var strategy: AppSpec.Strategy?
    var autoRollback: Bool
    var validationLevel: String
    var rollbackOf: UUID?
    var reason: String?
    var requestedBy: UUID?
    var phases: [PhaseRecord]
    var attempts: Int
    var executor: ExecutorKind
    var spec: AppSpec
    var currentVersion: Int?

    var isRollback: Bool { kind == "rollback" }

    func payload(status: String, phase: String? = nil, reason: String? = nil) -> DeploymentPayload {
        DeploymentPayload(deploymentID: id, app: appName, version: version.map { "v\($0)" }, status: status, phase: phase,
                          reason: reason, rollbackOf: rollbackOf, requestedBy: requestedBy?.lowercased ?? "deploy-tracker")
    }

    func event(_ type: EventType, status: String, phase: String? = nil, reason: String? = nil) throws -> CloudEvent {
        try CloudEvent(source: "deploy-tracker", type: type, tenantID: tenantID.lowercased, projectID: projectID.lowercased,
                       payload: payload(status: status, phase: phase, reason: reason))
    }
}

/// A stored release: what a rollback restores.
struct StoredRelease: Sendable {
    var version: Int
    var spec: AppSpec
    var artifact: Artifact
    var image: String?
}

/// The lease was taken over by another replica (this one stalled past `DEPLOY_LEASE_SECONDS`).
struct LeaseLost: Error {}

/// The driver's side of deployments: claims under a lease, and every transition written as it
/// happens, guarded by the lease so that a replica that lost it changes nothing.
extension DeploymentStore {
    /// Claims the next deployment that may run: the first active one of its app (rollbacks
    /// first), not leased or with a lapsed lease.
    func claim(owner: String, lease: Duration) async throws -> ClaimedDeployment? {
        try await db.asSystem { tx in
            let rows = try await tx.query("""
                WITH next AS (
                    SELECT d.id FROM deploy.deployments d
                    WHERE d.status IN ('pending', 'building', 'deploying')
                      AND (d.lease_until IS NULL OR d.lease_until < now())
                      AND NOT EXISTS (
                        SELECT 1 FROM deploy.deployments o
                        WHERE o.app_id = d.app_id AND o.id <> d.id AND o.status IN ('pending', 'building', 'deploying')
                          AND (o.priority > d.priority OR (o.priority = d.priority AND o.seq < d.seq)))
                    ORDER BY d.priority DESC, d.seq LIMIT 1 FOR UPDATE OF d SKIP LOCKED)
                UPDATE deploy.deployments d SET lease_owner = \(owner),
                    lease_until = now() + make_interval(secs => \(lease.secondsValue)), attempts = d.attempts + 1
                FROM next WHERE d.id = next.id
                RETURNING d.id, d.tenant_id, d.project_id, d.app_id, d.app_name, d.kind, d.status, d.version, d.image,
                    d.source::text, d.strategy::text, d.auto_rollback, d.validation_level, d.rollback_of, d.reason,
                    d.requested_by, d.phases::text, d.attempts
                """)
            guard let row = rows.first else { return nil }
            let appID = try row.decode(UUID.self, at: 3)
            guard let app = try await tx.query("""
                SELECT executor, spec::text, current_version FROM deploy.apps WHERE id = \(appID)
                """).first else { return nil }
            func json<T: Decodable>(_ type: T.Type, _ index: Int) throws -> T? {
                try row.decode(String?.self, at: index).map { try JSONDecoder.fleet.decode(type, from: Data($0.utf8)) }
            }
            return ClaimedDeployment(
                id: try row.decode(UUID.self, at: 0), tenantID: try row.decode(UUID.self, at: 1),
                projectID: try row.decode(UUID.self, at: 2), appID: appID, appName: try row.decode(String.self, at: 4),
                kind: try row.decode(String.self, at: 5),
                status: DeploymentStatus(rawValue: try row.decode(String.self, at: 6)) ?? .pending,
                version: try row.decode(Int?.self, at: 7), image: try row.decode(String?.self, at: 8),
                source: try json(DeploymentSource.self, 9), strategy: try json(AppSpec.Strategy.self, 10),
                autoRollback: try row.decode(Bool.self, at: 11), validationLevel: try row.decode(String.self, at: 12),
                rollbackOf: try row.decode(UUID?.self, at: 13), reason: try row.decode(String?.self, at: 14),
                requestedBy: try row.decode(UUID?.self, at: 15),
                phases: try json([PhaseRecord].self, 16) ?? [], attempts: try row.decode(Int.self, at: 17),
                executor: ExecutorKind(rawValue: try app.decode(String.self, at: 0)) ?? .process,
                spec: try JSONDecoder.fleet.decode(AppSpec.self, from: Data(try app.decode(String.self, at: 1).utf8)),
                currentVersion: try app.decode(Int?.self, at: 2))
        }
    }

    /// Extends the lease; returns whether a cancel was asked for. Throws ``LeaseLost`` when
    /// another replica holds it now.
    func renew(_ id: UUID, owner: String, lease: Duration) async throws -> Bool {
        let rows = try await db.pipelineAsSystem(["""
            UPDATE deploy.deployments SET lease_until = now() + make_interval(secs => \(lease.secondsValue))
            WHERE id = \(id) AND lease_owner = \(owner) AND status IN ('pending', 'building', 'deploying')
            RETURNING cancel_requested
            """])[0]
        guard let row = rows.first else { throw LeaseLost() }
        return try row.decode(Bool.self, at: 0)
    }

    /// Runs `body` in the deployment's tenant, only while `owner` holds its lease.
    func underLease<T: Sendable>(_ claim: ClaimedDeployment, owner: String,
                                 _ body: (PostgresHandle) async throws -> T) async throws -> T {
        try await db.inTenant(claim.tenantID) { tx in
            let held = try await tx.query("""
                SELECT 1 FROM deploy.deployments WHERE id = \(claim.id) AND lease_owner = \(owner) FOR UPDATE
                """)
            guard !held.isEmpty else { throw LeaseLost() }
            return try await body(tx)
        }
    }

    /// The release `version` of the app, if it is still kept.
    func release(app: UUID, version: Int, tenant: UUID) async throws -> StoredRelease? {
        let rows = try await db.read(tenant: tenant, ["""
            SELECT spec::text, artifact, image FROM deploy.releases WHERE app_id = \(app) AND version = \(version)
            """])[0]
        guard let row = rows.first else { return nil }
        return StoredRelease(version: version,
                             spec: try JSONDecoder.fleet.decode(AppSpec.self, from: Data(try row.decode(String.self, at: 0).utf8)),
                             artifact: Artifact(reference: try row.decode(String.self, at: 1)), image: try row.decode(String?.self, at: 2))
    }

    /// The version a new build of the app becomes: one past the newest release.
    func nextVersion(app: UUID, tenant: UUID) async throws -> Int {
        let rows = try await db.read(tenant: tenant, ["SELECT COALESCE(max(version), 0) + 1 FROM deploy.releases WHERE app_id = \(app)"])[0]
        return try rows.first!.decode(Int.self, at: 0)
    }

    /// The newest successful release before `version`: where a rollback goes by default.
    func previousVersion(app: UUID, before version: Int?, tenant: UUID) async throws -> Int? {
        let rows = try await db.read(tenant: tenant, ["""
            SELECT max(version) FROM deploy.releases WHERE app_id = \(app) AND (\(version)::int IS NULL OR version < \(version)::int)
            """])[0]
        return try rows.first?.decode(Int?.self, at: 0)
    }
}
