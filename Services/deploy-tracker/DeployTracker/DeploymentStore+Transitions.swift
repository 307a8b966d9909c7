import DeployExecutors
import FlukeModels
import FlukePostgres
import FlukeRuntime
import Foundation

/// Every state change of a running deployment, each in one transaction with its event (outbox)
/// and under the driver's lease.
extension DeploymentStore {
    func phasesJSON(_ phases: [PhaseRecord]) throws -> String {
        String(decoding: try FleetJSON.encoder.encode(phases), as: UTF8.self)
    }

    /// `building`, with the version it makes: the deployment has started.
    func start(_ claim: ClaimedDeployment, owner: String, entries: [UnifiedLogEntry]) async throws {
        try await underLease(claim, owner: owner) { tx in
            try await tx.query("""
                UPDATE deploy.deployments SET status = 'building', version = \(claim.version),
                    started_at = COALESCE(started_at, now()) WHERE id = \(claim.id)
                """)
            try await tx.query("UPDATE deploy.apps SET status = 'deploying', updated_at = now() WHERE id = \(claim.appID)")
            try await db.outbox.enqueue(try claim.event(.deployStarted, status: "building"), on: tx)
            try await appendLogs(entries, claim: claim, phase: nil, on: tx)
        }
    }

    /// Records the phases as they stand, the status they imply and, when a phase starts, its event.
    func recordPhases(_ claim: ClaimedDeployment, owner: String, phases: [PhaseRecord], status: DeploymentStatus,
                      started phase: DeployPhase?, entries: [UnifiedLogEntry]) async throws {
        try await underLease(claim, owner: owner) { tx in
            try await tx.query("""
                UPDATE deploy.deployments SET phases = \(try phasesJSON(phases))::jsonb, status = \(status.rawValue)
                WHERE id = \(claim.id)
                """)
            if let phase {
                try await db.outbox.enqueue(try claim.event(.deployPhaseChanged, status: status.rawValue, phase: phase.rawValue), on: tx)
            }
            try await appendLogs(entries, claim: claim, phase: phases.last?.name.rawValue, on: tx)
        }
    }

    /// `success`: a deploy becomes the app's newest release (older ones beyond `keep` go); a
    /// rollback makes its release current again and marks the deployment it rolled back
    /// `rolled_back`. Returns the artifacts of releases no longer kept.
    func succeed(_ claim: ClaimedDeployment, owner: String, release: StoredRelease, keep: Int, phases: [PhaseRecord],
                 entries: [UnifiedLogEntry]) async throws -> [Artifact] {
        try await underLease(claim, owner: owner) { tx in
            try await tx.query("""
                UPDATE deploy.deployments SET status = 'success', phases = \(try phasesJSON(phases))::jsonb,
                    finished_at = now(), lease_owner = NULL, lease_until = NULL WHERE id = \(claim.id)
                """)
            if !claim.isRollback {
                try await tx.query("""
                    INSERT INTO deploy.releases (app_id, version, tenant_id, spec, artifact, image, deployment_id)
                    VALUES (\(claim.appID), \(release.version), \(claim.tenantID),
                            \(String(decoding: try FleetJSON.encoder.encode(release.spec), as: UTF8.self))::jsonb,
                            \(release.artifact.reference), \(release.image), \(claim.id))
                    ON CONFLICT (app_id, version) DO UPDATE SET spec = EXCLUDED.spec, artifact = EXCLUDED.artifact,
                        image = EXCLUDED.image, deployment_id = EXCLUDED.deployment_id, created_at = now()
                    """)
            }
            try await tx.query("""
                UPDATE deploy.apps SET current_version = \(release.version), status = 'running', updated_at = now()
                WHERE id = \(claim.appID)
                """)
            let pruned = try await tx.query("""
                DELETE FROM deploy.releases WHERE app_id = \(claim.appID) AND version <> \(release.version)
                  AND version NOT IN (SELECT version FROM deploy.releases WHERE app_id = \(claim.appID)
                                      ORDER BY version DESC LIMIT \(keep))
                RETURNING artifact
                """).map { Artifact(reference: try $0.decode(String.self, at: 0)) }
            try await db.outbox.enqueue(try claim.event(.deploySucceeded, status: "success"), on: tx)
            if let failed = claim.rollbackOf {
                let rows = try await tx.query("""
                    UPDATE deploy.deployments SET status = 'rolled_back' WHERE id = \(failed) AND status = 'failed'
                    RETURNING app_name, version, error
                    """)
                if let row = rows.first {
                    try await db.outbox.enqueue(try CloudEvent(
                        source: "deploy-tracker", type: .deployRolledBack, tenantID: claim.tenantID.lowercased,
                        projectID: claim.projectID.lowercased,
                        payload: DeploymentPayload(deploymentID: failed, app: try row.decode(String.self, at: 0),
                                                   version: try row.decode(Int?.self, at: 1).map { "v\($0)" },
                                                   status: "rolled_back",
                                                   reason: "rolled back to v\(release.version): \(try row.decode(String?.self, at: 2) ?? "failed")",
                                                   requestedBy: "deploy-tracker")), on: tx)
                }
            }
            try await appendLogs(entries, claim: claim, phase: phases.last?.name.rawValue, on: tx)
            return pruned
        }
    }

