import FlukeCrypto
import FlukeTestSupport
import Foundation
import Testing

/// A GitHub App installation as a connection, against fake GitHub checking RS256 app JWTs as
/// GitHub does: the installation token is got, kept, renewed before expiry, and used for the
/// installation's repositories and a linked repository's issues.
@Suite("project-manager: GitHub App installations", .needsPostgresAndNATS)
struct GitHubAppTests {
    @Test("connect with app id, installation and key; repositories through an installation token kept until near expiry; wrong key or installation refused")
    func appInstallation() async throws {
        let key = try RSAPrivateKey.generate()
        let pem = try await Self.pkcs1(key)
        let github = FakeGitHub(users: [:])
        github.register(.init(id: 12345, installationID: 678, publicKeyPEM: try key.publicKeyPEM()))
        try await github.run { githubURL in
            let h = try await PMHarness(RepositoryTests.settings(githubURL))
            try await h.run { c, _ in
                let owner = try await c.signup()
                let admin = owner.accessToken
                let other = try await Self.pkcs1(try RSAPrivateKey.generate())
                let refusals: [([String: Any], String)] = [
                    (["app_id": 12345, "installation_id": 678, "private_key": other], "private_key"),
                    (["app_id": 12345, "installation_id": 999, "private_key": pem], "installation_id"),
                    (["app_id": 12345, "installation_id": 678, "private_key": "-----BEGIN RSA PRIVATE KEY-----\nnope\n-----END RSA PRIVATE KEY-----"], "private_key"),
                    (["app_id": 12345, "installation_id": 678], "private_key"),
                    (["app_id": "x", "installation_id": 678, "private_key": pem], "app_id"),
                    (["token": "ghp_x", "app_id": 12345], "app_id"),
                ]
                for (body, field) in refusals {
                    let r = try await c.call(.post, "/api/v1/connections/github", token: admin, json: body)
                    #expect(r.status == 422 && r.string("field") == field, "\(body.keys.sorted()) → \(r.status) \(r.json)")
                }
                #expect(try await c.call(.get, "/api/v1/connections", token: admin).items.isEmpty, "nothing kept")

                let made = try await c.call(.post, "/api/v1/connections/github", token: admin,
                                            json: ["app_id": 12345, "installation_id": 678, "private_key": pem])
                #expect(made.status == 201 && made.string("kind") == "app", "\(made.json)")
                let account = try #require(made["account"] as? [String: Any])
                #expect(account["login"] as? String == "octo-org" && account["installation_id"] as? Int == 678)
                #expect(!String(decoding: made.body, as: UTF8.self).contains("PRIVATE KEY"), "the key is never answered")
                let id = try #require(made.string("id"))
                let afterConnect = github.tokenExchanges

                // The installation's repositories, with one installation token for both calls.
                for _ in 0..<2 {
                    let repos = try await c.call(.get, "/api/v1/connections/github/repos?connection_id=\(id)", token: admin)
                    #expect(repos.status == 200 && repos.items.map { $0["full_name"] as? String } == ["octo/app"], "\(repos.json)")
                }
                #expect(github.tokenExchanges == afterConnect + 1, "kept while it has more than 5 minutes left")

                // Linking a repository through the app imports its issues too.
                let project = try await c.createProject(admin)
                let linked = try await c.call(.put, "/api/v1/projects/\(project)/repository", token: admin,
                                              json: ["connection_id": id, "full_name": "octo/app"])
                #expect(linked.status == 200, "\(linked.json)")
                try await eventually(timeout: .seconds(20), "the issue imported through the app") {
                    try await RepositoryTests.githubTasks(c, admin, project).count == 1
                }

                // Tokens that live 4 minutes are renewed before each use (a second connection: nothing kept yet).
                github.register(.init(id: 12345, installationID: 678, publicKeyPEM: try key.publicKeyPEM(), tokenLifetime: 240))
                let short = try #require(try await c.call(.post, "/api/v1/connections/github", token: admin,
                                                          json: ["app_id": 12345, "installation_id": 678, "private_key": pem]).string("id"))
                let before = github.tokenExchanges
                let renewed = try await c.call(.get, "/api/v1/connections/github/repos?connection_id=\(short)", token: admin)
                let again = try await c.call(.get, "/api/v1/connections/github/repos?connection_id=\(short)", token: admin)
                #expect(renewed.status == 200 && again.status == 200)
                #expect(github.tokenExchanges == before + 2, "renewed before expiry")

                // At rest: no key, no token in pm.connections.
                let rows = try await h.database.withAdminClient { db in
                    try await db.query("SELECT sealed || wrapped_key || account::text FROM pm.connections").map { try $0.decode(String.self, at: 0) }
                }
                #expect(!rows.isEmpty && !rows.contains { $0.contains("PRIVATE KEY") || $0.contains("ghs_") })
            }
        }
    }

    /// `key` in GitHub's format (PKCS#1, `BEGIN RSA PRIVATE KEY`), converted by the `cryptography` package.
    static func pkcs1(_ key: RSAPrivateKey) async throws -> String {
        let python = ProcessInfo.processInfo.environment["FLUKE_TEST_PYTHON"]
            ?? TestEnvironment.repositoryRoot.appendingPathComponent(".venv/bin/python").path
        let converted = try await CommandRun.run(python, ["-c", """
            import sys
            from cryptography.hazmat.primitives import serialization as s
            key = s.load_pem_private_key(sys.stdin.read().encode(), password=None)
            print(key.private_bytes(s.Encoding.PEM, s.PrivateFormat.TraditionalOpenSSL, s.NoEncryption()).decode(), end="")
            """], environment: [:], input: key.pemRepresentation)
        try #require(converted.status == 0, "\(converted.stderr)")
        return converted.stdout
    }
}
