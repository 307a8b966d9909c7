import DeployExecutors
import FlukeModels
import FlukePostgres
import FlukeRuntime
import Foundation

/// Where a deployment's code comes from (process executor): an uploaded tarball kept under
/// `DEPLOY_DATA_DIR/uploads`, or a git repository and ref.
enum DeploymentSource: Codable, Sendable, Equatable {
    case upload(path: String)
    case git(url: String, ref: String)

    enum CodingKeys: String, CodingKey { case upload, git, ref }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let path = try c.decodeIfPresent(String.self, forKey: .upload) {
            self = .upload(path: path)
        } else {
            self = .git(url: try c.decode(String.self, forKey: .git), ref: try c.decodeIfPresent(String.self, forKey: .ref) ?? "HEAD")
        }
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .upload(let path): try c.encode(path, forKey: .upload)
        case .git(let url, let ref):
            try c.encode(url, forKey: .git)
            try c.encode(ref, forKey: .ref)
        }
    }
}

/// What `POST /api/v1/deploy` (and its siblings) asks for.
struct DeploymentRequest: Sendable {
    var kind = "deploy"
    var image: String?
    var source: DeploymentSource?
    var strategy: AppSpec.Strategy?
    var autoRollback = true
    var validationLevel = "standard"
    /// A rollback's target release.
    var version: Int?
    var reason: String?
    var rollbackOf: UUID?
}

/// Deployments as the API sees them: queueing, reading, cancelling. The driver's side (claims,
/// phases, outcomes) is in `DeploymentStore+Driver.swift`.
struct DeploymentStore: Sendable {
    let db: TenantDatabase
    let queueLimit: Int
    let cache: DeploymentCache

    static let columns: StaticString = """
        d.id, d.app_name, d.project_id, d.kind, d.status, d.version, d.image, d.auto_rollback, d.validation_level,
        d.rollback_of, (SELECT r.id FROM deploy.deployments r WHERE r.rollback_of = d.id ORDER BY r.seq LIMIT 1),
        d.reason, d.error, d.failure_kind, d.phases::text, d.requested_by, d.created_at, d.started_at, d.finished_at
        """

    static func decode(_ row: PostgresRow) throws -> Deployment {
        Deployment(
            id: try row.decode(UUID.self, at: 0), appName: try row.decode(String.self, at: 1),
            projectID: try row.decode(UUID.self, at: 2), kind: try row.decode(String.self, at: 3),
            status: DeploymentStatus(rawValue: try row.decode(String.self, at: 4)) ?? .failed,
            version: try row.decode(Int?.self, at: 5).map { "v\($0)" }, image: try row.decode(String?.self, at: 6),
            autoRollback: try row.decode(Bool.self, at: 7), validationLevel: try row.decode(String.self, at: 8),
            rollbackOf: try row.decode(UUID?.self, at: 9), rolledBackBy: try row.decode(UUID?.self, at: 10),
            reason: try row.decode(String?.self, at: 11), error: try row.decode(String?.self, at: 12),
            failureKind: try row.decode(String?.self, at: 13),
            phases: (try? JSONDecoder.fleet.decode([PhaseRecord].self, from: Data(try row.decode(String.self, at: 14).utf8))) ?? [],
            requestedBy: try row.decode(UUID?.self, at: 15), createdAt: try row.decode(Date.self, at: 16),
            startedAt: try row.decode(Date?.self, at: 17), finishedAt: try row.decode(Date?.self, at: 18))
    }

