import DeployTracker
import FlukeTestSupport
import Foundation
import Testing

@Suite("deploy-tracker: every automatic rollback trigger ends rolled_back with the previous release serving", .needsPostgresAndNATS)
struct AutoRollbackTests {
    /// How each trigger is provoked: the app's spec for the failing deployment.
    static var triggers: [(name: String, kind: String, spec: [String: Any])] { [
        ("build failure", "build", DeployFixtures.spec(replicas: 1, build: "echo compiling; exit 3", env: ["RELEASE": "bad"])),
        ("pre-deploy validation failure", "validation",
         DeployFixtures.spec(replicas: 1, env: ["RELEASE": "bad"], hooks: ["pre_deploy": "echo checking; exit 1"])),
        ("deploy timeout", "timeout", DeployFixtures.spec(replicas: 1, build: "sleep 30", env: ["RELEASE": "bad"], timeout: 3)),
        ("health-check failure", "health_check", DeployFixtures.spec(replicas: 1, env: ["RELEASE": "bad", "APP_MODE": "unhealthy"])),
        ("replica startup failure", "replica_startup", DeployFixtures.spec(replicas: 1, env: ["RELEASE": "bad", "APP_MODE": "exit"])),
    ] }

    @Test("build, pre-deploy validation, deploy timeout, health check and replica startup failures each roll back to v1")
    func triggers() async throws {
        let h = try await DeployHarness()
        let repo = try DeployFixtures.appRepository()
        let data = TestEnvironment.workDir + "/deploy-\(UUID().uuidString.prefix(8))"
        try await h.withProjectManager { pm in
            let a = try await DeployHarness.world(pm)
            try await h.withTracker(DeployFixtures.ports().merging(["DEPLOY_DATA_DIR": data]) { $1 }) { api, _ in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for index in Self.triggers.indices {
                        group.addTask {
                            try await Self.provoke(api, a, app: "app\(index)", repo: repo, trigger: Self.triggers[index])
                        }
                    }
                    try await group.waitForAll()
                }
            }
            await DeployFixtures.stopLeftovers(data, tenantID: UUID(uuidString: a.tenantID)!, apps: (0..<Self.triggers.count).map { "app\($0)" })
        }
    }

    static func provoke(_ api: JSONClient, _ world: DeployHarness.World, app: String, repo: URL,
                        trigger: (name: String, kind: String, spec: [String: Any])) async throws {
        let created = try await api.call(.post, "/api/v1/apps", token: world.token, json: [
            "name": app, "executor": "process", "spec": DeployFixtures.spec(replicas: 1, env: ["RELEASE": "good"])])
        try #require(created.status == 201, "\(created.json)")
        let first = try await DeploymentFlowTests.finished(api, try await DeploymentFlowTests.deploy(api, world, app: app, repo: repo),
                                                           token: world.token)
        try #require(first.string("status") == "success", "\(trigger.name): \(first.json)")
        let url = try #require(try await api.call(.get, "/api/v1/apps/\(app)", token: world.token).string("url"))

        let patched = try await api.call(.patch, "/api/v1/apps/\(app)", token: world.token, json: ["spec": trigger.spec])
        try #require(patched.status == 200, "\(patched.json)")
        let failedID = try await DeploymentFlowTests.deploy(api, world, app: app, repo: repo)
        var failed = try await DeploymentFlowTests.finished(api, failedID, token: world.token)
        #expect(failed.string("failure_kind") == trigger.kind, "\(trigger.name): \(failed.json)")
        let rollbackID = try #require(failed.string("rolled_back_by"), "\(trigger.name): \(failed.json)")
        let rollback = try await DeploymentFlowTests.finished(api, rollbackID, token: world.token)
        #expect(rollback.string("status") == "success" && rollback.string("kind") == "rollback", "\(trigger.name): \(rollback.json)")
        #expect(rollback.string("version") == "v1" && rollback.string("rollback_of") == failedID)
        failed = try await api.call(.get, "/api/v1/deployments/\(failedID)", token: world.token)
        #expect(failed.string("status") == "rolled_back", "\(trigger.name): \(failed.json)")
        #expect(await DeployFixtures.served(url) == "good", "\(trigger.name)")
        let current = try await api.call(.get, "/api/v1/apps/\(app)", token: world.token)
        #expect(current.string("current_release") == "v1", "\(trigger.name): \(current.json)")
        let logs = try await api.call(.get, "/api/v1/deployments/\(failedID)/logs", token: world.token)
        let errors = (logs["entries"] as? [[String: Any]] ?? []).filter { $0["level"] as? String == "error" }
        #expect(!errors.isEmpty, "\(trigger.name): the failure is in the deployment's log")
    }
}
