import FleetTestServices
import FlukeTestSupport
import Foundation
import ProjectManager
import Testing

/// `fluke connections` against project-manager, with local fakes of GitHub and Coder.
@Suite("fluke connections", .needsPostgresAndNATS)
struct ConnectionsCLITests {
    @Test("github and coder read their token from standard input, list shows who they act as, rm deletes; a refused token is one line naming it")
    func connections() async throws {
        let pat = "ghp_" + String(repeating: "Zx9", count: 12)
        let github = FakeGitHub(users: [pat: FakeGitHub.user(login: "octocat", id: 7)])
        let box = FakeCoder.Workspace(name: "box", owner: "dev")
        let coder = FakeCoder(tokens: ["sess-123456": "dev"], workspaces: [box])
        try await github.run { githubURL in
            try await coder.run { coderURL in
                let fleet = try await ServiceHarness(migrating: [PMMigrations.migrator],
                                                     fleetSettings: ["FLUKE_JWT_PUBLIC_KEYS": TestKeys.jwtPublicKeys])
                let settings = ["FLUKE_ENCRYPTION_KEY": "p1:\(Data(repeating: 7, count: 32).base64EncodedString())",
                                "GITHUB_API_URL": githubURL, "PM_CONNECTIONS_ALLOW_HTTP": "true",
                                "PM_CONNECTIONS_ALLOWED_HOSTS": "127.0.0.1"]
                try await fleet.run(.projectManager, settings) { pmClient, _ in
                    let world = try await TenantWorld.make(JSONClient(client: pmClient), scopes: ["context:read"])
                    let env = ["FLUKE_PROJECT_MANAGER_URL": "http://127.0.0.1:\(pmClient.port!)", "FLUKE_TOKEN": world.ownerToken,
                               "XDG_CONFIG_HOME": TestEnvironment.workDir + "/fluke-conn-\(UUID().uuidString.prefix(8))"]
                    let made = try await CommandRun.run(FlukeHarness.fluke, ["connections", "github"], environment: env, input: pat + "\n")
                    #expect(made.status == 0 && made.stdout.contains("Connected GitHub as octocat"), "\(made.stdout)\(made.stderr)")
                    let coded = try await CommandRun.run(FlukeHarness.fluke, ["connections", "coder", "--url", coderURL, "--json"],
                                                         environment: env, input: "sess-123456\n")
                    let coderID = try #require((try coded.json() as? [String: Any])?["id"] as? String, "\(coded.stderr)")

                    let wrong = try await CommandRun.run(FlukeHarness.fluke, ["connections", "github"], environment: env, input: "ghp_nope\n")
                    #expect(wrong.status == 1 && wrong.stderr.hasPrefix("fluke: token:") && wrong.stderr.contains("Bad credentials"),
                            "\(wrong.stderr)")
                    let empty = try await CommandRun.run(FlukeHarness.fluke, ["connections", "github"], environment: env, input: "")
                    #expect(empty.status == 64, "\(empty.stderr)")

                    let listed = try await FlukeHarness.fluke(["connections"], env)
                    #expect(listed.stdout.contains("octocat") && listed.stdout.contains("dev") && listed.stdout.contains(coderURL),
                            "\(listed.stdout)")
                    #expect(!listed.stdout.contains(pat))
                    // A repository linked to the project: the webhook's secret shown once.
                    let githubID = try #require((try await FlukeHarness.fluke(["connections", "--json"], env).json() as? [String: Any])
                        .flatMap { ($0["items"] as? [[String: Any]])?.first { $0["provider"] as? String == "github" }?["id"] as? String })
                    let repo = try await FlukeHarness.fluke(["connections", "repo", "octo/app", "--connection", githubID,
                                                             "--project", world.projectID], env)
                    #expect(repo.status == 0 && repo.stdout.contains("Linked octo/app") && repo.stdout.contains("/api/v1/connections/github/webhook"),
                            "\(repo.stdout)\(repo.stderr)")
                    #expect(repo.stdout.range(of: "secret: +[0-9a-f]{64}", options: .regularExpression) != nil)
                    let missing = try await FlukeHarness.fluke(["connections", "repo", "octo/none", "--connection", githubID,
                                                                "--project", world.projectID], env)
                    #expect(missing.status == 1 && missing.stderr.hasPrefix("fluke: full_name:"), "\(missing.stderr)")

                    // Coder workspaces: listed, then linked to the project.
                    let workspaces = try await FlukeHarness.fluke(["connections", "workspaces"], env)
                    #expect(workspaces.status == 0 && workspaces.stdout.contains("box") && workspaces.stdout.contains("running"),
                            "\(workspaces.stdout)\(workspaces.stderr)")
                    let linked = try await FlukeHarness.fluke(["connections", "link-workspaces", box.id.uuidString, "--connection", coderID,
                                                               "--project", world.projectID, "--json"], env)
                    #expect(((try? linked.json() as? [String: Any])?["items"] as? [[String: Any]])?.first?["name"] as? String == "box",
                            "\(linked.stdout)\(linked.stderr)")

                    #expect(try await FlukeHarness.fluke(["connections", "rm", coderID], env).status == 0)
                    let after = try await FlukeHarness.fluke(["connections", "--json"], env)
                    #expect(((try after.json() as? [String: Any])?["items"] as? [[String: Any]])?.map { $0["provider"] as? String } == ["github"])
                }
            }
        }
    }
}
