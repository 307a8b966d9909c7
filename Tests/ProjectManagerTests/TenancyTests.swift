import FlukePostgres
import FlukeRuntime
import FlukeTestSupport
import Foundation
@testable import ProjectManager
import Testing

@Suite("project-manager tenancy: enforced in code and by Postgres row-level security", .needsPostgresAndNATS)
struct TenancyTests {
    /// Tenant B's objects, one of each kind.
    struct World: Sendable {
        var project: String
        var milestone: String
        var task: String
        var member: String
        var token: String
    }

    static func populate(_ c: PMClient, _ owner: PMClient.Account) async throws -> World {
        let t = owner.accessToken
        let project = try await c.createProject(t, name: "B secret project")
        let member = try await c.addUser(to: owner, role: "member")
        _ = try await c.call(.post, "/api/v1/projects/\(project)/members", token: t, json: ["user_id": member.userID])
        let m = try await c.call(.post, "/api/v1/projects/\(project)/milestones", token: t, json: ["title": "B milestone"])
        let task = try await c.call(.post, "/api/v1/tasks", token: t, json: ["title": "B task", "project_id": project])
        let token = try await c.createToken(t, scopes: ["context:read"])
        return World(project: project, milestone: m.string("id")!, task: task.string("id")!, member: member.userID,
                     token: token.string("id")!)
    }

    @Test("a user of tenant A gets 404 for every read, update and delete of tenant B's objects, through every route, and B's objects stay as they were")
    func crossTenant404() async throws {
        try await PMHarness().run { c, _ in
            let a = try await c.signup(tenant: "A")
            let b = try await c.signup(tenant: "B")
            let w = try await Self.populate(c, b)
            let p = w.project
            let attempts: [(String, String, [String: Any]?)] = [
                ("GET", "/api/v1/projects/\(p)", nil),
                ("PATCH", "/api/v1/projects/\(p)", ["name": "pwned"]),
                ("DELETE", "/api/v1/projects/\(p)", nil),
                ("GET", "/api/v1/projects/\(p)/status", nil),
                ("GET", "/api/v1/projects/\(p)/members", nil),
                ("POST", "/api/v1/projects/\(p)/members", ["user_id": a.userID]),
                ("PATCH", "/api/v1/projects/\(p)/members/\(w.member)", ["role": "observer"]),
                ("DELETE", "/api/v1/projects/\(p)/members/\(w.member)", nil),
                ("GET", "/api/v1/projects/\(p)/milestones", nil),
                ("POST", "/api/v1/projects/\(p)/milestones", ["title": "pwned"]),
                ("GET", "/api/v1/projects/\(p)/milestones/\(w.milestone)", nil),
                ("PATCH", "/api/v1/projects/\(p)/milestones/\(w.milestone)", ["title": "pwned"]),
                ("DELETE", "/api/v1/projects/\(p)/milestones/\(w.milestone)", nil),
                ("GET", "/api/v1/tasks/\(w.task)", nil),
                ("PATCH", "/api/v1/tasks/\(w.task)", ["title": "pwned"]),
                ("DELETE", "/api/v1/tasks/\(w.task)", nil),
                ("DELETE", "/api/v1/tokens/\(w.token)", nil),
                ("GET", "/api/v1/users/\(w.member)", nil),
                ("PATCH", "/api/v1/users/\(w.member)", ["role": "viewer"]),
                ("DELETE", "/api/v1/users/\(w.member)", nil),
            ]
            for (method, uri, body) in attempts {
                let r = try await c.call(.init(method)!, uri, token: a.accessToken, json: body)
                #expect(r.status == 404, "\(method) \(uri) → \(r.status) \(r.json)")
            }
            // Creating a task in B's project is refused as if the project did not exist.
            let task = try await c.call(.post, "/api/v1/tasks", token: a.accessToken, json: ["title": "x", "project_id": p])
            #expect(task.status == 422 && task.string("field") == "project_id")
            // A's lists show nothing of B's.
            for uri in ["/api/v1/projects", "/api/v1/tasks", "/api/v1/tasks?project_id=\(p)", "/api/v1/tokens", "/api/v1/audit"] {
                let r = try await c.call(.get, uri, token: a.accessToken)
                #expect(r.status == 200)
                #expect(!String(decoding: r.body, as: UTF8.self).contains(p), "\(uri)")
            }
            let users = try await c.call(.get, "/api/v1/users", token: a.accessToken)
            #expect(users.items.map { $0["id"] as? String } == [a.userID])
            // B's world is untouched.
            let t = b.accessToken
            #expect(try await c.call(.get, "/api/v1/projects/\(p)", token: t).string("name") == "B secret project")
            #expect(try await c.call(.get, "/api/v1/projects/\(p)/milestones/\(w.milestone)", token: t).string("title") == "B milestone")
            #expect(try await c.call(.get, "/api/v1/tasks/\(w.task)", token: t).string("title") == "B task")
            let members = try await c.call(.get, "/api/v1/projects/\(p)/members", token: t)
            #expect(members.items.first?["role"] as? String == "developer")
            #expect(try await c.call(.get, "/api/v1/users/\(w.member)", token: t).string("role") == "member")
            #expect(try await c.call(.get, "/api/v1/tokens", token: t).items.first?["revoked_at"] == nil)
        }
    }

