import FlukeModels
import FlukePostgres
import FlukeRuntime
import Foundation
import Hummingbird

/// A workspace linked to a project, with when its status was last read and why that failed.
struct LinkedWorkspace: Codable, Sendable, ResponseEncodable {
    var workspace: WorkspaceView
    var connectionID: UUID
    var checkedAt: Date
    var checkError: String?

    enum CodingKeys: String, CodingKey { case connectionID = "connection_id", checkedAt = "checked_at", checkError = "check_error" }

    init(workspace: WorkspaceView, connectionID: UUID, checkedAt: Date, checkError: String?) {
        (self.workspace, self.connectionID, self.checkedAt, self.checkError) = (workspace, connectionID, checkedAt, checkError)
    }

    // The workspace's fields sit beside the link's.
    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        workspace = try WorkspaceView(from: decoder)
        connectionID = try c.decode(UUID.self, forKey: .connectionID)
        checkedAt = try c.decode(Date.self, forKey: .checkedAt)
        checkError = try c.decodeIfPresent(String.self, forKey: .checkError)
    }

    func encode(to encoder: Encoder) throws {
        try workspace.encode(to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(connectionID, forKey: .connectionID)
        try c.encode(checkedAt, forKey: .checkedAt)
        try c.encodeIfPresent(checkError, forKey: .checkError)
    }
}

/// Projects' linked Coder workspaces (`pm.project_workspaces`).
struct WorkspaceStore: Sendable {
    let db: TenantDatabase
    /// The most workspaces one project links.
    static let limit = 20
    static let columns: StaticString = """
        workspace_id, connection_id, name, owner_name, template, url, status, transition, healthy, outdated, last_used_at,
        checked_at, check_error
        """

    static func linked(_ row: PostgresRow) throws -> LinkedWorkspace {
        LinkedWorkspace(
            workspace: WorkspaceView(id: try row.decode(UUID.self, "workspace_id"), name: try row.decode(String.self, "name"),
                                     owner: try row.decode(String.self, "owner_name"), template: try row.decode(String?.self, "template"),
                                     status: try row.decode(String.self, "status"), transition: try row.decode(String?.self, "transition"),
                                     healthy: try row.decode(Bool?.self, "healthy"), outdated: try row.decode(Bool?.self, "outdated"),
                                     lastUsedAt: try row.decode(String?.self, "last_used_at"), url: try row.decode(String.self, "url")),
            connectionID: try row.decode(UUID.self, "connection_id"), checkedAt: try row.decode(Date.self, "checked_at"),
            checkError: try row.decode(String?.self, "check_error"))
    }

    /// Makes `workspaces` (read from Coder just now) the project's linked workspaces.
    func replace(_ project: UUID, connection: UUID, _ workspaces: [WorkspaceView], _ principal: Principal,
                 requestID: String) async throws -> [LinkedWorkspace] {
        try await db.inTenant(of: principal) { tx in
            _ = try await ProjectStore.requireProject(project, principal, on: tx)
            let tenant = principal.tenantID
            try await tx.query("""
                DELETE FROM pm.project_workspaces WHERE tenant_id = \(tenant) AND project_id = \(project)
                  AND NOT (workspace_id::text = ANY(\(workspaces.map { $0.id.lowercased })))
                """)
            for w in workspaces {
                try await tx.query("""
                    INSERT INTO pm.project_workspaces (tenant_id, project_id, workspace_id, connection_id, name, owner_name, template,
                                                       url, status, transition, healthy, outdated, last_used_at)
                    VALUES (\(tenant), \(project), \(w.id), \(connection), \(w.name), \(w.owner), \(w.template), \(w.url), \(w.status),
                            \(w.transition), \(w.healthy), \(w.outdated), \(w.lastUsedAt))
                    ON CONFLICT (tenant_id, project_id, workspace_id) DO UPDATE SET
                        connection_id = EXCLUDED.connection_id, name = EXCLUDED.name, owner_name = EXCLUDED.owner_name,
                        template = EXCLUDED.template, url = EXCLUDED.url, status = EXCLUDED.status, transition = EXCLUDED.transition,
                        healthy = EXCLUDED.healthy, outdated = EXCLUDED.outdated, last_used_at = EXCLUDED.last_used_at,
                        checked_at = now(), check_error = NULL
                    """)
            }
            try await Change(principal: principal, requestID: requestID, outbox: db.outbox)
                .record(on: tx, AuditRecord(action: "workspaces.linked", objectType: "project", objectID: project.lowercased,
                                            details: .object(["workspace_ids": .array(workspaces.map { .string($0.id.lowercased) })])))
            return try await tx.query("""
                SELECT \(sql: Self.columns) FROM pm.project_workspaces WHERE tenant_id = \(tenant) AND project_id = \(project) ORDER BY name
                """).map(Self.linked)
        }
    }

