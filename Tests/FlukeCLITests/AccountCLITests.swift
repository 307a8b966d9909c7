import FleetTestServices
import FlukeTestSupport
import ProjectManager
import Foundation
import Testing
import WebhookDispatcher

@Suite("fluke login, shell completions and webhooks", .needsPostgresAndNATS)
struct AccountCLITests {
    @Test("login keeps a refresh token (mode 600) that later commands use and rotate; a wrong password exits 1; logout forgets it")
    func login() async throws {
        let h = try await FlukeHarness()
        try await h.withFleet { f in
            let email = "cli-\(UUID().uuidString.prefix(8).lowercased())@example.com"
            let signup = try await f.pm.call(.post, "/auth/signup", json: ["email": email, "password": "long password",
                                                                           "name": "CLI", "tenant_name": "Cli Co"])
            try #require(signup.status == 201, "\(signup.json)")
            var env = f.environment
            env["FLUKE_TOKEN"] = nil
            let file = env["XDG_CONFIG_HOME"]! + "/fluke/login.json"

            let wrong = try await FlukeHarness.fluke(["login", "--email", email], env.merging(["FLUKE_PASSWORD": "not it"]) { $1 })
            #expect(wrong.status == 1 && wrong.stderr.hasPrefix("fluke: "), "\(wrong.stderr)")
            #expect(!FileManager.default.fileExists(atPath: file))

            let ok = try await FlukeHarness.fluke(["login", "--email", email], env.merging(["FLUKE_PASSWORD": "long password"]) { $1 })
            #expect(ok.status == 0, "\(ok.stderr)")
            let attributes = try FileManager.default.attributesOfItem(atPath: file)
            #expect((attributes[.posixPermissions] as? Int) == 0o600)
            let first = try String(contentsOfFile: file, encoding: .utf8)
            #expect(first.contains("refresh_token") && !first.contains("long password"))

            let projects = try await FlukeHarness.fluke(["projects", "--json"], env)
            #expect(projects.status == 0, "the stored login signs the call in: \(projects.stderr)")
            #expect(try String(contentsOfFile: file, encoding: .utf8) != first, "the refresh token rotated and was kept")
            let again = try await FlukeHarness.fluke(["projects", "--json"], env)
            #expect(again.status == 0, "the kept refresh token works: \(again.stderr)")

            #expect(try await FlukeHarness.fluke(["logout"], env).status == 0)
            #expect(!FileManager.default.fileExists(atPath: file))
        }
    }

    @Test("shell completion scripts for bash, zsh and fish; --help has examples; bad usage exits 64")
    func usage() async throws {
        for shell in ["bash", "zsh", "fish"] {
            let script = try await FlukeHarness.fluke(["--generate-completion-script", shell], [:])
            #expect(script.status == 0 && script.stdout.contains("deploy") && script.stdout.contains("memories"), "\(shell)")
        }
        let help = try await FlukeHarness.fluke(["deploy", "--help"], [:])
        #expect(help.status == 0 && help.stdout.contains("Examples:"))
        let bad = try await FlukeHarness.fluke(["deploy", "--image", "x"], [:])
        #expect(bad.status == 64, "missing --app: \(bad.stderr)")
    }

    @Test("webhooks create prints the secret once; list, deliveries and rm; a bad URL is refused naming callback_url")
    func webhooks() async throws {
        let fleet = try await ServiceHarness(
            migrating: [PMMigrations.migrator, WebhookMigrations.migrator],
            fleetSettings: ["FLUKE_JWT_PUBLIC_KEYS": TestKeys.jwtPublicKeys, "FLUKE_ENCRYPTION_KEY": ServiceSettings.encryptionKey])
        try await fleet.run(.projectManager) { pmClient, _ in
            let world = try await TenantWorld.make(JSONClient(client: pmClient), scopes: ["context:read", "webhooks:manage"])
            try await fleet.run(.webhookDispatcher) { webhookClient, _ in
                let env = ["FLUKE_PROJECT_MANAGER_URL": "http://127.0.0.1:\(pmClient.port!)",
                           "FLUKE_WEBHOOK_DISPATCHER_URL": "http://127.0.0.1:\(webhookClient.port!)",
                           "FLUKE_TOKEN": world.token, "XDG_CONFIG_HOME": TestEnvironment.workDir + "/cfg-\(UUID().uuidString.prefix(8))"]
                let created = try await FlukeHarness.fluke(["webhooks", "create", "http://127.0.0.1:9/hook", "--event", "task.*",
                                                            "--json"], env)
                #expect(created.status == 0, "\(created.stderr)")
                let subscription = try #require(try created.json() as? [String: Any])
                let id = try #require(subscription["id"] as? String)
                #expect((subscription["secret"] as? String)?.hasPrefix("whsec_") == true)
                let listed = try await FlukeHarness.fluke(["webhooks"], env)
                #expect(listed.stdout.contains(id) && !listed.stdout.contains("whsec_"), "\(listed.stdout)")
                let deliveries = try await FlukeHarness.fluke(["webhooks", "deliveries", id, "--json"], env)
                #expect(deliveries.status == 0, "\(deliveries.stderr)")
                #expect((try deliveries.json() as? [String: Any])?["items"] != nil)
                let bad = try await FlukeHarness.fluke(["webhooks", "create", "not a url", "--event", "task.*"], env)
                #expect(bad.status == 1 && bad.stderr.hasPrefix("fluke: callback_url:"), "\(bad.stderr)")
                #expect(try await FlukeHarness.fluke(["webhooks", "rm", id], env).status == 0)
                let after = try await FlukeHarness.fluke(["webhooks", "--json"], env)
                #expect(((try after.json() as? [String: Any])?["items"] as? [Any])?.isEmpty == true)
            }
        }
    }
}
