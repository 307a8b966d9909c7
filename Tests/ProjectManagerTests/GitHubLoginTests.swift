import FlukeTestSupport
import Foundation
import HTTPTypes
import Testing

/// Login with GitHub end to end against fake GitHub's OAuth endpoints (authorize with PKCE,
/// token exchange, rotating refresh tokens, verified e-mails), the test acting as the browser.
@Suite("project-manager: login with GitHub (OAuth with PKCE)", .needsPostgresAndNATS)
struct GitHubLoginTests {
    static let client = (id: "Iv1.8a61f9b3a7aba766", secret: "0123456789abcdef0123456789abcdef01234567")

    static func settings(_ githubURL: String, signup: Bool) -> [String: String] {
        RepositoryTests.settings(githubURL).merging([
            "GITHUB_OAUTH_URL": githubURL, "GITHUB_OAUTH_CLIENT_ID": client.id, "GITHUB_OAUTH_CLIENT_SECRET": client.secret,
            "PM_PUBLIC_URL": "https://fleet.example.com/", "PM_SIGNUP_ENABLED": signup ? "true" : "false",
        ]) { _, new in new }
    }

    /// `/auth/github`'s redirect, checked, and its state.
    static func start(_ c: PMClient, _ githubURL: String, query: String = "") async throws -> (location: String, state: String) {
        let r = try await c.call(.get, "/auth/github" + query)
        #expect(r.status == 302)
        let location = try #require(r.headers[.location])
        let url = try #require(URLComponents(string: location))
        let q = Dictionary((url.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { a, _ in a })
        #expect(location.hasPrefix(githubURL + "/login/oauth/authorize?"))
        #expect(q["client_id"] == client.id && q["code_challenge_method"] == "S256" && q["code_challenge"]?.count == 43)
        #expect(q["redirect_uri"] == "https://fleet.example.com/auth/callback" && q["scope"] == "read:user user:email")
        return (location, try #require(q["state"]))
    }

    /// Where GitHub sends the browser back, as a path on project-manager.
    static func callbackPath(_ github: FakeGitHub, _ location: String) throws -> String {
        let (redirect, refusal) = github.approve(location)
        let url = try #require(redirect.flatMap(URLComponents.init(string:)), "\(refusal ?? "")")
        #expect(url.host == "fleet.example.com" && url.path == "/auth/callback")
        return url.path + "?" + (url.percentEncodedQuery ?? "")
    }

    @Test("a user signs in with GitHub into their tenant; the grant is kept sealed and refreshed one at a time; reused or expired states, a wrong verifier and a refusal are 401")
    func signIn() async throws {
        let github = FakeGitHub(users: [:])
        try await github.run { githubURL in
            let h = try await PMHarness(Self.settings(githubURL, signup: true))
            try await h.run { c, _ in
                let owner = try await c.signup("octo@example.com")
                github.register(.init(clientID: Self.client.id, clientSecret: Self.client.secret, login: "octocat", userID: 583231,
                                      email: "Octo@Example.com", tokenLifetime: 60))

                let (location, state) = try await Self.start(c, githubURL)
                let path = try Self.callbackPath(github, location)
                let signedIn = try await c.call(.get, path)
                #expect(signedIn.status == 200, "\(signedIn.json)")
                #expect(signedIn.string("tenant_id") == owner.tenantID && signedIn.string("user_id") == owner.userID)
                #expect(signedIn.headers[.cacheControl] == "no-store")
                let access = try #require(signedIn.string("access_token"))
                let me = try await c.call(.get, "/api/v1/me", token: access)
                #expect(me.status == 200 && (me["user"] as? [String: Any])?["email"] as? String == "octo@example.com")
                #expect(signedIn.string("refresh_token")?.hasPrefix("fbr_") == true, "the same session as /auth/login")

                // Started by the dashboard: back to /ui/ with the session in its cookies.
                let fromDashboard = try await Self.start(c, githubURL, query: "?session=cookie")
                let back = try await c.call(.get, try Self.callbackPath(github, fromDashboard.location))
                #expect(back.status == 302 && back.headers[.location] == "/ui/", "\(back.status) \(back.json)")
                #expect(back.json["refresh_token"] == nil)
                let cookies = back.headers[values: .setCookie]
                #expect(cookies.contains { $0.hasPrefix("fluke_refresh=fbr_") && $0.contains("HttpOnly") && $0.contains("Path=/auth/refresh") },
                        "\(cookies)")
                #expect(cookies.contains { $0.hasPrefix("fluke_csrf=") })
                #expect(try await c.call(.get, "/auth/github?session=jar").string("field") == "session")

                // The state was good once.
                let again = try await c.call(.get, "/auth/callback?code=x&state=\(state)")
                #expect(again.status == 401 && again.string("field") == "state", "\(again.json)")
                // A code exchanged with another sign-in's verifier: GitHub refuses it.
                let first = try await Self.start(c, githubURL)
                let second = try await Self.start(c, githubURL)
                let firstCode = try #require(URLComponents(string: try Self.callbackPath(github, first.location))?
                    .queryItems?.first { $0.name == "code" }?.value)
                let crossed = try await c.call(.get, "/auth/callback?code=\(firstCode)&state=\(second.state)")
                #expect(crossed.status == 401 && crossed.string("field") == "code", "\(crossed.json)")
                // Expired, refused by the user, unknown.
                let late = try await Self.start(c, githubURL)
                _ = try await h.database.withAdminClient { db in
                    try await db.query("UPDATE pm.oauth_states SET expires_at = now() - interval '1 second'")
                }
                let expired = try await c.call(.get, try Self.callbackPath(github, late.location))
                #expect(expired.status == 401 && expired.string("field") == "state")
                let denied = try await Self.start(c, githubURL)
                let refused = try await c.call(.get, "/auth/callback?error=access_denied&state=\(denied.state)")
                #expect(refused.status == 401 && refused.string("field") == "error")
                #expect(try await c.call(.get, "/auth/callback?code=x&state=forged").status == 401)
                #expect(try await c.call(.get, "/auth/callback?code=x").status == 422)

                // The grant is the tenant's oauth connection; expiring within 5 minutes, it is
                // refreshed before use, one caller at a time, each refresh token spent once.
                let connections = try await c.call(.get, "/api/v1/connections", token: owner.accessToken)
                let grant = try #require(connections.items.first { $0["kind"] as? String == "oauth" }, "\(connections.json)")
                #expect((grant["account"] as? [String: Any])?["login"] as? String == "octocat")
                let id = try #require(grant["id"] as? String)
                let repos = "/api/v1/connections/github/repos?connection_id=\(id)"
                #expect(try await c.call(.get, repos, token: owner.accessToken).status == 200)
                let before = github.refreshCount
                #expect(before >= 1)
                let answers = try await withThrowingTaskGroup(of: Int.self) { group in
                    for _ in 0..<3 { group.addTask { try await c.call(.get, repos, token: owner.accessToken).status } }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                #expect(answers == [200, 200, 200], "no caller spent a refresh token another had spent")
                #expect(github.refreshCount == before + 3)
                #expect(try await c.call(.get, "/api/v1/connections/\(id)", token: owner.accessToken).string("status") == "active")

                // Nothing readable at rest.
                let rest = try await h.database.withAdminClient { db in
                    try await db.query("""
                        SELECT coalesce(string_agg(sealed || wrapped_key, ''), '') FROM pm.connections
                        UNION ALL SELECT coalesce(string_agg(sealed || wrapped_key || state_hash, ''), '') FROM pm.oauth_states
                        """).map { try $0.decode(String.self, at: 0) }.joined()
                }
                #expect(!rest.contains("ghu_") && !rest.contains("ghr_") && !rest.contains(first.state))

                // A GitHub user nobody knows gets a tenant of their own while signup is open.
                github.register(.init(clientID: Self.client.id, clientSecret: Self.client.secret, login: "newcomer", userID: 7,
                                      email: "new@example.com"))
                let fresh = try await c.call(.get, try Self.callbackPath(github, try await Self.start(c, githubURL).location))
                #expect(fresh.status == 200 && fresh.string("tenant_id") != owner.tenantID, "\(fresh.json)")
                // An unverified primary e-mail signs nobody in.
                github.register(.init(clientID: Self.client.id, clientSecret: Self.client.secret, login: "shady", userID: 8,
                                      email: "octo@example.com", emailVerified: false))
                let unverified = try await c.call(.get, try Self.callbackPath(github, try await Self.start(c, githubURL).location))
                #expect(unverified.status == 403, "\(unverified.json)")
            }
        }
    }

    @Test("with signup closed, an unknown GitHub user is refused and nothing is created; without a client id the routes answer 503")
    func signupClosed() async throws {
        let github = FakeGitHub(users: [:])
        try await github.run { githubURL in
            github.register(.init(clientID: Self.client.id, clientSecret: Self.client.secret, login: "stranger", userID: 9,
                                  email: "stranger@example.com"))
            let h = try await PMHarness(Self.settings(githubURL, signup: false))
            try await h.run { c, _ in
                let r = try await c.call(.get, try Self.callbackPath(github, try await Self.start(c, githubURL).location))
                #expect(r.status == 403, "\(r.json)")
                let users = try await h.database.withAdminClient { db in
                    try await db.query("SELECT count(*) FROM pm.users WHERE email = 'stranger@example.com'").first!.decode(Int.self, at: 0)
                }
                #expect(users == 0)
            }
            try await PMHarness(RepositoryTests.settings(githubURL)).run { c, _ in
                let off = try await c.call(.get, "/auth/github")
                #expect(off.status == 503, "\(off.json)")
            }
        }
    }
}
