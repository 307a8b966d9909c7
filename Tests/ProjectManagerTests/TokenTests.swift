import FlukeCrypto
import FlukeModels
import FlukeNATS
import FlukeRuntime
import FlukeTestSupport
import Foundation
@testable import ProjectManager
import Testing

@Suite("project-manager API tokens and fluke.rpc.identity.verify", .needsPostgresAndNATS)
struct TokenTests {
    /// How long the test's own identity requests wait: project-manager answers in milliseconds,
    /// but on a machine busy with the whole suite (and a first build) a reply can take seconds.
    static let loadedMachinePatience: Duration = .seconds(10)

    @Test("a token is fbk_ + 43 base62 characters, shown once, stored only as its SHA-256, listed without its secret")
    func tokenLifecycle() async throws {
        let h = try await PMHarness()
        try await h.run { c, _ in
            let owner = try await c.signup()
            let created = try await c.createToken(owner.accessToken, scopes: ["context:read", "logs:read"])
            #expect(created.status == 201)
            let token = try #require(created.string("token"))
            #expect(token.hasPrefix("fbk_") && token.count == 47 && Base62.isBase62(token.dropFirst(4)))
            #expect(created.string("prefix") == String(token.prefix(10)))
            let list = try await c.call(.get, "/api/v1/tokens", token: owner.accessToken)
            #expect(list.items.count == 1 && list.items[0]["token"] == nil)
            #expect(!String(decoding: list.body, as: UTF8.self).contains(token))
            let stored = try await h.database.withAdminClient { db in
                try await db.query("SELECT token_hash, row_to_json(t)::text FROM pm.api_tokens t").first!
            }
            #expect(try stored.decode(String.self, at: 0) == Crypto.sha256Hex(token))
            #expect(try !stored.decode(String.self, at: 1).contains(String(token.dropFirst(10))))
            // It authenticates, with its scopes and no more.
            let me = try await c.call(.get, "/api/v1/me", token: token)
            #expect(me.status == 200 && me.string("authenticated_with") == "api_token")
            #expect(Set(me["scopes"] as? [String] ?? []) == ["context:read", "logs:read"])
            #expect(try await c.call(.get, "/api/v1/projects", token: token).status == 200)
            #expect(try await c.call(.post, "/api/v1/projects", token: token, json: ["name": "x"]).status == 403)
            // last_used_at is recorded.
            let listed = try await c.call(.get, "/api/v1/tokens", token: owner.accessToken)
            #expect(listed.items.first?["last_used_at"] as? String != nil)
        }
    }

    @Test("nobody grants scopes they lack; bad token requests are 422 naming the field")
    func tokenRules() async throws {
        try await PMHarness().run { c, _ in
            let owner = try await c.signup()
            let member = try await c.addUser(to: owner, role: "member")
            #expect(try await c.createToken(member.accessToken, scopes: ["admin"]).status == 403)
            #expect(try await c.createToken(member.accessToken, scopes: ["deploy:write"]).status == 201)
            let bad = try await c.createToken(owner.accessToken, scopes: ["context:read", "root"])
            #expect(bad.status == 422 && bad.string("field") == "scopes[1]")
            #expect(try await c.createToken(owner.accessToken, scopes: []).string("field") == "scopes")
            let badProject = try await c.createToken(owner.accessToken, scopes: ["context:read"], projectID: UUID().uuidString)
            #expect(badProject.status == 422 && badProject.string("field") == "project_id")
            let days = try await c.call(.post, "/api/v1/tokens", token: owner.accessToken,
                                        json: ["name": "t", "scopes": ["context:read"], "expires_in_days": 0])
            #expect(days.status == 422 && days.string("field") == "expires_in_days")
            // A project-bound token sees only its project.
            let a = try await c.createProject(owner.accessToken)
            let b = try await c.createProject(owner.accessToken)
            let bound = try await c.createToken(owner.accessToken, scopes: ["context:read", "context:write"], projectID: a)
            let token = bound.string("token")!
            #expect(try await c.call(.get, "/api/v1/projects/\(a)", token: token).status == 200)
            #expect(try await c.call(.get, "/api/v1/projects/\(b)", token: token).status == 404)
            let list = try await c.call(.get, "/api/v1/projects", token: token)
            #expect(list.items.map { $0["id"] as? String } == [a])
            #expect(try await c.call(.post, "/api/v1/tasks", token: token, json: ["title": "t", "project_id": b]).status == 422)
            let task = try await c.call(.post, "/api/v1/tasks", token: token, json: ["title": "t"])
            #expect(task.status == 201 && task.string("project_id") == a)
        }
    }

