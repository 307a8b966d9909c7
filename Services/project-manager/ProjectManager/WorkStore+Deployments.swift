import FlukeModels
import FlukePostgres
import FlukeRuntime
import Foundation

extension WorkStore {
    /// What a `deploy.*` event did to its deployment's task.
    enum DeploymentTaskChange: Sendable, Equatable {
        case created(UUID)
        case updated(UUID)
        /// A duplicate, or an event the task has already moved past.
        case unchanged
        /// The event's tenant has no such project: nothing to attach the task to.
        case unknownProject
    }

    /// Creates or moves the task of `update`'s deployment in `tenant` and `project`, with its
    /// audit row and its `task.created` / `task.updated` event, in one transaction. Idempotent:
    /// the task is found by its deployment id (unique per tenant), and a row lock orders two
    /// replicas handling two events of one deployment at once.
    func applyDeployment(_ update: DeploymentTaskUpdate, tenant: UUID, project: UUID) async throws -> DeploymentTaskChange {
        try await db.inTenant(tenant) { tx in
            guard try await !tx.query("""
                SELECT 1 FROM pm.projects WHERE id = \(project) AND tenant_id = \(tenant)
                """).isEmpty else { return .unknownProject }
            let initial = update.initial
            if let row = try await tx.query("""
                INSERT INTO pm.tasks (id, tenant_id, project_id, title, description, status, source, deployment_id,
                                      deployment_rank, deployment_notes)
                VALUES (\(UUID()), \(tenant), \(project), \(initial.title), \(initial.description(deploymentID: update.deploymentID)),
                        \(initial.status.rawValue), \(TaskSource.deployment.rawValue), \(update.deploymentID), \(initial.rank),
                        \(try Self.json(initial.notes))::jsonb)
                ON CONFLICT (tenant_id, deployment_id) DO NOTHING
                RETURNING \(sql: Self.taskColumns)
                """).first {
                let task = try Self.task(row)
                try await recordDeployment(task, action: "task.created", event: .taskCreated, update, tenant: tenant, on: tx)
                return .created(task.id)
            }
            guard let row = try await tx.query("""
                SELECT id, title, status, deployment_rank, deployment_notes::text AS notes FROM pm.tasks
                WHERE tenant_id = \(tenant) AND deployment_id = \(update.deploymentID) FOR UPDATE
                """).first else { throw DeploymentTaskRace() }
            let current = DeploymentTaskUpdate.State(
                rank: try row.decode(Int.self, "deployment_rank"),
                status: TaskStatus(rawValue: try row.decode(String.self, "status")) ?? .inProgress,
                title: try row.decode(String.self, "title"),
                notes: try JSONDecoder().decode([String: String].self, from: Data(try row.decode(String.self, "notes").utf8)))
            let next = update.applied(to: current)
            guard next != current else { return .unchanged }
            let id = try row.decode(UUID.self, "id")
            guard next.isVisiblyDifferent(from: current) else {
                // Only the rank moved (queued → started): the task reads the same, so no event.
                try await tx.query("UPDATE pm.tasks SET deployment_rank = \(next.rank) WHERE id = \(id) AND tenant_id = \(tenant)")
                return .unchanged
            }
            let task = try Self.task(try await tx.query("""
                UPDATE pm.tasks SET title = \(next.title), description = \(next.description(deploymentID: update.deploymentID)),
                    status = \(next.status.rawValue), deployment_rank = \(next.rank),
                    deployment_notes = \(try Self.json(next.notes))::jsonb, updated_at = now()
                WHERE id = \(id) AND tenant_id = \(tenant)
                RETURNING \(sql: Self.taskColumns)
                """).first!)
            try await recordDeployment(task, action: "task.updated", event: .taskUpdated, update, tenant: tenant, on: tx)
            return .updated(id)
        }
    }

    /// The audit row (no actor: deploy-tracker's event moved it) and the event.
    private func recordDeployment(_ task: WorkTask, action: String, event: EventType, _ update: DeploymentTaskUpdate,
                                  tenant: UUID, on tx: PostgresHandle) async throws {
        try await recordSystemChange(task, action: action, event: event,
                                     details: .object(["deployment_id": .string(update.deploymentID.lowercased),
                                                       "status": .string(task.status.rawValue)]),
                                     tenant: tenant, on: tx)
    }

    private static func json(_ notes: [String: String]) throws -> String {
        String(decoding: try FleetJSON.encoder.encode(notes), as: UTF8.self)
    }
}

/// The deployment's task existed when the insert ran but not when it was read (deleted in
/// between): handled again, the insert succeeds.
struct DeploymentTaskRace: Error, CustomStringConvertible {
    var description: String { "the deployment's task was deleted while the event was applied" }
}
