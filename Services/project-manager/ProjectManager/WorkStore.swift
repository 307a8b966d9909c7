import FlukeModels
import FlukePostgres
import FlukeRuntime
import Foundation

/// Milestones and tasks.
struct WorkStore: Sendable {
    let db: TenantDatabase

    // MARK: Milestones

    static let milestoneColumns: StaticString =
        "id, project_id, title, description, due_date::text AS due_date, status, created_at, updated_at"

    static func milestone(_ row: PostgresRow) throws -> Milestone {
        Milestone(id: try row.decode(UUID.self, "id"), projectID: try row.decode(UUID.self, "project_id"),
                  title: try row.decode(String.self, "title"), description: try row.decode(String.self, "description"),
                  dueDate: try row.decode(String?.self, "due_date"),
                  status: MilestoneStatus(rawValue: try row.decode(String.self, "status")) ?? .planned,
                  createdAt: try row.decode(Date.self, "created_at"), updatedAt: try row.decode(Date.self, "updated_at"))
    }

    func milestones(_ project: UUID, _ principal: Principal, after: Int?, limit: Int) async throws -> ([Milestone], Int?) {
        try await db.inTenant(of: principal) { tx in
            _ = try await ProjectStore.requireProject(project, principal, on: tx)
            let rows = try await tx.query("""
                SELECT \(sql: Self.milestoneColumns), seq FROM pm.milestones
                WHERE project_id = \(project) AND tenant_id = \(principal.tenantID) AND (\(after)::bigint IS NULL OR seq > \(after)::bigint)
                ORDER BY seq LIMIT \(limit)
                """)
            return (try rows.map(Self.milestone), try rows.rows.last.map { try $0.decode(Int.self, "seq") })
        }
    }

    func milestone(_ project: UUID, _ id: UUID, _ principal: Principal) async throws -> Milestone {
        try await db.inTenant(of: principal) { tx in
            _ = try await ProjectStore.requireProject(project, principal, on: tx)
            return try await requireMilestone(project, id, principal, tx)
        }
    }

    private func requireMilestone(_ project: UUID, _ id: UUID, _ principal: Principal, _ tx: PostgresHandle) async throws -> Milestone {
        guard let row = try await tx.query("""
            SELECT \(sql: Self.milestoneColumns) FROM pm.milestones
            WHERE id = \(id) AND project_id = \(project) AND tenant_id = \(principal.tenantID)
            """).first else { throw PMError.notFound("milestone") }
        return try Self.milestone(row)
    }

    func createMilestone(_ project: UUID, _ principal: Principal, requestID: String, title: String, description: String,
                         dueDate: String?, status: MilestoneStatus) async throws -> Milestone {
        try await db.inTenant(of: principal) { tx in
            _ = try await ProjectStore.requireProject(project, principal, on: tx)
            let m = try Self.milestone(try await tx.query("""
                INSERT INTO pm.milestones (id, tenant_id, project_id, title, description, due_date, status)
                VALUES (\(UUID()), \(principal.tenantID), \(project), \(title), \(description), \(dueDate)::date, \(status.rawValue))
                RETURNING \(sql: Self.milestoneColumns)
                """).first!)
            try await Change(principal: principal, requestID: requestID, outbox: db.outbox).record(
                on: tx, AuditRecord(action: "milestone.created", objectType: "milestone", objectID: m.id.lowercased),
                event: .milestoneUpdated, projectID: project, payload: MilestonePayload(m, deleted: false))
            return m
        }
    }

    func updateMilestone(_ project: UUID, _ id: UUID, _ principal: Principal, requestID: String, title: String?,
                         description: String?, dueDate: String??, status: MilestoneStatus?) async throws -> Milestone {
        try await db.inTenant(of: principal) { tx in
            _ = try await ProjectStore.requireProject(project, principal, on: tx)
            _ = try await requireMilestone(project, id, principal, tx)
            let m = try Self.milestone(try await tx.query("""
                UPDATE pm.milestones SET title = COALESCE(\(title), title),
                    description = COALESCE(\(description), description), status = COALESCE(\(status?.rawValue), status),
                    due_date = CASE WHEN \(dueDate != nil) THEN \(dueDate ?? nil)::date ELSE due_date END,
                    updated_at = now()
                WHERE id = \(id) AND tenant_id = \(principal.tenantID)
                RETURNING \(sql: Self.milestoneColumns)
                """).first!)
            try await Change(principal: principal, requestID: requestID, outbox: db.outbox).record(
                on: tx, AuditRecord(action: "milestone.updated", objectType: "milestone", objectID: id.lowercased),
                event: .milestoneUpdated, projectID: project, payload: MilestonePayload(m, deleted: false))
            return m
        }
    }

