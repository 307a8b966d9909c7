import FlukeModels
import FlukePostgres
import FlukeRuntime
import Foundation

/// The tenant's people and its audit log.
struct TenantStore: Sendable {
    let db: TenantDatabase

    static let userSelect: StaticString = """
        SELECT u.id, u.email, u.name, m.role, u.created_at FROM pm.memberships m JOIN pm.users u ON u.id = m.user_id
        """

    static func user(_ row: PostgresRow) throws -> UserView {
        UserView(id: try row.decode(UUID.self, at: 0), email: try row.decode(String.self, at: 1),
                 name: try row.decode(String.self, at: 2),
                 role: TenantRole(rawValue: try row.decode(String.self, at: 3)) ?? .viewer,
                 createdAt: try row.decode(Date.self, at: 4))
    }

    func me(_ principal: Principal) async throws -> (UserView, Tenant) {
        try await db.inTenant(of: principal) { tx in
            guard let u = try await tx.query("""
                \(sql: Self.userSelect) WHERE m.tenant_id = \(principal.tenantID) AND m.user_id = \(principal.userID)
                """).first, let t = try await tx.query("SELECT id, name, created_at FROM pm.tenants WHERE id = \(principal.tenantID)").first
            else { throw PMError.notFound("user") }
            return (try Self.user(u), Tenant(id: try t.decode(UUID.self, at: 0), name: try t.decode(String.self, at: 1),
                                             createdAt: try t.decode(Date.self, at: 2)))
        }
    }

    /// The tenants a signed-in user belongs to (the dashboard's tenant switcher); a token sees
    /// only its own tenant.
    func memberships(_ principal: Principal) async throws -> [MembershipView] {
        let onlyCurrent = principal.kind != .user
        return try await db.read(principal, """
            SELECT t.id, t.name, m.role FROM pm.memberships m JOIN pm.tenants t ON t.id = m.tenant_id
            WHERE m.user_id = \(principal.userID) AND (NOT \(onlyCurrent) OR m.tenant_id = \(principal.tenantID))
            ORDER BY m.created_at, t.id LIMIT 1000
            """)[0].map { row in
            MembershipView(id: try row.decode(UUID.self, at: 0), name: try row.decode(String.self, at: 1),
                           role: TenantRole(rawValue: try row.decode(String.self, at: 2)) ?? .viewer)
        }
    }

    func users(_ principal: Principal) async throws -> [UserView] {
        try await db.inTenant(of: principal) { tx in
            try await tx.query("\(sql: Self.userSelect) WHERE m.tenant_id = \(principal.tenantID) ORDER BY m.created_at, u.id")
                .map(Self.user)
        }
    }

    func user(_ id: UUID, _ principal: Principal) async throws -> UserView {
        try await db.inTenant(of: principal) { tx in
            guard let row = try await tx.query("""
                \(sql: Self.userSelect) WHERE m.tenant_id = \(principal.tenantID) AND m.user_id = \(id)
                """).first else { throw PMError.notFound("user") }
            return try Self.user(row)
        }
    }

    /// Only an owner may make or unmake owners.
    private func checkRoleChange(_ principal: Principal, from old: TenantRole?, to new: TenantRole?) throws {
        if (old == .owner || new == .owner) && principal.role != .owner {
            throw PMError.forbidden("only an owner can grant or take the owner role")
        }
    }

    /// Creates a user in the caller's tenant (admins).
    func createUser(_ principal: Principal, requestID: String, email: String, name: String, passwordHash: String,
                    role: TenantRole) async throws -> UserView {
        try checkRoleChange(principal, from: nil, to: role)
        let id = UUID()
        do {
            return try await db.inTenant(of: principal) { tx in
                try await tx.query("""
                    INSERT INTO pm.users (id, email, name, password_hash) VALUES (\(id), \(email), \(name), \(passwordHash))
                    """)
                try await tx.query("""
                    INSERT INTO pm.memberships (tenant_id, user_id, role) VALUES (\(principal.tenantID), \(id), \(role.rawValue))
                    """)
                try await AuditRecord(action: "user.created", objectType: "user", objectID: id.lowercased,
                                      details: .object(["role": .string(role.rawValue)]))
                    .write(on: tx, tenant: principal.tenantID, actor: principal, requestID: requestID)
                return try Self.user(try await tx.query("""
                    \(sql: Self.userSelect) WHERE m.tenant_id = \(principal.tenantID) AND m.user_id = \(id)
                    """).first!)
            }
        } catch let error as PostgresError where error.isUniqueViolation {
            throw PMError.conflict(field: "email", "a user with this e-mail address already exists")
        }
    }

