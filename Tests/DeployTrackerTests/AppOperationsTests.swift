import DeployTracker
import FlukeTestSupport
import Foundation
import Testing

@Suite("deploy-tracker: uploads, validation, scale, restart, active deployments", .needsPostgresAndNATS)
struct AppOperationsTests {
    /// The fixture app as a gzipped tarball, as `fluke deploy` would upload it.
    static func tarball() throws -> Data {
        let repo = try DeployFixtures.appRepository()
        let out = repo.deletingLastPathComponent().appendingPathComponent("src-\(UUID().uuidString.prefix(6)).tar.gz")
        let tar = Process()
        tar.executableURL = URL(fileURLWithPath: "/usr/bin/tar")
        tar.arguments = ["-czf", out.path, "-C", repo.path, "app.py"]
        try tar.run()
        tar.waitUntilExit()
        try #require(tar.terminationStatus == 0)
        return try Data(contentsOf: out)
    }

    @Test("a gzipped tarball deploys (415 for another type, 422 for non-gzip, 413 past DEPLOY_MAX_UPLOAD_BYTES); validate checks without starting anything; scale and restart act on the running release; active lists what runs")
    func operations() async throws {
        let h = try await DeployHarness()
        let data = TestEnvironment.workDir + "/deploy-\(UUID().uuidString.prefix(8))"
        let archive = try Self.tarball()
        try await h.withProjectManager { pm in
            let a = try await DeployHarness.world(pm)
            try await h.withTracker(DeployFixtures.ports().merging(["DEPLOY_DATA_DIR": data, "DEPLOY_MAX_UPLOAD_BYTES": "65536"]) { $1 }) { api, _ in
                let created = try await api.call(.post, "/api/v1/apps", token: a.token, json: [
                    "name": "web", "executor": "process", "spec": DeployFixtures.spec(replicas: 1, env: ["RELEASE": "uploaded"])])
                try #require(created.status == 201, "\(created.json)")

                let validated = try await api.call(.post, "/api/v1/deploy/validate", token: a.token, json: ["app_name": "web"])
                #expect(validated.status == 200 && validated["valid"] as? Bool == true, "\(validated.json)")
                #expect((validated["checks"] as? [[String: Any]])?.isEmpty == false)
                #expect(try await api.call(.get, "/api/v1/apps/web", token: a.token).string("status") == "new")

                let wrongType = try await api.client.execute(uri: "/api/v1/apps/web/deployments", method: .post,
                                                             headers: [.authorization: "Bearer \(a.token)", .contentType: "text/plain"],
                                                             body: .init(data: archive))
                #expect(wrongType.status.code == 415)
                let notGzip = try await api.client.execute(uri: "/api/v1/apps/web/deployments", method: .post,
                                                           headers: [.authorization: "Bearer \(a.token)", .contentType: "application/gzip"],
                                                           body: .init(string: "plain text, not gzip"))
                #expect(notGzip.status.code == 422)
                let tooBig = try await api.client.execute(uri: "/api/v1/apps/web/deployments", method: .post,
                                                          headers: [.authorization: "Bearer \(a.token)", .contentType: "application/gzip"],
                                                          body: .init(data: Data([0x1f, 0x8b]) + Data(count: 70_000)))
                #expect(tooBig.status.code == 413)
                #expect(try await api.call(.get, "/api/v1/apps/web/deployments", token: a.token).items.isEmpty)

                let uploaded = try await api.client.execute(uri: "/api/v1/apps/web/deployments", method: .post,
                                                            headers: [.authorization: "Bearer \(a.token)", .contentType: "application/gzip"],
                                                            body: .init(data: archive))
                #expect(uploaded.status.code == 202)
                let body = try JSONSerialization.jsonObject(with: Data(buffer: uploaded.body)) as? [String: Any] ?? [:]
                let id = try #require(body["deployment_id"] as? String)
                let active = try await api.call(.get, "/api/v1/deployments/active", token: a.token)
                #expect(active.items.contains { $0["id"] as? String == id } || active.items.isEmpty)
                let done = try await DeploymentFlowTests.finished(api, id, token: a.token)
                #expect(done.string("status") == "success", "\(done.json)")
                let url = try #require(try await api.call(.get, "/api/v1/apps/web", token: a.token).string("url"))
                #expect(await DeployFixtures.served(url) == "uploaded")
                #expect(try await api.call(.get, "/api/v1/deployments/active", token: a.token).items.isEmpty)

                let scaled = try await api.call(.post, "/api/v1/apps/web/scale", token: a.token, json: ["replicas": 3])
                #expect(scaled.status == 200, "\(scaled.json)")
                try await eventually(timeout: .seconds(30), "three replicas") {
                    let app = try await api.call(.get, "/api/v1/apps/web", token: a.token)
                    return (app["replicas"] as? [[String: Any]])?.count == 3 && (app["spec"] as? [String: Any])?["replicas"] as? Int == 3
                }
                #expect(try await api.call(.post, "/api/v1/apps/web/scale", token: a.token, json: ["replicas": 101]).string("field") == "replicas")
                let before = Set((try await api.call(.get, "/api/v1/apps/web", token: a.token)["replicas"] as? [[String: Any]] ?? [])
                    .compactMap { $0["id"] as? String })
                #expect(try await api.call(.post, "/api/v1/apps/web/restart", token: a.token).status == 202)
                let after = Set((try await api.call(.get, "/api/v1/apps/web", token: a.token)["replicas"] as? [[String: Any]] ?? [])
                    .compactMap { $0["id"] as? String })
                #expect(after.count == 3 && after.isDisjoint(with: before), "restart replaces every replica: \(before) → \(after)")
                #expect(await DeployFixtures.served(url) == "uploaded")
            }
            await DeployFixtures.stopLeftovers(data, tenantID: UUID(uuidString: a.tenantID)!, apps: ["web"])
        }
    }
}