    func deleteMilestone(_ project: UUID, _ id: UUID, _ principal: Principal, requestID: String) async throws {
        try await db.inTenant(of: principal) { tx in
            _ = try await ProjectStore.requireProject(project, principal, on: tx)
            let m = try await requireMilestone(project, id, principal, tx)
            try await tx.query("DELETE FROM pm.milestones WHERE id = \(id) AND tenant_id = \(principal.tenantID)")
            try await Change(principal: principal, requestID: requestID, outbox: db.outbox).record(
                on: tx, AuditRecord(action: "milestone.deleted", objectType: "milestone", objectID: id.lowercased),
                event: .milestoneUpdated, projectID: project, payload: MilestonePayload(m, deleted: true))
        }
    }

    // MARK: Tasks

    static let taskColumns: StaticString = """
        id, project_id, title, description, status, assignee_id, due_date::text AS due_date, labels, source,
        deployment_id, external_id, external_url, created_at, updated_at
        """

    static func task(_ row: PostgresRow) throws -> WorkTask {
        WorkTask(id: try row.decode(UUID.self, "id"), projectID: try row.decode(UUID.self, "project_id"),
                 title: try row.decode(String.self, "title"), description: try row.decode(String.self, "description"),
                 status: TaskStatus(rawValue: try row.decode(String.self, "status")) ?? .todo,
                 assigneeID: try row.decode(UUID?.self, "assignee_id"), dueDate: try row.decode(String?.self, "due_date"),
                 labels: try row.decode([String].self, "labels"),
                 source: TaskSource(rawValue: try row.decode(String.self, "source")) ?? .manual,
                 deploymentID: try row.decode(UUID?.self, "deployment_id"),
                 externalID: try row.decode(String?.self, "external_id"), externalURL: try row.decode(String?.self, "external_url"),
                 createdAt: try row.decode(Date.self, "created_at"), updatedAt: try row.decode(Date.self, "updated_at"))
    }

    struct TaskFilter: Sendable {
        var project: UUID?
        var status: TaskStatus?
        var assignee: UUID?
        var label: String?
    }

    func tasks(_ principal: Principal, filter: TaskFilter, after: Int?, limit: Int) async throws -> ([WorkTask], Int?) {
        if let project = filter.project, !principal.canSee(project: project) { return ([], nil) }
        let project = filter.project ?? principal.projectID
        return try await db.inTenant(of: principal) { tx in
            let rows = try await tx.query("""
                SELECT \(sql: Self.taskColumns), seq FROM pm.tasks
                WHERE tenant_id = \(principal.tenantID)
                  AND (\(project)::uuid IS NULL OR project_id = \(project)::uuid)
                  AND (\(filter.status?.rawValue)::text IS NULL OR status = \(filter.status?.rawValue)::text)
                  AND (\(filter.assignee)::uuid IS NULL OR assignee_id = \(filter.assignee)::uuid)
                  AND (\(filter.label)::text IS NULL OR labels @> ARRAY[\(filter.label)::text])
                  AND (\(after)::bigint IS NULL OR seq > \(after)::bigint)
                ORDER BY seq LIMIT \(limit)
                """)
            return (try rows.map(Self.task), try rows.rows.last.map { try $0.decode(Int.self, "seq") })
        }
    }

    private func requireTask(_ id: UUID, _ principal: Principal, _ tx: PostgresHandle) async throws -> WorkTask {
        guard let row = try await tx.query("""
            SELECT \(sql: Self.taskColumns) FROM pm.tasks WHERE id = \(id) AND tenant_id = \(principal.tenantID)
            """).first else { throw PMError.notFound("task") }
        let task = try Self.task(row)
        guard principal.canSee(project: task.projectID) else { throw PMError.notFound("task") }
        return task
    }