    func setRole(_ id: UUID, _ principal: Principal, requestID: String, role: TenantRole) async throws -> UserView {
        try await db.inTenant(of: principal) { tx in
            let current = try await user(id, principal, tx)
            try checkRoleChange(principal, from: current.role, to: role)
            if current.role == .owner && role != .owner { try await requireAnotherOwner(id, principal, tx) }
            try await tx.query("""
                UPDATE pm.memberships SET role = \(role.rawValue) WHERE tenant_id = \(principal.tenantID) AND user_id = \(id)
                """)
            try await AuditRecord(action: "user.role_changed", objectType: "user", objectID: id.lowercased,
                                  details: .object(["from": .string(current.role.rawValue), "to": .string(role.rawValue)]))
                .write(on: tx, tenant: principal.tenantID, actor: principal, requestID: requestID)
            var updated = current
            updated.role = role
            return updated
        }
    }

    func removeUser(_ id: UUID, _ principal: Principal, requestID: String) async throws {
        try await db.inTenant(of: principal) { tx in
            let current = try await user(id, principal, tx)
            try checkRoleChange(principal, from: current.role, to: nil)
            if current.role == .owner { try await requireAnotherOwner(id, principal, tx) }
            try await tx.query("DELETE FROM pm.project_members WHERE tenant_id = \(principal.tenantID) AND user_id = \(id)")
            try await tx.query("DELETE FROM pm.memberships WHERE tenant_id = \(principal.tenantID) AND user_id = \(id)")
            try await tx.query("""
                UPDATE pm.refresh_tokens SET revoked_at = now() WHERE tenant_id = \(principal.tenantID) AND user_id = \(id)
                  AND revoked_at IS NULL
                """)
            try await AuditRecord(action: "user.removed", objectType: "user", objectID: id.lowercased)
                .write(on: tx, tenant: principal.tenantID, actor: principal, requestID: requestID)
        }
    }

    private func user(_ id: UUID, _ principal: Principal, _ tx: PostgresHandle) async throws -> UserView {
        guard let row = try await tx.query("""
            \(sql: Self.userSelect) WHERE m.tenant_id = \(principal.tenantID) AND m.user_id = \(id)
            """).first else { throw PMError.notFound("user") }
        return try Self.user(row)
    }

    private func requireAnotherOwner(_ id: UUID, _ principal: Principal, _ tx: PostgresHandle) async throws {
        let owners = try await tx.query("""
            SELECT count(*) FROM pm.memberships WHERE tenant_id = \(principal.tenantID) AND role = 'owner' AND user_id <> \(id)
            """).first!.decode(Int.self, at: 0)
        guard owners > 0 else { throw PMError.conflict(field: "role", "a tenant must keep at least one owner") }
    }

    func audit(_ principal: Principal, before: Int?, limit: Int) async throws -> ([AuditEntry], Int?) {
        try await db.inTenant(of: principal) { tx in
            let rows = try await tx.query("""
                SELECT id, at, actor_user_id, actor_token_id, action, object_type, object_id, request_id, details::text
                FROM pm.audit_log WHERE tenant_id = \(principal.tenantID) AND (\(before)::bigint IS NULL OR id < \(before)::bigint)
                ORDER BY id DESC LIMIT \(limit)
                """)
            let entries = try rows.map { row in
                AuditEntry(id: try row.decode(Int.self, at: 0), at: try row.decode(Date.self, at: 1),
                           actorUserID: try row.decode(UUID?.self, at: 2), actorTokenID: try row.decode(UUID?.self, at: 3),
                           action: try row.decode(String.self, at: 4), objectType: try row.decode(String.self, at: 5),
                           objectID: try row.decode(String?.self, at: 6), requestID: try row.decode(String?.self, at: 7),
                           details: try FleetJSON.decode(JSONValue.self, from: Data(try row.decode(String.self, at: 8).utf8)))
            }
            return (entries, entries.last?.id)
        }
    }
}
