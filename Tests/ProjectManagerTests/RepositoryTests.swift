import FlukeCrypto
import FlukeTestSupport
import Foundation
import HTTPTypes
@testable import ProjectManager
import Testing

/// A project linked to a GitHub repository (fake GitHub speaking its wire format): open issues
/// imported as tasks, kept in step by the sync and by signed `issues` webhooks, pull requests in
/// the project's status.
@Suite("project-manager: a project's repository, its issues as tasks", .needsPostgresAndNATS)
struct RepositoryTests {
    static let pat = ConnectionTests.pat

    static func settings(_ githubURL: String) -> [String: String] {
        ["FLUKE_ENCRYPTION_KEY": "k1:\(Data((0..<32).map { UInt8($0) }).base64EncodedString())",
         "GITHUB_API_URL": githubURL, "PM_CONNECTIONS_ALLOW_HTTP": "true", "PM_CONNECTIONS_ALLOWED_HOSTS": "127.0.0.1",
         "PM_GITHUB_SYNC_INTERVAL": "1"]
    }

    static func githubTasks(_ c: PMClient, _ token: String, _ project: String) async throws -> [[String: Any]] {
        try await c.call(.get, "/api/v1/tasks?project_id=\(project)&limit=100", token: token).items
            .filter { $0["source"] as? String == "github" }
    }

    static func webhook(_ c: PMClient, _ delivery: (body: Data, headers: HTTPFields)) async throws -> Reply {
        try await c.call(.post, "/api/v1/connections/github/webhook", body: String(decoding: delivery.body, as: UTF8.self),
                         headers: delivery.headers)
    }

