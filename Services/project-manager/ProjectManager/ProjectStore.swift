import FlukeModels
import FlukePostgres
import FlukeRuntime
import Foundation

/// Projects, their team and milestones: every statement runs in the caller's tenant (row-level
/// security) and is also filtered by it in SQL, and a token bound to a project sees only that one.
struct ProjectStore: Sendable {
    let db: TenantDatabase
    let cache: ProjectCache

    static let projectColumns: StaticString =
        "id, tenant_id, name, description, stage, repository_url, created_by, created_at, updated_at"

    static func project(_ row: PostgresRow) throws -> Project {
        Project(id: try row.decode(UUID.self, "id"), tenantID: try row.decode(UUID.self, "tenant_id"),
                name: try row.decode(String.self, "name"), description: try row.decode(String.self, "description"),
                stage: ProjectStage(rawValue: try row.decode(String.self, "stage")) ?? .idea,
                repositoryURL: try row.decode(String?.self, "repository_url"), createdBy: try row.decode(UUID?.self, "created_by"),
                createdAt: try row.decode(Date.self, "created_at"), updatedAt: try row.decode(Date.self, "updated_at"))
    }

    /// 404 unless the project exists in the caller's tenant and the caller may see it.
    static func requireProject(_ id: UUID, _ principal: Principal, on tx: PostgresHandle) async throws -> Project {
        guard principal.canSee(project: id), let row = try await tx.query("""
            SELECT \(sql: projectColumns) FROM pm.projects WHERE id = \(id) AND tenant_id = \(principal.tenantID)
            """).first else { throw PMError.notFound("project") }
        return try project(row)
    }

    func list(_ principal: Principal, after: Int?, limit: Int) async throws -> ([Project], Int?) {
        try await db.inTenant(of: principal) { tx in
            let rows = try await tx.query("""
                SELECT \(sql: Self.projectColumns), seq FROM pm.projects
                WHERE tenant_id = \(principal.tenantID) AND (\(principal.projectID)::uuid IS NULL OR id = \(principal.projectID)::uuid)
                  AND (\(after)::bigint IS NULL OR seq > \(after)::bigint)
                ORDER BY seq LIMIT \(limit)
                """)
            return (try rows.map(Self.project), try rows.rows.last.map { try $0.decode(Int.self, "seq") })
        }
    }

    func get(_ id: UUID, _ principal: Principal) async throws -> Project {
        guard principal.canSee(project: id) else { throw PMError.notFound("project") }
        let key = ProjectCacheKey(project: id, tenant: principal.tenantID)
        if let hit = cache.get(key) { return hit }
        let epoch = cache.epoch()
        let rows = try await db.read(principal, """
            SELECT \(sql: Self.projectColumns) FROM pm.projects WHERE id = \(id) AND tenant_id = \(principal.tenantID)
            """)
        guard let row = rows[0].first else { throw PMError.notFound("project") }
        let project = try Self.project(row)
        cache.put(project, for: key, readAt: epoch)
        return project
    }

    func create(_ principal: Principal, requestID: String, name: String, description: String, stage: ProjectStage,
                repositoryURL: String?) async throws -> Project {
        guard principal.projectID == nil else { throw PMError.forbidden("a token bound to a project cannot create projects") }
        let id = UUID()
        return try await db.inTenant(of: principal) { tx in
            let project = try Self.project(try await tx.query("""
                INSERT INTO pm.projects (id, tenant_id, name, description, stage, repository_url, created_by)
                VALUES (\(id), \(principal.tenantID), \(name), \(description), \(stage.rawValue), \(repositoryURL), \(principal.userID))
                RETURNING \(sql: Self.projectColumns)
                """).first!)
            try await Change(principal: principal, requestID: requestID, outbox: db.outbox).record(
                on: tx, AuditRecord(action: "project.created", objectType: "project", objectID: id.lowercased),
                event: .projectCreated, projectID: id, payload: ProjectPayload(project))
            return project
        }
    }

    func update(_ id: UUID, _ principal: Principal, requestID: String, name: String?, description: String?, stage: ProjectStage?,
                repositoryURL: String??) async throws -> Project {
        // Dropped before and after: a reader between the two cannot cache the old row for long.
        cache.invalidate(id)
        defer { cache.invalidate(id) }
        return try await db.inTenant(of: principal) { tx in
            _ = try await Self.requireProject(id, principal, on: tx)
            let project = try Self.project(try await tx.query("""
                UPDATE pm.projects SET name = COALESCE(\(name), name), description = COALESCE(\(description), description),
                    stage = COALESCE(\(stage?.rawValue), stage),
                    repository_url = CASE WHEN \(repositoryURL != nil) THEN \(repositoryURL ?? nil) ELSE repository_url END,
                    updated_at = now()
                WHERE id = \(id) AND tenant_id = \(principal.tenantID)
                RETURNING \(sql: Self.projectColumns)
                """).first!)
            try await Change(principal: principal, requestID: requestID, outbox: db.outbox).record(
                on: tx, AuditRecord(action: "project.updated", objectType: "project", objectID: id.lowercased),
                event: .projectUpdated, projectID: id, payload: ProjectPayload(project))
            return project
        }
    }

