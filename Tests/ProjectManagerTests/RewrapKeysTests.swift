import FlukeTestSupport
import Foundation
@testable import ProjectManager
import Testing

/// `project-manager rewrap-keys`: a new key put first, every sealed value's data key re-wrapped
/// under it (the values untouched), after which the old key can go.
@Suite("project-manager: rotating FLUKE_ENCRYPTION_KEY", .needsPostgresAndNATS)
struct RewrapKeysTests {
    static let old = "k1:\(Data((0..<32).map { UInt8($0) }).base64EncodedString())"
    static let new = "k2:\(Data((0..<32).map { UInt8(255 - $0) }).base64EncodedString())"

    @Test("rewrap-keys moves connections and webhook secrets to the new key without touching the sealed values; the old key can then be dropped")
    func rotation() async throws {
        let github = FakeGitHub(users: [RepositoryTests.pat: FakeGitHub.user(login: "octocat", id: 1)])
        try await github.run { githubURL in
            let h = try await PMHarness(RepositoryTests.settings(githubURL))
            let (connection, secret, email, password) = try await h.run { c, _ in
                let owner = try await c.signup()
                let id = try #require(try await c.call(.post, "/api/v1/connections/github", token: owner.accessToken,
                                                       json: ["token": RepositoryTests.pat]).string("id"))
                let project = try await c.createProject(owner.accessToken)
                let linked = try await c.call(.put, "/api/v1/projects/\(project)/repository", token: owner.accessToken,
                                              json: ["connection_id": id, "full_name": "octo/app"])
                return (id, try #require((linked["webhook"] as? [String: Any])?["secret"] as? String), owner.email, owner.password)
            }
            let sealed = {
                try await h.database.withAdminClient { db in
                    try await db.query("""
                        SELECT kek_id || ' ' || wrapped_key || ' ' || sealed FROM pm.connections UNION ALL
                        SELECT webhook_kek_id || ' ' || webhook_wrapped_key || ' ' || webhook_sealed FROM pm.project_repositories
                        """).map { try $0.decode(String.self, at: 0) }
                }
            }
            let before = try await sealed()
            #expect(before.count == 2 && before.allSatisfy { $0.hasPrefix("k1 ") })

            var rotating = h.environment
            rotating["FLUKE_ENCRYPTION_KEY"] = Self.new + "," + Self.old
            let out = try await RewrapKeys.run(environment: rotating, logger: TestEnvironment.logger)
            #expect(out == #"{"rewrapped":2,"current":0}"#)
            let after = try await sealed()
            #expect(after.allSatisfy { $0.hasPrefix("k2 ") })
            #expect(after.map { $0.split(separator: " ")[2] } == before.map { $0.split(separator: " ")[2] }, "the sealed values are untouched")
            #expect(after.map { $0.split(separator: " ")[1] } != before.map { $0.split(separator: " ")[1] })
            #expect(try await RewrapKeys.run(environment: rotating, logger: TestEnvironment.logger) == #"{"rewrapped":0,"current":2}"#)

            // The old key dropped: the credential and the webhook secret still open.
            var settings = RepositoryTests.settings(githubURL)
            settings["FLUKE_ENCRYPTION_KEY"] = Self.new
            try await h.fleet.run(.projectManager, settings) { client, _ in
                let c = PMClient(client: client)
                let token = try #require(try await c.login(email, password).string("access_token"))
                let repos = try await c.call(.get, "/api/v1/connections/github/repos?connection_id=\(connection)", token: token)
                #expect(repos.status == 200 && !repos.items.isEmpty, "\(repos.json)")
                let ping = try await RepositoryTests.webhook(c, FakeGitHub.delivery(event: "ping", action: nil, issue: nil, secret: secret))
                #expect(ping.status == 200, "\(ping.json)")
            }
            // Without the new key, nothing opens: the rotation really moved them.
            var stale = h.environment
            stale["FLUKE_ENCRYPTION_KEY"] = Self.old
            await #expect(throws: (any Error).self) { try await RewrapKeys.run(environment: stale, logger: TestEnvironment.logger) }
        }
    }
}
