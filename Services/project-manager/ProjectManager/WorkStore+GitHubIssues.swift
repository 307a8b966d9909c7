import FlukeModels
import FlukePostgres
import FlukeRuntime
import Foundation

extension WorkStore {
    /// What keeping a project's issues in step did.
    struct IssueSyncResult: Sendable, Equatable {
        var created = 0
        var updated = 0
        var closed = 0
    }

    /// Keeps `issues` as the project's `github` tasks, found by node id: a new issue is a `todo`
    /// task, a changed title or labels update it, a closed issue marks it done, a reopened one
    /// brings it back to `todo` (a status set by people otherwise stays). With `openSet`, the
    /// whole set of open issues, tasks of issues no longer in it are marked done. Each change is
    /// audited and is a `task.created` / `task.updated` event, in one transaction.
    func applyIssues(_ issues: [GitHubIssue], openSet: Bool, tenant: UUID, project: UUID) async throws -> IssueSyncResult {
        try await db.inTenant(tenant) { tx in
            guard try await !tx.query("SELECT 1 FROM pm.projects WHERE id = \(project) AND tenant_id = \(tenant)").isEmpty else {
                return IssueSyncResult()
            }
            var result = IssueSyncResult()
            for issue in issues {
                let status = issue.open ? TaskStatus.todo.rawValue : TaskStatus.done.rawValue
                let rows = try await tx.query("""
                    INSERT INTO pm.tasks AS t (id, tenant_id, project_id, title, description, status, labels, source, external_id, external_url)
                    VALUES (\(UUID()), \(tenant), \(project), \(issue.title), \(issue.body), \(status), \(issue.labels),
                            \(TaskSource.github.rawValue), \(issue.nodeID), \(issue.htmlURL))
                    ON CONFLICT (tenant_id, project_id, external_id) WHERE external_id IS NOT NULL DO UPDATE SET
                        title = EXCLUDED.title, description = EXCLUDED.description, labels = EXCLUDED.labels,
                        external_url = EXCLUDED.external_url,
                        status = CASE WHEN EXCLUDED.status = 'done' THEN 'done'
                                      WHEN t.status = 'done' THEN 'todo' ELSE t.status END,
                        updated_at = now()
                    WHERE (t.title, t.description, t.labels, t.external_url) IS DISTINCT FROM
                          (EXCLUDED.title, EXCLUDED.description, EXCLUDED.labels, EXCLUDED.external_url)
                       OR (EXCLUDED.status = 'done') <> (t.status = 'done')
                    RETURNING \(sql: Self.taskColumns), (xmax = 0) AS inserted
                    """)
                guard let row = rows.first else { continue }
                let task = try Self.task(row)
                let inserted = try row.decode(Bool.self, "inserted")
                if inserted { result.created += 1 } else if task.status == .done, !issue.open { result.closed += 1 } else { result.updated += 1 }
                try await recordGitHub(task, created: inserted, issue: issue.number, tenant: tenant, on: tx)
            }
            if openSet {
                let open = issues.filter(\.open).map(\.nodeID)
                for row in try await tx.query("""
                    UPDATE pm.tasks SET status = 'done', updated_at = now()
                    WHERE tenant_id = \(tenant) AND project_id = \(project) AND source = 'github' AND external_id IS NOT NULL
                      AND status <> 'done' AND NOT (external_id = ANY(\(open)))
                    RETURNING \(sql: Self.taskColumns)
                    """) {
                    result.closed += 1
                    try await recordGitHub(try Self.task(row), created: false, issue: nil, tenant: tenant, on: tx)
                }
            }
            return result
        }
    }

    /// The audit row (no actor: GitHub changed it) and the event, as a person's change would have.
    private func recordGitHub(_ task: WorkTask, created: Bool, issue: Int?, tenant: UUID, on tx: PostgresHandle) async throws {
        var details: [String: JSONValue] = ["status": .string(task.status.rawValue), "source": .string("github")]
        if let issue { details["issue"] = .number(Double(issue)) }
        try await recordSystemChange(task, action: created ? "task.created" : "task.updated", event: created ? .taskCreated : .taskUpdated,
                                     details: .object(details), tenant: tenant, on: tx)
    }

    /// A task changed by the fleet itself (a deployment's events, GitHub): its audit row without
    /// an actor, and its event.
    func recordSystemChange(_ task: WorkTask, action: String, event: EventType, details: JSONValue, tenant: UUID,
                            on tx: PostgresHandle) async throws {
        let audit = AuditRecord(action: action, objectType: "task", objectID: task.id.lowercased, details: details)
        try await audit.write(on: tx, tenant: tenant, actor: nil, requestID: nil)
        try await db.outbox.enqueue(try CloudEvent(source: "project-manager", type: event, tenantID: tenant.lowercased,
                                                   projectID: task.projectID.lowercased, payload: TaskPayload(task, deleted: false)), on: tx)
    }
}