    @Test("linking imports open issues (not pull requests) once; the sync follows GitHub; a signed webhook closes a task; a bad signature changes nothing")
    func issuesAsTasks() async throws {
        let github = FakeGitHub(users: [Self.pat: FakeGitHub.user(login: "octocat", id: 583231)])
        try await github.run { githubURL in
            try await PMHarness(Self.settings(githubURL)).run { c, _ in
                let owner = try await c.signup()
                let admin = owner.accessToken
                let project = try await c.createProject(admin)
                let connection = try #require(try await c.call(.post, "/api/v1/connections/github", token: admin,
                                                               json: ["token": Self.pat]).string("id"))

                // Refusals name the field and link nothing.
                for (body, field) in [(["connection_id": connection, "full_name": "octo"], "full_name"),
                                      (["connection_id": connection, "full_name": "octo/app/x"], "full_name"),
                                      (["connection_id": connection, "full_name": "octo/none"], "full_name"),
                                      (["connection_id": "not-a-uuid", "full_name": "octo/app"], "connection_id"),
                                      (["connection_id": connection, "full_name": "octo/\u{0}app"], "full_name")] {
                    let r = try await c.call(.put, "/api/v1/projects/\(project)/repository", token: admin, json: body)
                    #expect(r.status == 422 && r.string("field") == field, "\(body) → \(r.status) \(r.json)")
                }
                #expect(try await c.call(.get, "/api/v1/projects/\(project)/repository", token: admin).status == 404)

                let linked = try await c.call(.put, "/api/v1/projects/\(project)/repository", token: admin,
                                              json: ["connection_id": connection, "full_name": "octo/app"])
                #expect(linked.status == 200, "\(linked.json)")
                #expect(linked.string("full_name") == "octo/app" && linked["github_id"] as? Int == FakeGitHub.appRepositoryID)
                let webhook = try #require(linked["webhook"] as? [String: Any])
                let secret = try #require(webhook["secret"] as? String)
                #expect(webhook["path"] as? String == "/api/v1/connections/github/webhook" && secret.count == 64)
                let shown = try await c.call(.get, "/api/v1/projects/\(project)/repository", token: admin)
                #expect(shown.status == 200 && (shown["webhook"] as? [String: Any])?["secret"] == nil, "the secret is shown once")

                // The import: issue 1 becomes a todo task; the pull request does not.
                var tasks: [[String: Any]] = []
                try await eventually(timeout: .seconds(20), "the issue imported") {
                    tasks = try await Self.githubTasks(c, admin, project)
                    return tasks.count == 1
                }
                let imported = tasks[0]
                #expect(imported["title"] as? String == "Checkout fails" && imported["status"] as? String == "todo")
                #expect(imported["external_id"] as? String == "I_1" && imported["labels"] as? [String] == ["bug"])
                #expect(imported["external_url"] as? String == "https://github.com/octo/app/issues/1")
                #expect((imported["description"] as? String)?.contains("add to cart") == true)

                // GitHub changes: a new issue (with hostile text), a renamed one; the sync follows,
                // and a second round that finds nothing new changes nothing (same task ids).
                github.put(.init(number: 3, title: "Nul\u{0}and\u{7}bell  \u{202E}", labels: ["ux"]))
                github.put(.init(number: 1, title: "Checkout fails on Safari", labels: ["bug", "p1"], body: "Steps:\n1. add to cart\n2. pay"))
                try await eventually(timeout: .seconds(20), "the sync following GitHub") {
                    tasks = try await Self.githubTasks(c, admin, project)
                    return tasks.count == 2 && tasks.contains { $0["title"] as? String == "Checkout fails on Safari" }
                }
                let third = try #require(tasks.first { $0["external_id"] as? String == "I_3" })
                #expect(third["title"] as? String == "Nulandbell  \u{202E}", "control characters dropped")
                #expect(tasks.first { $0["external_id"] as? String == "I_1" }?["id"] as? String == imported["id"] as? String)

                // Someone works on issue 1 in the fleet: the sync keeps their status.
                let id1 = try #require(imported["id"] as? String)
                #expect(try await c.call(.patch, "/api/v1/tasks/\(id1)", token: admin, json: ["status": "in_progress"]).status == 200)

                // A webhook signed with another secret: 401, nothing changes.
                var issue1 = try #require(github.issue(1))
                issue1.open = false
                let forged = FakeGitHub.delivery(event: "issues", action: "closed", issue: issue1, secret: String(repeating: "0", count: 64))
                let refused = try await Self.webhook(c, forged)
                #expect(refused.status == 401 && refused.string("field") == "X-Hub-Signature-256", "\(refused.json)")
                var unsigned = FakeGitHub.delivery(event: "issues", action: "closed", issue: issue1, secret: secret)
                unsigned.headers[HTTPField.Name("X-Hub-Signature-256")!] = nil
                #expect(try await Self.webhook(c, unsigned).status == 401)
                let still = try await c.call(.get, "/api/v1/tasks/\(id1)", token: admin)
                #expect(still.string("status") == "in_progress")

                // The same, signed with the link's secret: the task is done at once.
                let ping = try await Self.webhook(c, FakeGitHub.delivery(event: "ping", action: nil, issue: nil, secret: secret))
                #expect(ping.status == 200 && ping["projects"] as? Int == 1, "\(ping.json)")
                github.put(issue1)
                let closed = try await Self.webhook(c, FakeGitHub.delivery(event: "issues", action: "closed", issue: issue1, secret: secret))
                #expect(closed.status == 200 && closed["changed"] as? Int == 1, "\(closed.json)")
                #expect(try await c.call(.get, "/api/v1/tasks/\(id1)", token: admin).string("status") == "done")
                // Delivered twice (GitHub redelivers): nothing more changes.
                let again = try await Self.webhook(c, FakeGitHub.delivery(event: "issues", action: "closed", issue: issue1, secret: secret))
                #expect(again.status == 200 && again["changed"] as? Int == 0)
                let other = try await Self.webhook(c, FakeGitHub.delivery(event: "star", action: "created", issue: nil, secret: secret))
                #expect(other.status == 202)

                // Reopened on GitHub: the sync brings the task back to todo.
                issue1.open = true
                github.put(issue1)
                try await eventually(timeout: .seconds(20), "the reopened issue's task back to todo") {
                    try await c.call(.get, "/api/v1/tasks/\(id1)", token: admin).string("status") == "todo"
                }
                // Closed on GitHub without a webhook: the next sync marks it done.
                github.put(.init(number: 3, title: "Nul\u{0}and\u{7}bell  \u{202E}", open: false, labels: ["ux"]))
                let id3 = try #require(third["id"] as? String)
                try await eventually(timeout: .seconds(20), "the closed issue's task done") {
                    try await c.call(.get, "/api/v1/tasks/\(id3)", token: admin).string("status") == "done"
                }

                // The status lists the open pull request.
                let status = try await c.call(.get, "/api/v1/projects/\(project)/status", token: admin)
                let pulls = try #require(status["pull_requests"] as? [String: Any], "\(status.json)")
                #expect(pulls["repository"] as? String == "octo/app" && pulls["count"] as? Int == 1 && pulls["stale"] as? Bool == false)
                #expect((pulls["items"] as? [[String: Any]])?.first?["number"] as? Int == 2)
                #expect(github.notModifiedCount > 0, "unchanged pages revalidated with If-None-Match")

                // Another tenant cannot see or change the link; unlinking keeps the tasks.
                let stranger = try await c.signup()
                #expect(try await c.call(.get, "/api/v1/projects/\(project)/repository", token: stranger.accessToken).status == 404)
                #expect(try await c.call(.delete, "/api/v1/projects/\(project)/repository", token: admin).status == 204)
                #expect(try await Self.githubTasks(c, admin, project).count == 2)
                #expect(try await Self.webhook(c, FakeGitHub.delivery(event: "ping", action: nil, issue: nil, secret: secret)).status == 401,
                        "an unlinked repository's secret opens nothing")
            }
        }
    }

    @Test("the signature check agrees with GitHub's documented example")
    func documentedSignature() {
        // docs.github.com, "Validating webhook deliveries": this secret and payload give this signature.
        let digest = Crypto.hmacSHA256(key: Array("It's a Secret to Everybody".utf8), message: Array("Hello, World!".utf8))
        #expect(Crypto.hex(digest) == "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")
        #expect(PMRoutes.hexBytes("757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17") == digest)
        #expect(PMRoutes.hexBytes("zz") == nil && PMRoutes.hexBytes("abc") == nil)
    }
}
