import FlukeTestSupport
import Foundation
import Testing

/// GitHub and Coder connections against local fakes of their APIs: a credential is checked by
/// the provider before it is kept, sealed at rest, never answered, and only a tenant's admins
/// reach it.
@Suite("project-manager connections", .needsPostgresAndNATS)
struct ConnectionTests {
    static let pat = "ghp_" + String(repeating: "a1B2", count: 9)
    static let session = "Xy12-" + String(repeating: "c0de", count: 6)

    @Test("GitHub and Coder tokens checked, sealed and never shown; bad ones refused naming the field; admins only, tenants apart")
    func connections() async throws {
        let github = FakeGitHub(users: [Self.pat: FakeGitHub.user(login: "octocat", id: 583231)])
        let coder = FakeCoder(tokens: [Self.session: "dev"])
        try await github.run { githubURL in
            try await coder.run { coderURL in
                let h = try await PMHarness([
                    "FLUKE_ENCRYPTION_KEY": "k1:\(Data((0..<32).map { UInt8($0) }).base64EncodedString())",
                    "GITHUB_API_URL": githubURL, "PM_CONNECTIONS_ALLOW_HTTP": "true", "PM_CONNECTIONS_ALLOWED_HOSTS": "127.0.0.1"])
                try await Self.check(h, github: github, githubURL: githubURL, coderURL: coderURL)
            }
        }
    }

    static func check(_ h: PMHarness, github: FakeGitHub, githubURL: String, coderURL: String) async throws {
        try await h.run { c, _ in
            let owner = try await c.signup(tenant: "Acme")
            let admin = owner.accessToken

            let made = try await c.call(.post, "/api/v1/connections/github", token: admin, json: ["token": Self.pat])
            #expect(made.status == 201, "\(made.json)")
            #expect(made.string("provider") == "github" && made.string("kind") == "token" && made.string("status") == "active")
            #expect((made.json["account"] as? [String: Any])?["login"] as? String == "octocat")
            #expect(!String(decoding: made.body, as: UTF8.self).contains(Self.pat), "the token is never answered")
            let sent = try #require(github.requests.last)
            #expect(sent[.authorization] == "Bearer \(Self.pat)" && sent[.accept] == "application/vnd.github+json")
            #expect(sent[.init("X-GitHub-Api-Version")!] == "2022-11-28" && sent[.userAgent] != nil)

            // A token GitHub refuses: 422 naming it, nothing kept.
            let refused = try await c.call(.post, "/api/v1/connections/github", token: admin, json: ["token": "ghp_wrong"])
            #expect(refused.status == 422 && refused.string("field") == "token", "\(refused.json)")
            #expect(refused.string("detail")?.contains("Bad credentials") == true)
            for bad in [["token": "has space"], ["token": ""], ["token": Self.pat, "extra": "x"], ["token": "ghp_\u{0}x"]] {
                let r = try await c.call(.post, "/api/v1/connections/github", token: admin, json: bad)
                #expect(r.status == 422, "\(bad) → \(r.json)")
            }

            let coded = try await c.call(.post, "/api/v1/connections/coder", token: admin, json: ["url": coderURL + "/", "token": Self.session])
            #expect(coded.status == 201, "\(coded.json)")
            #expect(coded.string("url") == coderURL && (coded.json["account"] as? [String: Any])?["username"] as? String == "dev")
            let wrongSession = try await c.call(.post, "/api/v1/connections/coder", token: admin, json: ["url": coderURL, "token": "nope"])
            #expect(wrongSession.status == 422 && wrongSession.string("field") == "token", "\(wrongSession.json)")
            let notCoder = try await c.call(.post, "/api/v1/connections/coder", token: admin, json: ["url": githubURL, "token": Self.session])
            #expect(notCoder.status == 422 && notCoder.string("field") == "url", "\(notCoder.json)")
            for url in ["ftp://coder.example", "https://user:pw@coder.example", coderURL + "?x=1", "not a url"] {
                let r = try await c.call(.post, "/api/v1/connections/coder", token: admin, json: ["url": url, "token": Self.session])
                #expect(r.status == 422 && r.string("field") == "url", "\(url) → \(r.json)")
            }

            let listed = try await c.call(.get, "/api/v1/connections", token: admin)
            #expect(listed.items.compactMap { $0["provider"] as? String } == ["github", "coder"], "\(listed.json)")
            let id = try #require(made.string("id"))
            #expect(try await c.call(.get, "/api/v1/connections/\(id)", token: admin).string("status") == "active")

            // Sealed at rest: neither token appears in any column, as the superuser reads them.
            let rows = try await h.database.withAdminClient { db in
                try await db.query("SELECT row_to_json(c)::text FROM pm.connections c").map { try $0.decode(String.self, at: 0) }
            }
            #expect(rows.count == 2)
            #expect(!rows.contains { $0.contains(Self.pat) || $0.contains(Self.session) }, "\(rows)")

            // Admins of this tenant only.
            let member = try await c.addUser(to: owner, role: "member")
            #expect(try await c.call(.get, "/api/v1/connections", token: member.accessToken).status == 403)
            #expect(try await c.call(.post, "/api/v1/connections/github", token: member.accessToken, json: ["token": Self.pat]).status == 403)
            let project = try await c.createProject(admin)
            let bound = try #require(try await c.createToken(admin, scopes: ["admin"], projectID: project).string("token"))
            #expect(try await c.call(.get, "/api/v1/connections", token: bound).status == 403, "a project-bound token")
            let other = try await c.signup(tenant: "Other")
            #expect(try await c.call(.get, "/api/v1/connections/\(id)", token: other.accessToken).status == 404)
            #expect(try await c.call(.get, "/api/v1/connections", token: other.accessToken).items.isEmpty)
            #expect(try await c.call(.delete, "/api/v1/connections/\(id)", token: other.accessToken).status == 404)

            #expect(try await c.call(.delete, "/api/v1/connections/\(id)", token: admin).status == 204)
            #expect(try await c.call(.get, "/api/v1/connections/\(id)", token: admin).status == 404)
            let audit = try await c.call(.get, "/api/v1/audit", token: admin).items.compactMap { $0["action"] as? String }
            #expect(audit.filter { $0 == "connection.created" }.count == 2 && audit.contains("connection.deleted"), "\(audit)")
        }
    }