    /// Queues a deployment of `app`; `409 queue_full` past `DEPLOY_QUEUE_LIMIT` waiting ones.
    func enqueue(_ app: App, _ request: DeploymentRequest, tenant: UUID, requestedBy: UUID?) async throws -> Deployment {
        let id = UUID()
        let strategy = try request.strategy.map { String(decoding: try FleetJSON.encoder.encode($0), as: UTF8.self) }
        let source = try request.source.map { String(decoding: try FleetJSON.encoder.encode($0), as: UTF8.self) }
        let row = try await db.inTenant(tenant) { tx in
            // The app's row lock makes the count hold until commit.
            try await tx.query("SELECT 1 FROM deploy.apps WHERE id = \(app.id) FOR UPDATE")
            let waiting = try await tx.query("""
                SELECT count(*) FROM deploy.deployments WHERE app_id = \(app.id) AND status = 'pending'
                """).first!.decode(Int.self, at: 0)
            guard waiting < queueLimit || request.rollbackOf != nil else {
                throw DeployError.queueFull(app: app.name, limit: queueLimit)
            }
            try await tx.query("""
                INSERT INTO deploy.deployments (id, tenant_id, project_id, app_id, app_name, kind, status, priority, version,
                    image, source, strategy, auto_rollback, validation_level, rollback_of, reason, requested_by)
                VALUES (\(id), \(tenant), \(app.projectID), \(app.id), \(app.name), \(request.kind), 'pending',
                    \(request.rollbackOf == nil ? 0 : 1), \(request.version), \(request.image), \(source)::jsonb,
                    \(strategy)::jsonb, \(request.autoRollback), \(request.validationLevel), \(request.rollbackOf),
                    \(request.reason), \(requestedBy))
                """)
            try await db.outbox.enqueue(try CloudEvent(
                source: "deploy-tracker", type: .deployQueued, tenantID: tenant.lowercased, projectID: app.projectID.lowercased,
                payload: DeploymentPayload(deploymentID: id, app: app.name, version: request.version.map { "v\($0)" },
                                           status: "pending", reason: request.reason, rollbackOf: request.rollbackOf,
                                           requestedBy: requestedBy?.lowercased)), on: tx)
            return try await tx.query("SELECT \(sql: Self.columns) FROM deploy.deployments d WHERE d.id = \(id)").first!
        }
        // The deployment rolled back now shows `rolled_back_by`.
        if request.rollbackOf != nil { cache.invalidate(app.projectID) }
        return try Self.decode(row)
    }

    /// One deployment; a finished one from ``DeploymentCache`` when it was read lately.
    func get(_ id: UUID, principal: Principal) async throws -> Deployment {
        let key = DeploymentCacheKey(deployment: id, tenant: principal.tenantID)
        let deployment: Deployment
        if let hit = cache.get(key) {
            deployment = hit
        } else {
            let epoch = cache.epoch()
            let rows = try await db.read(principal, """
                SELECT \(sql: Self.columns) FROM deploy.deployments d WHERE d.id = \(id) AND d.tenant_id = \(principal.tenantID)
                """)[0]
            guard let row = rows.first else { throw DeployError.notFound("deployment") }
            deployment = try Self.decode(row)
            if !deployment.status.isActive { cache.put(deployment, for: key, readAt: epoch) }
        }
        guard principal.canSee(project: deployment.projectID) else { throw DeployError.notFound("deployment") }
        return deployment
    }

    /// An app's deployments, newest first.
    /// An app's deployments, newest first, from before `before` (a sequence from the previous
    /// page's cursor); the last one's sequence.
    func list(app: App, principal: Principal, before: Int?, limit: Int) async throws -> ([Deployment], Int?) {
        let rows = try await db.read(principal, """
            SELECT \(sql: Self.columns), d.seq FROM deploy.deployments d
            WHERE d.app_id = \(app.id) AND (\(before)::bigint IS NULL OR d.seq < \(before)::bigint)
            ORDER BY d.seq DESC LIMIT \(limit)
            """)[0]
        return (try rows.map(Self.decode), try rows.rows.last.map { try $0.decode(Int.self, "seq") })
    }

    /// Every queued or running deployment the caller may see, in the order they run.
    func active(principal: Principal, limit: Int) async throws -> [Deployment] {
        try await db.read(principal, """
            SELECT \(sql: Self.columns) FROM deploy.deployments d
            WHERE d.tenant_id = \(principal.tenantID) AND d.status IN ('pending', 'building', 'deploying')
              AND (\(principal.projectID)::uuid IS NULL OR d.project_id = \(principal.projectID)::uuid)
            ORDER BY d.priority DESC, d.seq LIMIT \(limit)
            """)[0].map(Self.decode)
    }

