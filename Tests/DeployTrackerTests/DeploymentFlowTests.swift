import DeployTracker
import FlukeModels
import FlukeNATS
import FlukeTestSupport
import Foundation
import Testing

@Suite("deploy-tracker: deployments on the process executor behind nginx", .needsPostgresAndNATS)
struct DeploymentFlowTests {
    /// Waits for a deployment to end and returns it.
    static func finished(_ api: JSONClient, _ id: String, token: String, timeout: Duration = .seconds(180)) async throws -> JSONReply {
        var last: JSONReply?
        try await eventually(timeout: timeout, "deployment \(id) finished") {
            let got = try await api.call(.get, "/api/v1/deployments/\(id)", token: token)
            last = got
            return ["success", "failed", "rolled_back", "cancelled"].contains(got.string("status") ?? "")
        }
        return last!
    }

    static func deploy(_ api: JSONClient, _ world: DeployHarness.World, app: String, repo: URL,
                       strategy: String? = nil) async throws -> String {
        var body: [String: Any] = ["app_name": app, "source": ["git": repo.absoluteString]]
        if let strategy { body["strategy"] = ["type": strategy, "pause": 1, "rollback_window": 5] }
        let queued = try await api.call(.post, "/api/v1/deploy", token: world.token, json: body)
        try #require(queued.status == 202, "\(queued.json)")
        return try #require(queued.string("deployment_id"))
    }