    @Test("as the service role with no tenant set, every tenant table shows zero rows; with a tenant set, only that tenant's")
    func rowLevelSecurity() async throws {
        let h = try await PMHarness()
        try await h.run { c, parts in
            let a = try await c.signup(tenant: "A")
            let b = try await c.signup(tenant: "B")
            _ = try await Self.populate(c, a)
            _ = try await Self.populate(c, b)
            let tables = ["tenants", "users", "memberships", "refresh_tokens", "api_tokens", "projects", "project_members",
                          "milestones", "tasks", "audit_log", "connections", "app_deployments", "project_repositories", "project_workspaces"]
            // Ground truth, as the superuser.
            let total = try await h.database.withAdminClient { db in
                try await db.query("SELECT count(*) FROM pm.projects").first!.decode(Int.self, at: 0)
            }
            #expect(total == 2)
            let service = PostgresClient(configuration: .init(url: h.database.url(role: "fluke_pm"), applicationName: "rls-test"),
                                         logger: TestEnvironment.logger)
            for table in tables {
                let n = try await service.query("SELECT count(*) FROM \(identifier: "pm").\(identifier: table)")
                    .first!.decode(Int.self, at: 0)
                #expect(n == 0, "pm.\(table) without a tenant")
            }
            let inA = try await service.withTransaction { tx in
                try await tx.setLocal("app.tenant_id", a.tenantID)
                return try await tx.query("SELECT DISTINCT tenant_id FROM pm.projects").map { try $0.decode(String.self, at: 0) }
            }
            #expect(inA == [a.tenantID])
            // Writing into another tenant is refused by the policy's WITH CHECK.
            await #expect(throws: PostgresError.self) {
                try await service.withTransaction { tx in
                    try await tx.setLocal("app.tenant_id", a.tenantID)
                    try await tx.query("""
                        INSERT INTO pm.projects (id, tenant_id, name, stage) VALUES (\(UUID()), \(UUID(uuidString: b.tenantID)!), 'x', 'idea')
                        """)
                }
            }
            // The login role owns nothing, cannot bypass RLS, and every tenant table forces it.
            let facts = try await service.query("""
                SELECT (SELECT rolbypassrls FROM pg_roles WHERE rolname = current_user),
                       (SELECT count(*) FROM pg_tables WHERE schemaname = 'pm' AND tableowner = current_user),
                       (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                         WHERE n.nspname = 'pm' AND c.relkind = 'r' AND c.relrowsecurity AND c.relforcerowsecurity)
                """).first!
            #expect(try facts.decode(Bool.self, at: 0) == false)
            #expect(try facts.decode(Int.self, at: 1) == 0)
            #expect(try facts.decode(Int.self, at: 2) == tables.count)
            // A pooled connection that served tenant A carries nothing into the next transaction.
            let after = try await service.withConnection { conn in
                try await conn.query("BEGIN")
                try await conn.setLocal("app.tenant_id", a.tenantID)
                try await conn.query("COMMIT")
                return try await conn.query("SELECT count(*) FROM pm.projects").first!.decode(Int.self, at: 0)
            }
            #expect(after == 0)
            await service.shutdown()
            _ = parts
        }
    }
}