    /// `failed` with its trigger; when `rollbackTo` is given, the automatic rollback is queued
    /// ahead of anything else for the app, in the same transaction.
    func fail(_ claim: ClaimedDeployment, owner: String, kind: String, message: String, phases: [PhaseRecord],
              rollbackTo: Int?, entries: [UnifiedLogEntry]) async throws {
        try await underLease(claim, owner: owner) { tx in
            try await tx.query("""
                UPDATE deploy.deployments SET status = 'failed', error = \(message), failure_kind = \(kind),
                    phases = \(try phasesJSON(phases))::jsonb, finished_at = now(), lease_owner = NULL, lease_until = NULL
                WHERE id = \(claim.id)
                """)
            try await tx.query("""
                UPDATE deploy.apps SET status = CASE WHEN current_version IS NULL THEN 'failed' ELSE 'running' END,
                    updated_at = now() WHERE id = \(claim.appID)
                """)
            try await db.outbox.enqueue(try claim.event(.deployFailed, status: "failed", phase: phases.last?.name.rawValue,
                                                        reason: "\(kind): \(message)"), on: tx)
            try await appendLogs(entries, claim: claim, phase: phases.last?.name.rawValue, on: tx)
            if let rollbackTo {
                let id = UUID()
                let reason = "automatic rollback to v\(rollbackTo) after \(kind): \(message)"
                try await tx.query("""
                    INSERT INTO deploy.deployments (id, tenant_id, project_id, app_id, app_name, kind, status, priority,
                        version, auto_rollback, rollback_of, reason, requested_by)
                    VALUES (\(id), \(claim.tenantID), \(claim.projectID), \(claim.appID), \(claim.appName), 'rollback',
                        'pending', 1, \(rollbackTo), false, \(claim.id), \(reason), \(claim.requestedBy))
                    """)
                try await db.outbox.enqueue(try CloudEvent(
                    source: "deploy-tracker", type: .deployQueued, tenantID: claim.tenantID.lowercased,
                    projectID: claim.projectID.lowercased,
                    payload: DeploymentPayload(deploymentID: id, app: claim.appName, version: "v\(rollbackTo)",
                                               status: "pending", reason: reason, rollbackOf: claim.id,
                                               requestedBy: "deploy-tracker")), on: tx)
            }
        }
    }

    /// `cancelled` while running (a cancel request); the rollout was stopped.
    func cancelled(_ claim: ClaimedDeployment, owner: String, phases: [PhaseRecord], entries: [UnifiedLogEntry]) async throws {
        try await underLease(claim, owner: owner) { tx in
            try await tx.query("""
                UPDATE deploy.deployments SET status = 'cancelled', reason = COALESCE(reason, 'cancelled by request'),
                    phases = \(try phasesJSON(phases))::jsonb, finished_at = now(), lease_owner = NULL, lease_until = NULL
                WHERE id = \(claim.id)
                """)
            try await tx.query("""
                UPDATE deploy.apps SET status = CASE WHEN current_version IS NULL THEN 'new' ELSE 'running' END,
                    updated_at = now() WHERE id = \(claim.appID)
                """)
            try await db.outbox.enqueue(try claim.event(.deployCancelled, status: "cancelled", reason: "cancelled by request"), on: tx)
            try await appendLogs(entries, claim: claim, phase: phases.last?.name.rawValue, on: tx)
        }
    }

    /// Stores entries in the deployment's log and queues them for `FLUKE_LOGS`, in `tx`: a
    /// deployment's log is never lost, even when NATS is down or the tracker dies.
    func appendLogs(_ entries: [UnifiedLogEntry], claim: ClaimedDeployment, phase: String?, on tx: PostgresHandle) async throws {
        guard !entries.isEmpty else { return }
        let subject = UnifiedLogEntry.subject(tenantID: claim.tenantID, app: claim.appName)
        for entry in entries {
            let data = try FleetJSON.encoder.encode(entry)
            try await tx.query("""
                INSERT INTO deploy.deployment_logs (deployment_id, tenant_id, phase, entry)
                VALUES (\(claim.id), \(claim.tenantID), \(entry.flukedeployMetadata?.phase ?? phase),
                        \(String(decoding: data, as: UTF8.self))::jsonb)
                """)
            try await db.outbox.enqueue(subject: subject, messageID: UUID(uuidString: entry.id) ?? UUID(), payload: data, on: tx)
        }
    }
}