    @Test("without FLUKE_ENCRYPTION_KEY no credential is kept: 503")
    func noKeyring() async throws {
        let github = FakeGitHub(users: [Self.pat: FakeGitHub.user(login: "octocat", id: 1)])
        try await github.run { githubURL in
            let h = try await PMHarness(["GITHUB_API_URL": githubURL, "PM_CONNECTIONS_ALLOW_HTTP": "true",
                                         "PM_CONNECTIONS_ALLOWED_HOSTS": "127.0.0.1"])
            try await h.run { c, _ in
                let owner = try await c.signup()
                let r = try await c.call(.post, "/api/v1/connections/github", token: owner.accessToken, json: ["token": Self.pat])
                #expect(r.status == 503 && r.string("detail")?.contains("FLUKE_ENCRYPTION_KEY") == true, "\(r.json)")
                #expect(try await c.call(.get, "/api/v1/connections", token: owner.accessToken).items.isEmpty)
            }
        }
    }
}

extension ConnectionTests {
    @Test("GitHub repos, issues and pulls: Link pages followed, ETags reused (304), pull requests apart from issues; a spent rate limit is 429 with Retry-After; a revoked token marks the connection invalid")
    func githubLists() async throws {
        let spare = "ghp_" + String(repeating: "q7", count: 18)
        let github = FakeGitHub(users: [Self.pat: FakeGitHub.user(login: "octocat", id: 9), spare: FakeGitHub.user(login: "hubot", id: 10)],
                                repositories: 250)
        try await github.run { githubURL in
            let h = try await PMHarness([
                "FLUKE_ENCRYPTION_KEY": "k1:\(Data(repeating: 3, count: 32).base64EncodedString())",
                "GITHUB_API_URL": githubURL, "PM_CONNECTIONS_ALLOW_HTTP": "true", "PM_CONNECTIONS_ALLOWED_HOSTS": "127.0.0.1"])
            try await h.run { c, _ in
                let owner = try await c.signup()
                let admin = owner.accessToken
                let none = try await c.call(.get, "/api/v1/connections/github/repos", token: admin)
                #expect(none.status == 422 && none.string("field") == "connection_id", "\(none.json)")
                let made = try await c.call(.post, "/api/v1/connections/github", token: admin, json: ["token": Self.pat])
                let id = try #require(made.string("id"))

                let repos = try await c.call(.get, "/api/v1/connections/github/repos", token: admin)
                #expect(repos.status == 200, "\(repos.json)")
                #expect(repos.items.count == 250 && repos.json["truncated"] as? Bool == false, "three pages of 100 followed")
                #expect(repos.items.first?["full_name"] as? String == "octo/repo-1" && repos.items.first?["owner"] == nil)
                let pages = github.requests.filter { $0[.init("If-None-Match")!] == nil }.count
                let again = try await c.call(.get, "/api/v1/connections/github/repos?connection_id=\(id)", token: admin)
                #expect(again.items.count == 250)
                #expect(github.notModifiedCount == 3, "each page asked again with its ETag: \(github.notModifiedCount)")
                #expect(github.requests.filter { $0[.init("If-None-Match")!] == nil }.count == pages)

                let issues = try await c.call(.get, "/api/v1/connections/github/repos/octo/app/issues", token: admin)
                #expect(issues.items.map { $0["number"] as? Int } == [1], "the pull request is not an issue: \(issues.json)")
                #expect(issues.items.first?["labels"] as? [String] == ["bug"])
                let pulls = try await c.call(.get, "/api/v1/connections/github/repos/octo/app/pulls", token: admin)
                #expect(pulls.items.first?["head"] as? String == "fix-checkout" && pulls.items.first?["number"] as? Int == 2)
                #expect(try await c.call(.get, "/api/v1/connections/github/repos/octo/nope/issues", token: admin).status == 404)
                let badOwner = try await c.call(.get, "/api/v1/connections/github/repos/oc%20to/app/issues", token: admin)
                #expect(badOwner.status == 422 && badOwner.string("field") == "owner", "\(badOwner.json)")

                // A second connection: now one must be named.
                let other = try #require(try await c.call(.post, "/api/v1/connections/github", token: admin, json: ["token": spare]).string("id"))
                let ambiguous = try await c.call(.get, "/api/v1/connections/github/repos", token: admin)
                #expect(ambiguous.status == 422 && ambiguous.string("field") == "connection_id", "\(ambiguous.json)")

                github.spendRateLimit(spare)
                let limited = try await c.call(.get, "/api/v1/connections/github/repos/octo/app/pulls?connection_id=\(other)", token: admin)
                #expect(limited.status == 429 && Int(limited.headers[.retryAfter] ?? "") ?? 0 > 0, "\(limited.json)")
                #expect(try await c.call(.get, "/api/v1/connections/\(other)", token: admin).string("status") == "active", "a rate limit is no refusal")

                github.revoke(Self.pat)
                let revoked = try await c.call(.get, "/api/v1/connections/github/repos/octo/app/issues?connection_id=\(id)", token: admin)
                #expect(revoked.status == 409 && revoked.string("field") == "connection_id", "\(revoked.json)")
                let marked = try await c.call(.get, "/api/v1/connections/\(id)", token: admin)
                #expect(marked.string("status") == "invalid" && marked.string("status_reason")?.contains("Bad credentials") == true, "\(marked.json)")
                let afterwards = try await c.call(.get, "/api/v1/connections/github/repos?connection_id=\(id)", token: admin)
                #expect(afterwards.status == 409, "an invalid connection is not used: \(afterwards.json)")
            }
        }
    }
}
