import DeployTracker
import Federation
import FleetTestServices
import FlukeModels
import FlukeTestSupport
import Foundation
import ProjectManager
import Testing

/// `fluke status`, `fluke catalog` and the MCP `catalog` / `project_status` tools against
/// project-manager, deploy-tracker and federation, with the project's heartbeat sent over NATS.
@Suite("fluke status and catalog with federation running", .needsPostgresAndNATS)
struct StatusCLITests {
    static let apiKey = "fluke-test-key-0123456789"

    @Test("status sums up tasks, blocked ones, apps and ONLINE/OFFLINE; catalog and the MCP tools see the heartbeat; a service down is named, not fatal")
    func statusAndCatalog() async throws {
        let fleet = try await ServiceHarness(
            migrating: [PMMigrations.migrator, DeployMigrations.migrator, FederationMigrations.migrator],
            fleetSettings: ["FLUKE_JWT_PUBLIC_KEYS": TestKeys.jwtPublicKeys, "FLUKE_ENCRYPTION_KEY": ServiceSettings.encryptionKey])
        let work = TestEnvironment.workDir + "/fluke-status-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        try await fleet.run(.projectManager) { pmClient, _ in
            let pm = JSONClient(client: pmClient)
            let world = try await TenantWorld.make(pm, scopes: ["context:read", "context:write", "deploy:write"],
                                                   project: ["name": "Storefront", "stage": "mvp"])
            for (title, status) in [("Ship the cart", "in_progress"), ("Wait for the payment keys", "blocked"), ("Draw the logo", "done")] {
                let made = try await pm.call(.post, "/api/v1/tasks", token: world.ownerToken,
                                             json: ["title": title, "status": status, "project_id": world.projectID])
                try #require(made.status == 201, "\(made.json)")
            }
            let catalog = """
                projects:
                  - slug: storefront
                    name: Storefront
                    project_id: \(world.projectID)
                  - slug: elsewhere
                    name: Someone else's
                """
            try catalog.write(toFile: work + "/catalog.yaml", atomically: true, encoding: .utf8)
            let federationSettings = ["FEDERATION_CATALOG": work + "/catalog.yaml", "FEDERATION_API_KEYS": Self.apiKey,
                                      "FEDERATION_HEARTBEAT_TTL": "30", "FEDERATION_CHECK_INTERVAL": "0.25",
                                      "FEDERATION_FLUSH_INTERVAL": "0.1"]
            let trackerSettings = ["DEPLOY_DATA_DIR": work + "/deploy", "DEPLOY_EXECUTORS": "process"]
            try await fleet.run(.federation, federationSettings) { federationClient, _ in
                try await fleet.run(.deployTracker, trackerSettings) { trackerClient, _ in
                    let env = [
                        "FLUKE_PROJECT_MANAGER_URL": "http://127.0.0.1:\(pmClient.port!)",
                        "FLUKE_DEPLOY_TRACKER_URL": "http://127.0.0.1:\(trackerClient.port!)",
                        "FLUKE_FEDERATION_URL": "http://127.0.0.1:\(federationClient.port!)",
                        "FEDERATION_API_KEY": Self.apiKey, "FLUKE_TOKEN": world.token, "XDG_CONFIG_HOME": work + "/config",
                    ]
                    try await Self.check(env, world: world, fleet: fleet)
                }
            }
        }
    }

    static func check(_ env: [String: String], world: TenantWorld, fleet: ServiceHarness) async throws {
        let created = try await FlukeHarness.fluke(["apps", "create", "shop", "--executor", "process", "--spec",
                                                    #"{"start_command": "exec /usr/bin/python3 app.py"}"#], env)
        try #require(created.status == 0, "\(created.stderr)")

        // Before any heartbeat: in the catalog, not yet ONLINE.
        let before = try await FlukeHarness.fluke(["status", "--json"], env)
        try #require(before.status == 0, "\(before.stderr)")
        let early = try #require(try before.json() as? [String: Any])
        #expect((early["catalog"] as? [[String: Any]])?.map { $0["status"] as? String } == ["UNKNOWN"])

        let nats = try await fleet.natsClient()
        let beat = #"{"slug":"storefront","instance_id":"web-1","version":"2.4.0","timestamp":"\#(RFC3339.format(Date()))"}"#
        try await eventually(timeout: .seconds(30), "storefront ONLINE in fluke catalog") {
            try await nats.publish("fluke.federation.heartbeat.storefront", payload: Data(beat.utf8))
            let listed = try await FlukeHarness.fluke(["catalog", "--json"], env)
            let items = (try? listed.json() as? [String: Any])?["items"] as? [[String: Any]] ?? []
            return items.contains { $0["slug"] as? String == "storefront" && $0["status"] as? String == "ONLINE" }
                && items.contains { $0["slug"] as? String == "elsewhere" && $0["status"] as? String == "UNKNOWN" }
        }
        await nats.shutdown()
        let offline = try await FlukeHarness.fluke(["catalog", "--status", "UNKNOWN"], env)
        #expect(offline.stdout.contains("elsewhere") && !offline.stdout.contains("storefront"), "\(offline.stdout)")

        let status = try await FlukeHarness.fluke(["status", "--json"], env)
        let overview = try #require(try status.json() as? [String: Any], "\(status.stderr)")
        #expect((overview["project"] as? [String: Any])?["name"] as? String == "Storefront")
        #expect((overview["tasks"] as? [String: Any])?["blocked"] as? Int == 1)
        #expect((overview["blocked_tasks"] as? [[String: Any]])?.map { $0["title"] as? String } == ["Wait for the payment keys"])
        #expect((overview["apps"] as? [[String: Any]])?.map { $0["name"] as? String } == ["shop"])
        #expect((overview["catalog"] as? [[String: Any]])?.map { $0["slug"] as? String } == ["storefront"],
                "only the entry naming this project")
        #expect((overview["catalog"] as? [[String: Any]])?.first?["status"] as? String == "ONLINE")
        #expect((overview["unavailable"] as? [String: Any])?.isEmpty == true)

        // For people: one summary, no JSON.
        let human = try await FlukeHarness.fluke(["status"], env)
        #expect(human.status == 0, "\(human.stderr)")
        for needle in ["Storefront", "stage mvp", "blocked 1", "Wait for the payment keys", "shop", "storefront  ONLINE", "last heartbeat"] {
            #expect(human.stdout.contains(needle), "\(needle) in:\n\(human.stdout)")
        }
        #expect(!human.stdout.contains("{"), "\(human.stdout)")

        // federation down: the rest is still told, and which service could not be asked.
        var away = env
        away["FLUKE_FEDERATION_URL"] = "http://127.0.0.1:1"
        let partial = try await FlukeHarness.fluke(["status"], away)
        #expect(partial.status == 0, "\(partial.stderr)")
        #expect(partial.stdout.contains("unavailable") && partial.stdout.contains("federation"), "\(partial.stdout)")
        #expect(partial.stdout.contains("Wait for the payment keys"))

        // project-manager heard federation's event too: the overview (one answer from
        // project-manager) shows the project ONLINE, and its blocked task as needing attention.
        var tenantOverview: [String: Any] = [:]
        try await eventually(timeout: .seconds(10), "Storefront ONLINE in fluke overview") {
            let listed = try await FlukeHarness.fluke(["overview", "--json"], env)
            tenantOverview = (try? listed.json() as? [String: Any]) ?? [:]
            let projects = tenantOverview["projects"] as? [[String: Any]] ?? []
            return (projects.first?["federation"] as? [String: Any])?["status"] as? String == "ONLINE"
        }
        #expect((tenantOverview["attention"] as? [[String: Any]])?.map { $0["kind"] as? String } == ["tasks_blocked"])
        let humanOverview = try await FlukeHarness.fluke(["overview"], env)
        #expect(humanOverview.status == 0, "\(humanOverview.stderr)")
        for needle in ["Needs attention:", "Storefront  tasks_blocked  1 blocked task", "ONLINE", "2 open tasks"] {
            #expect(humanOverview.stdout.contains(needle), "\(needle) in:\n\(humanOverview.stdout)")
        }

        // An agent asks the same through MCP, on stdio and over Streamable HTTP.
        try checkSession(try await MCPTests.session("catalog", env))
        try await MCPTests.withHTTPServer(env) { url in try checkSession(try await MCPTests.session("catalog", env, target: url)) }
    }

    static func checkSession(_ session: [String: Any]) throws {
        let catalogItems = MCPTests.structured(session["catalog"])?["items"] as? [[String: Any]]
        #expect(catalogItems?.first { $0["slug"] as? String == "storefront" }?["status"] as? String == "ONLINE", "\(session)")
        let projectStatus = try #require(MCPTests.structured(session["status"]), "\(session)")
        #expect((projectStatus["blocked_tasks"] as? [[String: Any]])?.count == 1)
        #expect((projectStatus["catalog"] as? [[String: Any]])?.first?["status"] as? String == "ONLINE")
        #expect((projectStatus["apps"] as? [[String: Any]])?.first?["name"] as? String == "shop")
        let overview = try #require(MCPTests.structured(session["overview"]), "\(session)")
        let projects = overview["projects"] as? [[String: Any]] ?? []
        #expect(projects.map { $0["name"] as? String } == ["Storefront"])
        #expect((projects.first?["federation"] as? [String: Any])?["status"] as? String == "ONLINE")
    }
}
