import FlukeCrypto
import FlukeModels
import FlukeRuntime
import FlukeTestSupport
import Foundation
import HTTPTypes
@testable import ProjectManager
import Testing

@Suite("project-manager identity", .needsPostgresAndNATS)
struct IdentityTests {
    @Test("signup creates a tenant and its owner; the access token is a 15-minute EdDSA JWT that /api/v1/me accepts")
    func signupAndLogin() async throws {
        try await PMHarness().run { c, parts in
            let owner = try await c.signup("Ada@Example.com")
            let login = try await c.login("ada@example.com", owner.password)
            #expect(login.string("token_type") == "Bearer")
            #expect(login["expires_in"] as? Int == 900)
            let claims = try JWTVerifier(keys: TestKeys.signingKeys.publicKeys).verify(owner.accessToken, as: AccessClaims.self)
            #expect(claims.tid == owner.tenantID && claims.sub == owner.userID && claims.role == .owner)
            #expect(claims.exp - claims.iat == 900)
            let me = try await c.call(.get, "/api/v1/me", token: owner.accessToken)
            #expect(me.status == 200)
            #expect((me["user"] as? [String: Any])?["email"] as? String == "ada@example.com")
            #expect((me["tenant"] as? [String: Any])?["name"] as? String == "Acme")
            #expect(Set(me["scopes"] as? [String] ?? []) == Set(Scope.allCases.map(\.rawValue)))
            // The stored hash is scrypt in PHC form, never the password.
            let stored = try await parts.runtime.postgres.withTransaction { tx in
                try await tx.setLocal("app.user_id", owner.userID)
                return try await tx.query("SELECT password_hash FROM pm.users WHERE id = \(UUID(uuidString: owner.userID)!)")
                    .first!.decode(String.self, at: 0)
            }
            #expect(stored.hasPrefix("$scrypt$ln=10,r=8,p=1$") && !stored.contains(owner.password))
        }
    }

    @Test("bad signups are refused naming the field, change nothing, and a duplicate e-mail is 409")
    func badSignups() async throws {
        let h = try await PMHarness()
        try await h.run { c, _ in
            let good: [String: Any] = ["email": "a@example.com", "password": "long enough", "name": "A", "tenant_name": "T"]
            let cases: [(String, Any?, Int)] = [
                ("email", "not-an-email", 422), ("email", nil, 422), ("password", "short", 422),
                ("name", "", 422), ("name", String(repeating: "n", count: 201), 422), ("tenant_name", 42, 422),
                ("surprise", "field", 422),
            ]
            for (field, value, status) in cases {
                var body = good
                body[field] = value
                if value == nil { body.removeValue(forKey: field) }
                let r = try await c.call(.post, "/auth/signup", json: body)
                #expect(r.status == status, "\(field)")
                #expect(r.string("field") == field, "\(field): \(r.json)")
                #expect(r.headers[.contentType] == "application/problem+json")
            }
            let notJSON = try await c.call(.post, "/auth/signup", json: nil, headers: [.contentType: "text/plain"])
            #expect(notJSON.status == 415)
            let tenants = try await h.database.withAdminClient { db in
                try await db.query("SELECT count(*) FROM pm.tenants").first!.decode(Int.self, at: 0)
            }
            #expect(tenants == 0)
            #expect(try await c.call(.post, "/auth/signup", json: good).status == 201)
            var again = good
            again["email"] = "A@EXAMPLE.COM"
            let dup = try await c.call(.post, "/auth/signup", json: again)
            #expect(dup.status == 409 && dup.string("field") == "email")
        }
    }

    @Test("signup is refused unless PM_SIGNUP_ENABLED=true")
    func signupDisabled() async throws {
        try await PMHarness(["PM_SIGNUP_ENABLED": "false"]).run { c, _ in
            let r = try await c.call(.post, "/auth/signup", json: ["email": "a@example.com", "password": "long enough",
                                                                   "name": "A", "tenant_name": "T"])
            #expect(r.status == 403)
        }
    }

    @Test("wrong passwords and unknown e-mails get the same 401; repeated failures get 429 with Retry-After, per account and per address")
    func loginFailures() async throws {
        try await PMHarness(["PM_LOGIN_MAX_FAILURES": "3", "PM_LOGIN_MAX_FAILURES_PER_ADDRESS": "5",
                             "PM_TRUST_FORWARDED_FOR": "true"]).run { c, _ in
            let owner = try await c.signup()
            let wrong = try await c.login(owner.email, "wrong password")
            let unknown = try await c.login("nobody@example.com", "wrong password")
            #expect(wrong.status == 401 && unknown.status == 401)
            #expect(wrong.string("detail") == unknown.string("detail"))
            #expect(try await c.login(owner.email, "wrong password").status == 401)
            // Third failure reaches the account limit: even the right password is now refused.
            #expect(try await c.login(owner.email, "wrong password").status == 401)
            let locked = try await c.login(owner.email, owner.password)
            #expect(locked.status == 429)
            let retry = Int(locked.headers[.retryAfter] ?? "") ?? 0
            #expect(retry > 0 && retry <= 900)
            // Another account from one address: five failures, then 429 for anyone from there.
            let other = try await c.signup()
            let from: HTTPFields = [HTTPField.Name("X-Forwarded-For")!: "203.0.113.9"]
            for i in 0..<5 {
                #expect(try await c.login("guess\(i)@example.com", "nope nope", headers: from).status == 401)
            }
            #expect(try await c.login(other.email, other.password, headers: from).status == 429)
            #expect(try await c.login(other.email, other.password).status == 200)
        }
    }

