import ContextAPI
import DeployTracker
import FleetTestServices
import FlukeModels
import FlukeTestSupport
import Foundation
import Testing
import WebhookDispatcher

@Suite("deploy-tracker with the fleet: env_from from context-api, a WeDo task per deployment, deploy.* to webhook subscribers, its log in log-streamer", .needsPostgresAndNATS)
struct FleetIntegrationTests {
    @Test("a deploy reads env_from through fluke.rpc.context.env (logged via deploy, never stored); project-manager's task goes in_progress → done, and blocked with the reason on failure; a subscriber receives deploy.succeeded and deploy.failed")
    func fleet() async throws {
        let h = try await DeployHarness()
        let repo = try DeployFixtures.appRepository()
        let data = TestEnvironment.workDir + "/deploy-\(UUID().uuidString.prefix(8))"
        let receiver = Receiver()
        try await receiver.run { base in
            try await h.withProjectManager { pm in
                let a = try await DeployHarness.world(pm, scopes: ["deploy:write", "context:read", "context:write", "secrets:read",
                                                                   "webhooks:manage"])
                try await h.with(.contextAPI) { context in
                    // context-api learns of the project from project-manager's events.
                    try await eventually(timeout: .seconds(30), "context-api knows the project") {
                        try await context.call(.get, "/api/v1/projects/\(a.projectID)/env", token: a.token).status == 200
                    }
                    let put = try await context.call(.put, "/api/v1/projects/\(a.projectID)/env/RELEASE", token: a.token,
                                                     json: ["value": "from-context", "secret": true, "environment": "production"])
                    try #require(put.status == 200 || put.status == 201, "\(put.json)")
                    try await h.with(.webhookDispatcher) { hooks in
                        let sub = try await hooks.call(.post, "/api/v1/webhooks/subscriptions", token: a.token, json: [
                            "project_id": a.projectID, "callback_url": base + "/deploys", "events": ["deploy.*"]])
                        try #require(sub.status == 201, "\(sub.json)")
                        try await h.withTracker(DeployFixtures.ports().merging(["DEPLOY_DATA_DIR": data]) { $1 }) { api, _ in
                            var spec = DeployFixtures.spec(replicas: 1)
                            spec["env"] = [:] as [String: String]
                            spec["env_from"] = ["environment": "production"]
                            let created = try await api.call(.post, "/api/v1/apps", token: a.token,
                                                             json: ["name": "web", "executor": "process", "spec": spec])
                            try #require(created.status == 201, "\(created.json)")
                            let ok = try await DeploymentFlowTests.finished(
                                api, try await DeploymentFlowTests.deploy(api, a, app: "web", repo: repo), token: a.token)
                            #expect(ok.string("status") == "success", "\(ok.json)")
                            let url = try #require(try await api.call(.get, "/api/v1/apps/web", token: a.token).string("url"))
                            // The build wrote $RELEASE, which came from context-api.
                            #expect(await DeployFixtures.served(url) == "from-context")
                            let okID = try #require(ok.string("id"))
                            let log = try await context.call(.get, "/api/v1/projects/\(a.projectID)/env/access-log", token: a.token)
                            #expect(log.items.contains { $0["via"] as? String == "deploy" && $0["key"] as? String == "RELEASE" }, "\(log.json)")
                            // deploy-tracker kept no value: not in its releases, its deployments or their logs.
                            let stored = try await h.database.withAdminClient { admin in
                                try await admin.query("""
                                    SELECT (SELECT count(*) FROM deploy.releases WHERE spec::text LIKE '%from-context%')
                                         + (SELECT count(*) FROM deploy.deployment_logs WHERE entry::text LIKE '%from-context%')
                                    """).first!.decode(Int.self, at: 0)
                            }
                            #expect(stored == 0)

                            // A failing build: the task ends blocked with the failure.
                            var broken = spec
                            broken["build_command"] = "echo nope; exit 4"
                            #expect(try await api.call(.patch, "/api/v1/apps/web", token: a.token, json: ["spec": broken]).status == 200)
                            let failedID = try await DeploymentFlowTests.deploy(api, a, app: "web", repo: repo)
                            _ = try await DeploymentFlowTests.finished(api, failedID, token: a.token)

                            try await eventually(timeout: .seconds(30), "project-manager's tasks follow the deployments") {
                                let tasks = try await pm.call(.get, "/api/v1/tasks?project_id=\(a.projectID)&limit=100", token: a.token).items
                                let okTask = tasks.first { ($0["deployment_id"] as? String)?.lowercased() == okID.lowercased() }
                                let failedTask = tasks.first { ($0["deployment_id"] as? String)?.lowercased() == failedID.lowercased() }
                                return okTask?["status"] as? String == "done" && okTask?["source"] as? String == "deployment"
                                    && failedTask?["status"] as? String == "blocked"
                                    && (failedTask?["description"] as? String ?? "").contains("exit 4")
                            }
                            try await eventually(timeout: .seconds(30), "the subscriber got deploy.succeeded and deploy.failed") {
                                let types = receiver.received.compactMap {
                                    (try? JSONSerialization.jsonObject(with: $0.body) as? [String: Any])?["type"] as? String
                                }
                                return types.contains("deploy.succeeded") && types.contains("deploy.failed")
                            }
                        }
                    }
                }
                await DeployFixtures.stopLeftovers(data, tenantID: UUID(uuidString: a.tenantID)!, apps: ["web"])
            }
        }
    }