    func task(_ id: UUID, _ principal: Principal) async throws -> WorkTask {
        try await db.inTenant(of: principal) { try await requireTask(id, principal, $0) }
    }

    private func requireAssignee(_ user: UUID?, _ principal: Principal, _ tx: PostgresHandle) async throws {
        guard let user else { return }
        guard try await !tx.query("""
            SELECT 1 FROM pm.memberships WHERE tenant_id = \(principal.tenantID) AND user_id = \(user)
            """).isEmpty else { throw PMError.invalid(field: "assignee_id", "no such user in this tenant") }
    }

    struct TaskInput: Sendable {
        var title: String?
        var description: String?
        var status: TaskStatus?
        var assignee: UUID??
        var dueDate: String??
        var labels: [String]?
        var source: TaskSource?
    }

    func createTask(project: UUID, _ principal: Principal, requestID: String, _ input: TaskInput) async throws -> WorkTask {
        try await db.inTenant(of: principal) { tx in
            guard principal.canSee(project: project), try await !tx.query("""
                SELECT 1 FROM pm.projects WHERE id = \(project) AND tenant_id = \(principal.tenantID)
                """).isEmpty else { throw PMError.invalid(field: "project_id", "no such project") }
            try await requireAssignee(input.assignee ?? nil, principal, tx)
            let t = try Self.task(try await tx.query("""
                INSERT INTO pm.tasks (id, tenant_id, project_id, title, description, status, assignee_id, due_date, labels, source)
                VALUES (\(UUID()), \(principal.tenantID), \(project), \(input.title ?? ""), \(input.description ?? ""),
                        \((input.status ?? .todo).rawValue), \(input.assignee ?? nil), \(input.dueDate ?? nil)::date,
                        \(input.labels ?? [])::text[], \((input.source ?? .manual).rawValue))
                RETURNING \(sql: Self.taskColumns)
                """).first!)
            try await Change(principal: principal, requestID: requestID, outbox: db.outbox).record(
                on: tx, AuditRecord(action: "task.created", objectType: "task", objectID: t.id.lowercased),
                event: .taskCreated, projectID: project, payload: TaskPayload(t, deleted: false))
            return t
        }
    }

    func updateTask(_ id: UUID, _ principal: Principal, requestID: String, _ input: TaskInput) async throws -> WorkTask {
        try await db.inTenant(of: principal) { tx in
            _ = try await requireTask(id, principal, tx)
            if let assignee = input.assignee { try await requireAssignee(assignee, principal, tx) }
            let t = try Self.task(try await tx.query("""
                UPDATE pm.tasks SET title = COALESCE(\(input.title), title),
                    description = COALESCE(\(input.description), description),
                    status = COALESCE(\(input.status?.rawValue), status), source = COALESCE(\(input.source?.rawValue), source),
                    labels = COALESCE(\(input.labels)::text[], labels),
                    assignee_id = CASE WHEN \(input.assignee != nil) THEN \(input.assignee ?? nil)::uuid ELSE assignee_id END,
                    due_date = CASE WHEN \(input.dueDate != nil) THEN \(input.dueDate ?? nil)::date ELSE due_date END,
                    updated_at = now()
                WHERE id = \(id) AND tenant_id = \(principal.tenantID)
                RETURNING \(sql: Self.taskColumns)
                """).first!)
            try await Change(principal: principal, requestID: requestID, outbox: db.outbox).record(
                on: tx, AuditRecord(action: "task.updated", objectType: "task", objectID: id.lowercased),
                event: .taskUpdated, projectID: t.projectID, payload: TaskPayload(t, deleted: false))
            return t
        }
    }

    func deleteTask(_ id: UUID, _ principal: Principal, requestID: String) async throws {
        try await db.inTenant(of: principal) { tx in
            let t = try await requireTask(id, principal, tx)
            try await tx.query("DELETE FROM pm.tasks WHERE id = \(id) AND tenant_id = \(principal.tenantID)")
            try await Change(principal: principal, requestID: requestID, outbox: db.outbox).record(
                on: tx, AuditRecord(action: "task.deleted", objectType: "task", objectID: id.lowercased),
                event: .taskUpdated, projectID: t.projectID, payload: TaskPayload(t, deleted: true))
        }
    }
}