    @Test("refresh rotates; presenting a rotated refresh token revokes its whole family; logout revokes")
    func refreshRotation() async throws {
        try await PMHarness().run { c, _ in
            let owner = try await c.signup()
            let first = try await c.call(.post, "/auth/refresh", json: ["refresh_token": owner.refreshToken])
            #expect(first.status == 200)
            let second = first.string("refresh_token")!
            #expect(second != owner.refreshToken)
            #expect(try await c.call(.get, "/api/v1/me", token: first.string("access_token")).status == 200)
            // Replay of the first token: refused, and the family (the second token too) dies.
            let replay = try await c.call(.post, "/auth/refresh", json: ["refresh_token": owner.refreshToken])
            #expect(replay.status == 401 && replay.string("field") == "refresh_token")
            #expect(try await c.call(.post, "/auth/refresh", json: ["refresh_token": second]).status == 401)

            let session = try await c.login(owner.email, owner.password)
            let token = session.string("refresh_token")!
            #expect(try await c.call(.post, "/auth/logout", json: ["refresh_token": token]).status == 204)
            #expect(try await c.call(.post, "/auth/refresh", json: ["refresh_token": token]).status == 401)
            #expect(try await c.call(.post, "/auth/refresh", json: ["refresh_token": "fbr_unknown"]).status == 401)
        }
    }

    @Test("forged, expired, unsigned and garbage bearer tokens get 401 with WWW-Authenticate; no token gets 401")
    func badBearerTokens() async throws {
        try await PMHarness().run { c, parts in
            let owner = try await c.signup()
            let user = UUID(uuidString: owner.userID)!
            let tenant = UUID(uuidString: owner.tenantID)!
            let expired = try parts.authenticator.sign(AccessClaims(userID: user, tenantID: tenant, role: .owner,
                                                                    issuedAt: Date().addingTimeInterval(-3600), lifetime: 900))
            let forged = try TestKeys.forgedTokens(AccessClaims(userID: user, tenantID: tenant, role: .owner,
                                                                issuedAt: Date(), lifetime: 900)).values
            let parts3 = owner.accessToken.split(separator: ".")
            let unsigned = Base64URL.encode(Data(#"{"alg":"none","typ":"JWT"}"#.utf8)) + "." + parts3[1] + "."
            let tampered = parts3[0] + "." + Base64URL.encode(Data(#"{"iss":"flukebase-fleet","sub":"\#(owner.userID)","tid":"\#(UUID().uuidString)","role":"owner","iat":0,"exp":99999999999,"jti":"x"}"#.utf8)) + "." + parts3[2]
            for token in [expired, unsigned, tampered, "garbage", "fbk_" + String(repeating: "a", count: 43)] + forged {
                let r = try await c.call(.get, "/api/v1/me", token: token)
                #expect(r.status == 401, "\(token.prefix(20))")
                #expect(r.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true)
            }
            #expect(try await c.call(.get, "/api/v1/me").status == 401)
            let basic = try await c.call(.get, "/api/v1/me", headers: [.authorization: "Basic Zm9vOmJhcg=="])
            #expect(basic.status == 401)
        }
    }

    @Test("roles decide scopes: a viewer reads but cannot write (403); only admins manage people; only owners make owners")
    func roles() async throws {
        try await PMHarness().run { c, _ in
            let owner = try await c.signup()
            let admin = try await c.addUser(to: owner, role: "admin")
            let viewer = try await c.addUser(to: owner, role: "viewer")
            let member = try await c.addUser(to: owner, role: "member")
            let project = try await c.createProject(owner.accessToken)
            #expect(try await c.call(.get, "/api/v1/projects/\(project)", token: viewer.accessToken).status == 200)
            let denied = try await c.call(.patch, "/api/v1/projects/\(project)", token: viewer.accessToken, json: ["name": "x"])
            #expect(denied.status == 403 && denied["required_scope"] as? String == "context:write")
            #expect(try await c.call(.patch, "/api/v1/projects/\(project)", token: member.accessToken, json: ["name": "y"]).status == 200)
            #expect(try await c.call(.get, "/api/v1/audit", token: member.accessToken).status == 403)
            #expect(try await c.call(.post, "/api/v1/users", token: member.accessToken,
                                     json: ["email": "x@example.com", "name": "X", "password": "password1"]).status == 403)
            // An admin cannot create or promote owners; an owner can.
            #expect(try await c.call(.patch, "/api/v1/users/\(member.userID)", token: admin.accessToken,
                                     json: ["role": "owner"]).status == 403)
            #expect(try await c.call(.patch, "/api/v1/users/\(member.userID)", token: owner.accessToken,
                                     json: ["role": "owner"]).status == 200)
            // The last owner cannot leave.
            #expect(try await c.call(.delete, "/api/v1/users/\(member.userID)", token: owner.accessToken).status == 204)
            let last = try await c.call(.patch, "/api/v1/users/\(owner.userID)", token: owner.accessToken, json: ["role": "admin"])
            #expect(last.status == 409)
            // A removed user's session stops working at the next refresh.
            #expect(try await c.call(.post, "/auth/refresh", json: ["refresh_token": member.refreshToken]).status == 401)
        }
    }
}