    func stats(principal: Principal) async throws -> DeploymentStats {
        let rows = try await db.read(principal, """
            SELECT status, count(*), avg(EXTRACT(EPOCH FROM finished_at - started_at) * 1000) FILTER (WHERE status = 'success'),
                   count(*) FILTER (WHERE created_at > now() - interval '24 hours')
            FROM deploy.deployments
            WHERE tenant_id = \(principal.tenantID)
              AND (\(principal.projectID)::uuid IS NULL OR project_id = \(principal.projectID)::uuid)
            GROUP BY status
            """)[0]
        var byStatus: [String: Int] = [:]
        var average: Double?
        var last24h = 0
        for row in rows {
            let status = try row.decode(String.self, at: 0)
            byStatus[status] = try row.decode(Int.self, at: 1)
            if status == "success" { average = try row.decode(Double?.self, at: 2) }
            last24h += try row.decode(Int.self, at: 3)
        }
        let finished = ["success", "failed", "rolled_back"].reduce(0) { $0 + (byStatus[$1] ?? 0) }
        return DeploymentStats(
            total: byStatus.values.reduce(0, +), active: ["pending", "building", "deploying"].reduce(0) { $0 + (byStatus[$1] ?? 0) },
            byStatus: byStatus, successRate: finished == 0 ? nil : Double(byStatus["success"] ?? 0) / Double(finished),
            averageDurationMS: average.map { Int($0.rounded()) }, last24h: last24h)
    }

    /// Cancels a queued deployment at once; a running one is asked to stop (its driver cancels
    /// the rollout, which leaves the previous release serving, and records `cancelled`).
    func cancel(_ id: UUID, principal: Principal) async throws -> Deployment {
        let deployment = try await get(id, principal: principal)
        guard deployment.status.isActive else { throw DeployError.finished(deployment.status.rawValue) }
        try await db.inTenant(of: principal) { tx in
            let rows = try await tx.query("""
                UPDATE deploy.deployments SET status = 'cancelled', finished_at = now(), reason = 'cancelled by request'
                WHERE id = \(id) AND status = 'pending' AND lease_owner IS NULL RETURNING id
                """)
            if rows.isEmpty {
                try await tx.query("UPDATE deploy.deployments SET cancel_requested = true WHERE id = \(id) AND status IN ('pending', 'building', 'deploying')")
            } else {
                try await db.outbox.enqueue(try CloudEvent(
                    source: "deploy-tracker", type: .deployCancelled, tenantID: principal.tenantID.lowercased,
                    projectID: deployment.projectID.lowercased,
                    payload: DeploymentPayload(deploymentID: id, app: deployment.appName, version: deployment.version,
                                               status: "cancelled", reason: "cancelled by request",
                                               requestedBy: principal.userID.lowercased)), on: tx)
            }
        }
        return try await get(id, principal: principal)
    }

    /// The deployment's log entries, oldest first (at most `limit`).
    func logs(_ id: UUID, principal: Principal, limit: Int) async throws -> DeploymentLogs {
        let deployment = try await get(id, principal: principal)
        let rows = try await db.read(principal, """
            SELECT phase, entry::text FROM deploy.deployment_logs WHERE deployment_id = \(deployment.id) ORDER BY seq LIMIT \(limit)
            """)[0]
        var phases: [String: [UnifiedLogEntry]] = [:]
        var entries: [UnifiedLogEntry] = []
        for row in rows {
            let entry = try JSONDecoder.fleet.decode(UnifiedLogEntry.self, from: Data(try row.decode(String.self, at: 1).utf8))
            entries.append(entry)
            phases[try row.decode(String?.self, at: 0) ?? "queue", default: []].append(entry)
        }
        return DeploymentLogs(deploymentID: deployment.id, phases: phases, entries: entries)
    }
}

extension JSONDecoder {
    /// RFC 3339 dates, as the fleet writes them.
    static let fleet: JSONDecoder = CloudEvent.decoder()
}