    func delete(_ id: UUID, _ principal: Principal, requestID: String) async throws {
        cache.invalidate(id)
        defer { cache.invalidate(id) }
        try await db.inTenant(of: principal) { tx in
            _ = try await Self.requireProject(id, principal, on: tx)
            try await tx.query("DELETE FROM pm.projects WHERE id = \(id) AND tenant_id = \(principal.tenantID)")
            try await Change(principal: principal, requestID: requestID, outbox: db.outbox).record(
                on: tx, AuditRecord(action: "project.deleted", objectType: "project", objectID: id.lowercased),
                event: .projectDeleted, projectID: id, payload: ProjectDeletedPayload(id: id))
        }
    }

    // MARK: Team

    static let memberSelect: StaticString = """
        SELECT pmb.project_id, pmb.user_id, u.name, u.email, pmb.role, pmb.added_at
        FROM pm.project_members pmb JOIN pm.users u ON u.id = pmb.user_id
        """

    static func member(_ row: PostgresRow) throws -> ProjectMember {
        ProjectMember(projectID: try row.decode(UUID.self, at: 0), userID: try row.decode(UUID.self, at: 1),
                      name: try row.decode(String.self, at: 2), email: try row.decode(String.self, at: 3),
                      role: ProjectRole(rawValue: try row.decode(String.self, at: 4)) ?? .developer,
                      addedAt: try row.decode(Date.self, at: 5))
    }

    func members(_ project: UUID, _ principal: Principal) async throws -> [ProjectMember] {
        try await db.inTenant(of: principal) { tx in
            _ = try await Self.requireProject(project, principal, on: tx)
            return try await tx.query("""
                \(sql: Self.memberSelect) WHERE pmb.project_id = \(project) AND pmb.tenant_id = \(principal.tenantID)
                ORDER BY pmb.added_at, pmb.user_id
                """).map(Self.member)
        }
    }

    /// Adds a tenant user to the team, or changes their project role.
    func setMember(_ project: UUID, user: UUID, role: ProjectRole, _ principal: Principal, requestID: String, isNew: Bool)
        async throws -> ProjectMember {
        try await db.inTenant(of: principal) { tx in
            _ = try await Self.requireProject(project, principal, on: tx)
            if isNew {
                guard try await !tx.query("""
                    SELECT 1 FROM pm.memberships WHERE tenant_id = \(principal.tenantID) AND user_id = \(user)
                    """).isEmpty else { throw PMError.invalid(field: "user_id", "no such user in this tenant") }
                let inserted = try await tx.query("""
                    INSERT INTO pm.project_members (tenant_id, project_id, user_id, role)
                    VALUES (\(principal.tenantID), \(project), \(user), \(role.rawValue)) ON CONFLICT DO NOTHING
                    """)
                guard inserted.affectedRows == 1 else {
                    throw PMError.conflict(field: "user_id", "the user is already a member of this project")
                }
            } else {
                guard try await tx.query("""
                    UPDATE pm.project_members SET role = \(role.rawValue)
                    WHERE project_id = \(project) AND user_id = \(user) AND tenant_id = \(principal.tenantID)
                    """).affectedRows == 1 else { throw PMError.notFound("member") }
            }
            let member = try Self.member(try await tx.query("""
                \(sql: Self.memberSelect) WHERE pmb.project_id = \(project) AND pmb.user_id = \(user)
                """).first!)
            try await Change(principal: principal, requestID: requestID, outbox: db.outbox).record(
                on: tx, AuditRecord(action: isNew ? "member.added" : "member.updated", objectType: "project_member",
                                    objectID: user.lowercased, details: .object(["project_id": .string(project.lowercased)])),
                event: .memberAdded, projectID: project, payload: MemberAddedPayload(member))
            return member
        }
    }

    func removeMember(_ project: UUID, user: UUID, _ principal: Principal, requestID: String) async throws {
        try await db.inTenant(of: principal) { tx in
            _ = try await Self.requireProject(project, principal, on: tx)
            guard try await tx.query("""
                DELETE FROM pm.project_members WHERE project_id = \(project) AND user_id = \(user) AND tenant_id = \(principal.tenantID)
                """).affectedRows == 1 else { throw PMError.notFound("member") }
            try await Change(principal: principal, requestID: requestID, outbox: db.outbox).record(
                on: tx, AuditRecord(action: "member.removed", objectType: "project_member", objectID: user.lowercased,
                                    details: .object(["project_id": .string(project.lowercased)])),
                event: .memberRemoved, projectID: project, payload: MemberRemovedPayload(projectID: project, userID: user))
        }
    }
}