    @Test("v1 then v2 by rolling, blue-green and canary with wrk on the app's address: zero failed requests; a rollback to v1 rebuilds nothing; logs are JSON-LD per phase, on FLUKE_LOGS too; deploy.* events")
    func deployAndRollBack() async throws {
        let h = try await DeployHarness()
        let repo = try DeployFixtures.appRepository()
        let data = TestEnvironment.workDir + "/deploy-\(UUID().uuidString.prefix(8))"
        try await h.withProjectManager { pm in
            let a = try await DeployHarness.world(pm)
            let events = try await EventCollector(natsURL: h.nats.url, filter: "fluke.events.deploy.>")
            try await h.withTracker(DeployFixtures.ports().merging(["DEPLOY_DATA_DIR": data]) { $1 }) { api, _ in
                let created = try await api.call(.post, "/api/v1/apps", token: a.token, json: [
                    "name": "web", "executor": "process", "spec": DeployFixtures.spec(env: ["RELEASE": "one"])])
                try #require(created.status == 201, "\(created.json)")
                let first = try await Self.finished(api, try await Self.deploy(api, a, app: "web", repo: repo), token: a.token)
                try #require(first.string("status") == "success", "\(first.json)")
                #expect(first.string("version") == "v1")
                let phases = (first["phases"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
                #expect(phases == ["pre_build", "build", "pre_deploy", "deploy", "post_deploy"])
                let app = try await api.call(.get, "/api/v1/apps/web", token: a.token)
                let url = try #require(app.string("url"))
                #expect(app.string("current_release") == "v1")
                #expect((app["replicas"] as? [[String: Any]])?.count == 3, "\(app.json)")
                #expect(await DeployFixtures.served(url) == "one")

                // Each strategy in turn takes the app to a new release while wrk hammers it.
                var release = 1
                for (strategy, value) in [("rolling", "two"), ("blue_green", "three"), ("canary", "four")] {
                    let patched = try await api.call(.patch, "/api/v1/apps/web", token: a.token,
                                                     json: ["spec": DeployFixtures.spec(strategy: strategy, env: ["RELEASE": value])])
                    try #require(patched.status == 200, "\(patched.json)")
                    let load = try WrkLoad(url: url)
                    let next = try await Self.finished(api, try await Self.deploy(api, a, app: "web", repo: repo), token: a.token)
                    let summary = try await load.stop()
                    release += 1
                    #expect(next.string("status") == "success", "\(strategy): \(next.json)")
                    #expect(next.string("version") == "v\(release)")
                    #expect(summary.requests > 0 && summary.failures == 0, "\(strategy): \(summary)")
                    #expect(await DeployFixtures.served(url) == value, "\(strategy)")
                }

                let releases = try await api.call(.get, "/api/v1/apps/web/releases", token: a.token)
                #expect(releases.items.compactMap { $0["version"] as? String } == ["v4", "v3", "v2", "v1"])

                // A rollback to a named release: its kept artifact, no build.
                let rollback = try await api.call(.post, "/api/v1/apps/web/rollback", token: a.token,
                                                  json: ["version": "v1", "reason": "v4 misbehaves"])
                try #require(rollback.status == 202, "\(rollback.json)")
                let back = try await Self.finished(api, try #require(rollback.string("deployment_id")), token: a.token)
                #expect(back.string("status") == "success" && back.string("kind") == "rollback", "\(back.json)")
                let backPhases = back["phases"] as? [[String: Any]] ?? []
                #expect(backPhases.first { $0["name"] as? String == "build" }?["state"] as? String == "skipped")
                #expect(await DeployFixtures.served(url) == "one")
                #expect(try await api.call(.get, "/api/v1/apps/web", token: a.token).string("current_release") == "v1")

                let logs = try await api.call(.get, "/api/v1/deployments/\(try #require(first.string("id")))/logs", token: a.token)
                let entries = logs["entries"] as? [[String: Any]] ?? []
                #expect(entries.allSatisfy { $0["@context"] as? String == "https://flukebase.me/schemas/unified-log" && $0["@type"] as? String == "UnifiedLogEntry" })
                let kinds = Set(entries.compactMap { ($0["flukedeploy_metadata"] as? [String: Any])?["event_type"] as? String })
                #expect(kinds.isSuperset(of: ["deploy_start", "build_start", "build_complete", "pre_deploy", "deploy_complete"]), "\(kinds)")
                #expect((logs["phases"] as? [String: Any])?.keys.contains("build") == true)

                // The same entries reach FLUKE_LOGS on fluke.logs.<tenant>.web.
                let nats = try await h.natsClient()
                let consumer = nats.pullConsumer(stream: "FLUKE_LOGS", durable: "test_logs_\(UUID().uuidString.prefix(6))",
                                                 filterSubject: "fluke.logs.\(a.tenantID.lowercased()).web")
                var published = 0
                var appLines: [UnifiedLogEntry] = []
                try await eventually(timeout: .seconds(20), "the deployment's entries and the app's output are on FLUKE_LOGS") {
                    for message in try await consumer.fetch(batch: 500, timeout: .milliseconds(300)) {
                        let entry = try JSONDecoder.withDates.decode(UnifiedLogEntry.self, from: message.message.payload)
                        if entry.flukedeployMetadata?.deploymentID?.uuidString.lowercased() == first.string("id")?.lowercased() { published += 1 }
                        if entry.source.component == "app" { appLines.append(entry) }
                        try await message.ack()
                    }
                    return published >= entries.count && appLines.contains { $0.message.contains("listening on") }
                }
                // The replicas' own lines ("<release> listening on <port>"), as the app wrote them.
                #expect(appLines.allSatisfy { $0.source.service == "web" && $0.source.instance != nil
                    && $0.source.tenantID?.uuidString.lowercased() == a.tenantID.lowercased() })
                await nats.shutdown()
                let types = try await events.collect(window: .seconds(3)).map(\.type)
                for type in ["deploy.queued", "deploy.started", "deploy.phase_changed", "deploy.succeeded"] {
                    #expect(types.contains(type), "\(type) in \(Set(types))")
                }
            }
            await DeployFixtures.stopLeftovers(data, tenantID: UUID(uuidString: a.tenantID)!, apps: ["web"])
        }
    }
}

extension JSONDecoder {
    /// RFC 3339 dates, as the fleet writes them.
    static var withDates: JSONDecoder { CloudEvent.decoder() }
}
