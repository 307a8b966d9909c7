import DeployTracker
import FleetTestServices
import FlukeTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite("deploy-tracker: kill -9 mid-deploy, two replicas, one lease", .needsPostgresAndNATS)
struct CrashSafetyTests {
    /// One deploy-tracker process.
    struct Tracker {
        let process: ServiceProcess
        let base: String

        init(_ environment: [String: String]) throws {
            let port = freePort()
            var env = environment
            env["HTTP_PORT"] = String(port)
            process = try ServiceProcess(executable: "deploy-tracker", environment: env)
            base = "http://127.0.0.1:\(port)"
        }

        func call(_ method: String, _ path: String, token: String, json: [String: Any]? = nil) async throws -> HTTP.Reply {
            try await HTTP.send(method, base + path, headers: ["Authorization": "Bearer \(token)"],
                                json: try json.map { try JSONSerialization.data(withJSONObject: $0) }, timeout: 10)
        }

        func ready() async throws {
            try await eventually(timeout: .seconds(60), "deploy-tracker ready") { (try? await HTTP.get(base + "/ready").status) == 200 }
        }
    }

    static func deployment(_ tracker: Tracker, _ id: String, token: String) async throws -> [String: Any] {
        try await tracker.call("GET", "/api/v1/deployments/\(id)", token: token).json ?? [:]
    }

    @Test("the replica driving a deployment is killed with -9 in its deploy phase: the app keeps serving, the other replica takes the lease over, fails the deployment and rolls it back; a restarted tracker deploys again")
    func killedDriver() async throws {
        let h = try await DeployHarness()
        let repo = try DeployFixtures.appRepository()
        let data = TestEnvironment.workDir + "/deploy-\(UUID().uuidString.prefix(8))"
        try await h.withProjectManager { pm in
            let a = try await DeployHarness.world(pm)
            let env = h.fleet.environment(for: .deployTracker, DeployFixtures.ports().merging(["DEPLOY_DATA_DIR": data]) { $1 })
            var trackers = [try Tracker(env), try Tracker(env)]
            defer { for t in trackers { t.process.process.terminate() } }
            for t in trackers { try await t.ready() }
            let first = trackers[0]
            let created = try await first.call("POST", "/api/v1/apps", token: a.token, json: [
                "name": "web", "executor": "process", "spec": DeployFixtures.spec(replicas: 2, env: ["RELEASE": "one"])])
            try #require(created.status == 201, "\(String(decoding: created.body, as: UTF8.self))")
            let v1 = try await first.call("POST", "/api/v1/deploy", token: a.token, json: ["app_name": "web", "source": ["git": repo.absoluteString]])
            let v1ID = try #require(v1.json?["deployment_id"] as? String)
            var v1State: [String: Any] = [:]
            try await eventually(timeout: .seconds(120), "v1 deployed") {
                v1State = try await Self.deployment(first, v1ID, token: a.token)
                return ["success", "failed", "cancelled"].contains(v1State["status"] as? String ?? "")
            }
            try #require(v1State["status"] as? String == "success", "\(v1State)")
            let url = try #require(try await first.call("GET", "/api/v1/apps/web", token: a.token).json?["url"] as? String)
            #expect(await DeployFixtures.served(url) == "one")

            // v2's replicas take 20 s to listen: the deploy phase lasts long enough to kill its driver in it.
            var slow = DeployFixtures.spec(replicas: 2, env: ["RELEASE": "two"])
            slow["start_command"] = "sleep 20; exec /usr/bin/python3 app.py"
            slow["health_check"] = ["path": "/health", "interval": 1, "timeout": 2, "retries": 30, "start_period": 25]
            #expect(try await first.call("PATCH", "/api/v1/apps/web", token: a.token, json: ["spec": slow]).status == 200)
            let v2 = try await first.call("POST", "/api/v1/deploy", token: a.token, json: ["app_name": "web", "source": ["git": repo.absoluteString]])
            let v2ID = try #require(v2.json?["deployment_id"] as? String)
            try await eventually(timeout: .seconds(60), "v2 in its deploy phase") {
                let phases = try await Self.deployment(first, v2ID, token: a.token)["phases"] as? [[String: Any]] ?? []
                return phases.last?["name"] as? String == "deploy" && phases.last?["state"] as? String == "running"
            }
            // The driver is whichever replica holds the lease: its name carries its pid.
            let owner = try await h.database.withAdminClient { admin in
                try await admin.query("SELECT lease_owner FROM deploy.deployments WHERE id = \(UUID(uuidString: v2ID)!)")
                    .first?.decode(String?.self, at: 0)
            }
            let pid = try #require(owner.flatMap { Int32($0.split(separator: "/")[1]) })
            let driver = try #require(trackers.firstIndex { $0.process.process.processIdentifier == pid })
            kill(pid, SIGKILL)
            let survivor = trackers[1 - driver]

            // The app never stops serving v1 meanwhile.
            #expect(await DeployFixtures.served(url) == "one")
            try await eventually(timeout: .seconds(120), "v2 failed and rolled back by the surviving replica") {
                try await Self.deployment(survivor, v2ID, token: a.token)["status"] as? String == "rolled_back"
            }
            let failed = try await Self.deployment(survivor, v2ID, token: a.token)
            #expect(failed["failure_kind"] as? String == "restart", "\(failed)")
            let rollbackID = try #require(failed["rolled_back_by"] as? String)
            #expect(try await Self.deployment(survivor, rollbackID, token: a.token)["status"] as? String == "success")
            #expect(await DeployFixtures.served(url) == "one")

            // The killed replica comes back and deployments go on.
            trackers[driver] = try Tracker(env)
            try await trackers[driver].ready()
            var quick = DeployFixtures.spec(replicas: 2, env: ["RELEASE": "three"])
            quick["health_check"] = ["path": "/health", "interval": 1, "timeout": 2, "retries": 5, "start_period": 1]
            #expect(try await trackers[driver].call("PATCH", "/api/v1/apps/web", token: a.token, json: ["spec": quick]).status == 200)
            let v3 = try await trackers[driver].call("POST", "/api/v1/deploy", token: a.token,
                                                     json: ["app_name": "web", "source": ["git": repo.absoluteString]])
            let v3ID = try #require(v3.json?["deployment_id"] as? String)
            try await eventually(timeout: .seconds(120), "v3 deployed") {
                try await Self.deployment(trackers[driver], v3ID, token: a.token)["status"] as? String == "success"
            }
            #expect(await DeployFixtures.served(url) == "three")
            for t in trackers { t.process.process.terminate() }
            await DeployFixtures.stopLeftovers(data, tenantID: UUID(uuidString: a.tenantID)!, apps: ["web"])
        }
    }
}