    @Test("a deployment's log reaches log-streamer through FLUKE_LOGS: GET /api/v1/logs?deployment_id= gives each of its entries once, in the journal's order, as a live tail of the app did, and a tail filtered by the deployment replays them")
    func logsReachLogStreamer() async throws {
        let h = try await DeployHarness()
        let repo = try DeployFixtures.appRepository()
        let data = TestEnvironment.workDir + "/deploy-\(UUID().uuidString.prefix(8))"
        try await h.withProjectManager { pm in
            let a = try await DeployHarness.world(pm, scopes: ["deploy:write", "context:read", "logs:read"])
            try await h.with(.logStreamer) { logs in
                try await h.withTracker(DeployFixtures.ports().merging(["DEPLOY_DATA_DIR": data]) { $1 }) { api, _ in
                    let created = try await api.call(.post, "/api/v1/apps", token: a.token,
                                                     json: ["name": "web", "executor": "process", "spec": DeployFixtures.spec(replicas: 1)])
                    try #require(created.status == 201, "\(created.json)")
                    // A live tail of the app, open before the deploy starts.
                    let ws = try WSDriver()
                    let tailURL = "ws://127.0.0.1:\(logs.client.port!)/api/v1/logs/stream"
                    try ws.open("live", tailURL + "?app_name=web", headers: ["Authorization": "Bearer \(a.token)"])
                    #expect(try await ws.waitFor("live", "open").kind == "open")
                    try await Task.sleep(for: .milliseconds(300))
                    let before = RFC3339.format(Date().addingTimeInterval(-1)).addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
                    let done = try await DeploymentFlowTests.finished(
                        api, try await DeploymentFlowTests.deploy(api, a, app: "web", repo: repo), token: a.token)
                    #expect(done.string("status") == "success", "\(done.json)")
                    let id = try #require(done.string("id"))
                    let journal = try await api.call(.get, "/api/v1/deployments/\(id)/logs", token: a.token)
                    let inJournal = (journal["entries"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
                    let expected = Set(inJournal)
                    try #require(expected.count >= 5, "\(journal.json)")
                    var stored: [String] = []
                    try await eventually(timeout: .seconds(30), "log-streamer stored the deployment's entries") {
                        let page = try await logs.call(.get, "/api/v1/logs?deployment_id=\(id)&order=asc&limit=1000", token: a.token)
                        stored = page.items.compactMap { $0["id"] as? String }
                        return Set(stored) == expected
                    }
                    #expect(stored.count == expected.count, "an entry stored twice: \(stored)")
                    #expect(stored == inJournal, "stored in the journal's order")
                    // The live tail had them as they happened, in the same order.
                    try await eventually(timeout: .seconds(30), "the live tail has the deployment's entries") {
                        Set(ws.entryIDs("live")).isSuperset(of: expected)
                    }
                    #expect(ws.entryIDs("live").filter(expected.contains) == inJournal)
                    // A tail filtered by the deployment, resumed from before it, replays them in order.
                    try ws.open("deployment", tailURL + "?deployment_id=\(id)&since=\(before)",
                                headers: ["Authorization": "Bearer \(a.token)"])
                    try await eventually(timeout: .seconds(30), "the deployment's tail") { !ws.controls("deployment", "live").isEmpty }
                    #expect(ws.entryIDs("deployment") == inJournal)
                }
            }
            await DeployFixtures.stopLeftovers(data, tenantID: UUID(uuidString: a.tenantID)!, apps: ["web"])
        }
    }
}
