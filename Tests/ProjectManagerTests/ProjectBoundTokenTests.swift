import FlukeTestSupport
import Foundation
@testable import ProjectManager
import Testing

@Suite("project-manager: a token bound to a project reaches only that project", .needsPostgresAndNATS)
struct ProjectBoundTokenTests {
    @Test("a project-bound admin token gets 403 on every tenant-wide route and changes nothing there")
    func tenantWideRoutes() async throws {
        try await PMHarness().run { c, _ in
            let owner = try await c.signup()
            let member = try await c.addUser(to: owner, role: "member")
            let project = try await c.createProject(owner.accessToken)
            let bound = try #require(try await c.createToken(owner.accessToken, scopes: ["admin", "context:read", "context:write"],
                                                             projectID: project).string("token"))
            let routes: [(String, String, [String: Any]?)] = [
                ("GET", "/api/v1/users", nil),
                ("POST", "/api/v1/users", ["email": "escape@example.com", "name": "Escape", "password": "password-escape",
                                           "role": "admin"]),
                ("GET", "/api/v1/users/\(member.userID)", nil),
                ("PATCH", "/api/v1/users/\(member.userID)", ["role": "admin"]),
                ("DELETE", "/api/v1/users/\(member.userID)", nil),
                ("GET", "/api/v1/audit", nil),
                ("POST", "/api/v1/projects", ["name": "Elsewhere"]),
            ]
            for (method, uri, body) in routes {
                let r = try await c.call(.init(method)!, uri, token: bound, json: body)
                #expect(r.status == 403, "\(method) \(uri) → \(r.status) \(r.json)")
                #expect(r.headers[.contentType] == "application/problem+json", "\(method) \(uri)")
                #expect(r.string("project_id") == project, "\(method) \(uri)")
            }
            // Nothing escaped: no new user, the member keeps their role and their place.
            let users = try await c.call(.get, "/api/v1/users", token: owner.accessToken)
            #expect(users.items.count == 2)
            #expect(users.items.first { $0["id"] as? String == member.userID }?["role"] as? String == "member")
            #expect(try await c.login("escape@example.com", "password-escape").status == 401)
            // Its own project and its own identity stay open to it.
            #expect(try await c.call(.get, "/api/v1/projects/\(project)", token: bound).status == 200)
            #expect(try await c.call(.get, "/api/v1/me", token: bound).status == 200)
        }
    }

    @Test("a project-bound token lists and revokes only its project's tokens")
    func tokensOfItsProject() async throws {
        try await PMHarness().run { c, _ in
            let owner = try await c.signup()
            let a = try await c.createProject(owner.accessToken)
            let b = try await c.createProject(owner.accessToken)
            let boundA = try #require(try await c.createToken(owner.accessToken, scopes: ["admin", "context:read"], projectID: a)
                .string("token"))
            let otherA = try #require(try await c.createToken(owner.accessToken, scopes: ["context:read"], projectID: a).string("id"))
            let inB = try #require(try await c.createToken(owner.accessToken, scopes: ["context:read"], projectID: b).string("id"))
            let unbound = try #require(try await c.createToken(owner.accessToken, scopes: ["context:read"]).string("id"))
            let listed = try await c.call(.get, "/api/v1/tokens", token: boundA)
            #expect(listed.status == 200)
            #expect(Set(listed.items.compactMap { $0["project_id"] as? String }) == [a])
            #expect(!listed.items.contains { [inB, unbound].contains($0["id"] as? String ?? "") })
            #expect(try await c.call(.delete, "/api/v1/tokens/\(inB)", token: boundA).status == 404)
            #expect(try await c.call(.delete, "/api/v1/tokens/\(unbound)", token: boundA).status == 404)
            #expect(try await c.call(.delete, "/api/v1/tokens/\(otherA)", token: boundA).status == 204)
            let all = try await c.call(.get, "/api/v1/tokens", token: owner.accessToken)
            let revoked = Set(all.items.filter { $0["revoked_at"] as? String != nil }.compactMap { $0["id"] as? String })
            #expect(revoked == [otherA])
        }
    }
}