    @Test("fluke.rpc.identity.verify answers for fbk_ tokens and JWTs, and says why a token is refused")
    func verifyRPC() async throws {
        let h = try await PMHarness()
        try await h.run { c, _ in
            let owner = try await c.signup()
            let project = try await c.createProject(owner.accessToken)
            let token = try await c.createToken(owner.accessToken, scopes: ["context:read", "secrets:read"], projectID: project)
                .string("token")!
            let nats = try await h.natsClient()
            func verify(_ t: String) async throws -> [String: Any] {
                let reply = try await nats.request(IdentityRPC.verifySubject, payload: Data(#"{"token":"\#(t)"}"#.utf8),
                                                  timeout: Self.loadedMachinePatience)
                return try JSONSerialization.jsonObject(with: reply.payload) as! [String: Any]
            }
            let ok = try await verify(token)
            #expect(ok["valid"] as? Bool == true)
            #expect(ok["tenant_id"] as? String == owner.tenantID && ok["user_id"] as? String == owner.userID)
            #expect(ok["project_id"] as? String == project)
            #expect(Set(ok["scopes"] as? [String] ?? []) == ["context:read", "secrets:read"])
            #expect(ok.keys.contains("token_id"))
            let jwt = try await verify(owner.accessToken)
            #expect(jwt["valid"] as? Bool == true && jwt["tenant_id"] as? String == owner.tenantID)
            #expect(jwt["expires_at"] as? String != nil)
            let unknown = try await verify("fbk_" + Base62.encode(Crypto.randomBytes(32)))
            #expect(unknown["valid"] as? Bool == false && (unknown["error"] as? String)?.isEmpty == false)
            let garbage = try await nats.request(IdentityRPC.verifySubject, payload: Data("nope".utf8),
                                                 timeout: Self.loadedMachinePatience)
            #expect((try JSONSerialization.jsonObject(with: garbage.payload) as? [String: Any])?["valid"] as? Bool == false)
            await nats.shutdown()
        }
    }

    @Test("the shared client caches a verified token, and token.revoked clears every cache at once")
    func revocationReachesCaches() async throws {
        let h = try await PMHarness()
        try await h.run { c, parts in
            let owner = try await c.signup()
            let created = try await c.createToken(owner.accessToken, scopes: ["context:read"])
            let token = created.string("token")!
            let id = UUID(uuidString: created.string("id")!)!
            // Another service's view: the shared IdentityClient with its revocation listener.
            let nats = try await h.natsClient()
            let client = IdentityClient(nats: nats, cache: TokenCache(ttl: .seconds(30)), timeout: Self.loadedMachinePatience,
                                        logger: TestEnvironment.logger)
            let listener = try RevocationListener(nats: nats, cache: client.cache, logger: TestEnvironment.logger)
            let auth = TestKeys.authenticator(resolver: client)
            let principal = try await auth.authenticate(token: token)
            #expect(principal.tokenID == id && principal.scopes == [.contextRead] && principal.kind == .apiToken)
            #expect(client.cache.count == 1)
            // Served from the cache: project-manager is not asked again.
            let before = try await c.metric("pm_identity_verifications_total")
            _ = try await auth.authenticate(token: token)
            #expect(try await c.metric("pm_identity_verifications_total") == before)

            #expect(try await c.call(.delete, "/api/v1/tokens/\(id)", token: owner.accessToken).status == 204)
            // project-manager's own cache forgets it at once…
            #expect(try await c.call(.get, "/api/v1/me", token: token).status == 401)
            // …and the event clears the other service's cache long before its 30 s TTL.
            try await eventually(timeout: .seconds(5), "cache cleared by token.revoked") { client.cache.count == 0 }
            await #expect(throws: AuthError.self) { try await auth.authenticate(token: token) }
            let events = try await EventCollector(natsURL: h.nats.url, filter: "fluke.events.token.revoked")
            let revoked = try await events.collect(count: 1)
            #expect(revoked.first?.tenantid == owner.tenantID)
            #expect(revoked.first?.data["token_id"] == .string(id.uuidString.lowercased()))
            await events.close()
            listener.cancel()
            _ = parts
            await nats.shutdown()
        }
    }

    @Test("with project-manager unreachable, fbk_ tokens fail with 503 (not 401) and JWTs keep working")
    func identityUnavailable() async throws {
        let nats = try NATSServer()
        let client = try await NATSClient.connect(.admin(url: nats.url, name: "lonely"), logger: TestEnvironment.logger)
        let identity = IdentityClient(nats: client, timeout: .milliseconds(300), logger: TestEnvironment.logger)
        let auth = TestKeys.authenticator(resolver: identity)
        await #expect {
            try await auth.authenticate(token: "fbk_" + Base62.encode(Crypto.randomBytes(32)))
        } throws: { error in
            (error as? AuthError)?.problem.status == .serviceUnavailable
        }
        let jwt = try auth.sign(AccessClaims(userID: UUID(), tenantID: UUID(), role: .viewer, issuedAt: Date(), lifetime: 60))
        #expect(try await auth.authenticate(token: jwt).scopes == [.contextRead, .logsRead])
        await client.shutdown()
        try nats.stop()
    }
}