    func list(_ project: UUID, _ principal: Principal) async throws -> [LinkedWorkspace] {
        try await db.inTenant(of: principal) { tx in
            _ = try await ProjectStore.requireProject(project, principal, on: tx)
            return try await tx.query("""
                SELECT \(sql: Self.columns) FROM pm.project_workspaces
                WHERE tenant_id = \(principal.tenantID) AND project_id = \(project) ORDER BY name
                """).map(Self.linked)
        }
    }
}

/// The fleet's own work on linked workspaces: the refresh's due rows, claims and results.
extension WorkspaceStore {
    struct Due: Sendable {
        var tenant: UUID
        var project: UUID
        var workspace: UUID
        var connection: UUID
    }

    func due(limit: Int = 200) async throws -> [Due] {
        try await db.readAsSystem("""
            SELECT tenant_id, project_id, workspace_id, connection_id FROM pm.project_workspaces
            WHERE next_check_at <= now() ORDER BY next_check_at LIMIT \(limit)
            """)[0].map { row in
            Due(tenant: try row.decode(UUID.self, at: 0), project: try row.decode(UUID.self, at: 1),
                workspace: try row.decode(UUID.self, at: 2), connection: try row.decode(UUID.self, at: 3))
        }
    }

    /// Takes the row's check until `interval` from now; false when another replica has.
    func claim(_ due: Due, for interval: Duration) async throws -> Bool {
        try await db.inTenant(due.tenant) { tx in
            try await !tx.query("""
                UPDATE pm.project_workspaces SET next_check_at = now() + make_interval(secs => \(interval.secondsValue))
                WHERE tenant_id = \(due.tenant) AND project_id = \(due.project) AND workspace_id = \(due.workspace)
                  AND next_check_at <= now() RETURNING 1
                """).isEmpty
        }
    }

    /// Keeps what Coder said of the workspace (every project linking it), or why it could not be read.
    func checked(tenant: UUID, workspace: UUID, _ view: WorkspaceView?, error: String?) async throws {
        try await db.inTenant(tenant) { tx in
            if let w = view {
                try await tx.query("""
                    UPDATE pm.project_workspaces SET name = \(w.name), owner_name = \(w.owner), template = \(w.template), url = \(w.url),
                        status = \(w.status), transition = \(w.transition), healthy = \(w.healthy), outdated = \(w.outdated),
                        last_used_at = \(w.lastUsedAt), checked_at = now(), check_error = NULL
                    WHERE tenant_id = \(tenant) AND workspace_id = \(workspace)
                    """)
            } else {
                try await tx.query("""
                    UPDATE pm.project_workspaces SET check_error = \(error.map { String($0.prefix(1000)) })
                    WHERE tenant_id = \(tenant) AND workspace_id = \(workspace)
                    """)
            }
        }
    }

    /// A workspace Coder no longer has: `deleted`, kept until someone unlinks it.
    func gone(tenant: UUID, workspace: UUID) async throws {
        try await db.inTenant(tenant) { tx in
            try await tx.query("""
                UPDATE pm.project_workspaces SET status = 'deleted', transition = 'delete', healthy = NULL, checked_at = now(),
                    check_error = NULL
                WHERE tenant_id = \(tenant) AND workspace_id = \(workspace)
                """)
        }
    }

    /// Due at once (after a start or stop): the next refresh reads them.
    func recheckSoon(tenant: UUID, workspace: UUID) async throws {
        try await db.inTenant(tenant) { tx in
            try await tx.query("""
                UPDATE pm.project_workspaces SET next_check_at = now() WHERE tenant_id = \(tenant) AND workspace_id = \(workspace)
                """)
        }
    }
}
