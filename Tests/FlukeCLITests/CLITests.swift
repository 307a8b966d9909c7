import FlukeTestSupport
import Foundation
import Testing

@Suite("fluke CLI against project-manager and context-api", .needsPostgresAndNATS)
struct CLITests {
    @Test("projects --json, env set/list with the secret masked, memories add/list, and a refusal naming its field")
    func commands() async throws {
        let h = try await FlukeHarness()
        try await h.withFleet(scopes: ["context:read", "context:write", "memories:write", "secrets:read"]) { f in
            let env = f.environment
            let projects = try await FlukeHarness.fluke(["projects", "--json"], env)
            #expect(projects.status == 0, "\(projects.stderr)")
            let items = try #require((try projects.json() as? [String: Any])?["items"] as? [[String: Any]])
            #expect(items.map { $0["id"] as? String } == [f.world.projectID])

            let set = try await FlukeHarness.fluke(["env", "set", "API_KEY", "s3cr3t-value", "--secret", "--json"], env)
            #expect(set.status == 0, "\(set.stderr)")
            #expect(!set.stdout.contains("s3cr3t-value"), "a secret is not printed back")
            let listed = try await FlukeHarness.fluke(["env", "list", "--json"], env)
            let vars = try #require((try listed.json() as? [String: Any])?["items"] as? [[String: Any]])
            #expect(vars.first?["key"] as? String == "API_KEY")
            #expect(vars.first?["value"] == nil && vars.first?["masked"] as? Bool == true, "masked without --reveal")
            let revealed = try await FlukeHarness.fluke(["env", "list", "--reveal"], env)
            #expect(revealed.stdout.contains("s3cr3t-value"), "--reveal with secrets:read shows it: \(revealed.stdout)")

            let added = try await FlukeHarness.fluke(["memories", "add", "Deploys go through staging first", "--type", "convention",
                                                      "--tag", "deploy", "--json"], env)
            #expect(added.status == 0, "\(added.stderr)")
            let found = try await FlukeHarness.fluke(["memories", "list", "-q", "staging"], env)
            #expect(found.stdout.contains("Deploys go through staging first") && found.stdout.contains("convention"), "\(found.stdout)")

            // A refusal: one line naming the field, exit status 1, nothing changed.
            let bad = try await FlukeHarness.fluke(["env", "set", "lower-case", "x"], env)
            #expect(bad.status == 1)
            #expect(bad.stderr.hasPrefix("fluke: key:"), "\(bad.stderr)")
            #expect(bad.stderr.split(separator: "\n").count == 1)
            let after = try await FlukeHarness.fluke(["env", "list", "--json"], env)
            #expect(((try after.json() as? [String: Any])?["items"] as? [Any])?.count == 1)

            // Unreachable fleet: its own exit status and a line saying which service.
            var away = env
            away["FLUKE_PROJECT_MANAGER_URL"] = "http://127.0.0.1:1"
            let down = try await FlukeHarness.fluke(["projects"], away)
            #expect(down.status == 3 && down.stderr.contains("project-manager"), "\(down.stderr)")
        }
    }

    @Test("a fleet.env or the config file gives the URLs and a token (fleet.env wins); FLUKE_TOKEN overrides them")
    func fleetEnv() async throws {
        let h = try await FlukeHarness()
        try await h.withFleet { f in
            let file = TestEnvironment.workDir + "/fleet-\(UUID().uuidString.prefix(8)).env"
            let text = """
                FLUKE_PROJECT_MANAGER_URL=\(f.environment["FLUKE_PROJECT_MANAGER_URL"]!)
                FLUKE_CONTEXT_API_URL=\(f.environment["FLUKE_CONTEXT_API_URL"]!)
                FLUKE_ADMIN_TOKEN=\(f.world.token)
                """
            try text.write(toFile: file, atomically: true, encoding: .utf8)
            let config = ["XDG_CONFIG_HOME": f.environment["XDG_CONFIG_HOME"]!]
            let viaFile = try await FlukeHarness.fluke(["projects", "--json", "--fleet-env", file], config)
            #expect(viaFile.status == 0, "\(viaFile.stderr)")
            let overridden = try await FlukeHarness.fluke(["projects", "--fleet-env", file],
                                                          config.merging(["FLUKE_TOKEN": "fbk_not_a_token"]) { _, new in new })
            #expect(overridden.status == 1 && overridden.stderr.contains("401"), "\(overridden.stderr)")

            // The config file ($XDG_CONFIG_HOME/fluke/config.env) alone is enough; a fleet.env wins over it.
            let configDirectory = config["XDG_CONFIG_HOME"]! + "/fluke"
            try FileManager.default.createDirectory(atPath: configDirectory, withIntermediateDirectories: true)
            try "FLUKE_PROJECT_MANAGER_URL=\(f.environment["FLUKE_PROJECT_MANAGER_URL"]!)\nFLUKE_TOKEN=\(f.world.token)\n"
                .write(toFile: configDirectory + "/config.env", atomically: true, encoding: .utf8)
            let viaConfig = try await FlukeHarness.fluke(["projects", "--json"], config)
            #expect(viaConfig.status == 0, "\(viaConfig.stderr)")
            try "FLUKE_PROJECT_MANAGER_URL=http://127.0.0.1:1\n".write(toFile: file, atomically: true, encoding: .utf8)
            let fleetWins = try await FlukeHarness.fluke(["projects", "--fleet-env", file], config)
            #expect(fleetWins.status == 3, "\(fleetWins.stderr)")
            // FLUKE_CONFIG names another file; a missing one is an error, not silently nothing.
            let named = try await FlukeHarness.fluke(["projects"], config.merging(["FLUKE_CONFIG": file + ".missing"]) { _, new in new })
            #expect(named.status == 64 && named.stderr.hasPrefix("fluke: ") && named.stderr.contains("config file"), "\(named.stderr)")
        }
    }
}
