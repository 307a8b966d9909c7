import DeployTracker
import FlukeTestSupport
import Foundation
import Testing

@Suite("deploy-tracker API: apps, validation, queueing, tenancy", .needsPostgresAndNATS)
struct AppAPITests {
    @Test("apps are created, listed, read, changed and deleted; bad names and specs get 422 naming the field; names are unique per tenant")
    func appsLifecycle() async throws {
        let h = try await DeployHarness()
        try await h.withProjectManager { pm in
            let a = try await DeployHarness.world(pm)
            let b = try await DeployHarness.world(pm)
            try await h.withTracker(["DEPLOY_EXECUTORS": "swarm"]) { api, parts in
                try await expectOpenAPIDocumentsExactlyServedRoutes(api.client, routes: parts.routes)
                let spec: [String: Any] = ["image": "registry.example.com/team/api:1.0", "replicas": 2,
                                           "health_check": ["path": "/healthz"]]
                let created = try await api.call(.post, "/api/v1/apps", token: a.token, json: ["name": "api", "executor": "swarm", "spec": spec])
                try #require(created.status == 201, "\(created.json)")
                #expect(created.string("name") == "api" && created.string("status") == "new")
                let createdSpec = try #require(created["spec"] as? [String: Any])
                #expect((createdSpec["health_check"] as? [String: Any])?["retries"] as? Int == 10)
                #expect(createdSpec["deploy_timeout"] as? Int == 600)

                let again = try await api.call(.post, "/api/v1/apps", token: a.token, json: ["name": "api", "executor": "swarm", "spec": spec])
                #expect(again.status == 409 && again.string("code") == "name_taken")
                // Another tenant may use the same name, and never sees the first one.
                let other = try await api.call(.post, "/api/v1/apps", token: b.token, json: ["name": "api", "executor": "swarm", "spec": spec])
                #expect(other.status == 201)
                #expect(try await api.call(.get, "/api/v1/apps", token: b.token).items.count == 1)

                for (body, field) in [
                    (["name": "Bad_Name", "executor": "swarm", "spec": spec], "name"),
                    (["name": "x", "executor": "swarm", "spec": ["replicas": 1000]], "spec.replicas"),
                    (["name": "x", "executor": "swarm", "spec": ["health_check": ["path": "nope"]]], "spec.health_check.path"),
                    (["name": "x", "executor": "swarm", "spec": ["strategy": ["type": "canary", "steps": [50, 10]]]], "spec.strategy.steps"),
                    (["name": "x", "executor": "swarm", "spec": ["typo": 1]], "spec.typo"),
                    (["name": "x", "executor": "swarm", "spec": ["image": "Not An Image"]], "spec.image"),
                    (["name": "x", "executor": "process", "spec": [:]], "executor"),
                    (["name": "x", "executor": "swarm", "spec": ["env": ["A": "1\u{0}2"]]], "spec.env.A"),
                ] as [([String: Any], String)] {
                    let refused = try await api.call(.post, "/api/v1/apps", token: a.token, json: body)
                    #expect(refused.status == 422 || refused.status == 400, "\(body): \(refused.json)")
                    #expect(refused.headers[.contentType]?.hasPrefix("application/problem+json") == true)
                    if refused.status == 422 { #expect(refused.string("field") == field, "\(body): \(refused.json)") }
                }
                #expect(try await api.call(.get, "/api/v1/apps", token: a.token).items.count == 1)

                let patched = try await api.call(.patch, "/api/v1/apps/api", token: a.token, json: ["spec": ["image": "registry.example.com/team/api:2.0", "replicas": 3]])
                #expect(patched.status == 200 && (patched["spec"] as? [String: Any])?["replicas"] as? Int == 3)
                #expect(try await api.call(.get, "/api/v1/apps/api", token: b.token).string("id") != created.string("id"))
                #expect(try await api.call(.get, "/api/v1/apps/nope", token: a.token).status == 404)
                #expect(try await api.call(.get, "/api/v1/apps/api/releases", token: a.token).items.isEmpty)
                // Reads need context:read, writes deploy:write.
                let readOnly = try await pm.call(.post, "/api/v1/tokens", token: a.ownerToken,
                                                 json: ["name": "ro", "scopes": ["context:read"], "project_id": a.projectID])
                let ro = try #require(readOnly.string("token"))
                #expect(try await api.call(.get, "/api/v1/apps/api", token: ro).status == 200)
                #expect(try await api.call(.delete, "/api/v1/apps/api", token: ro).status == 403)
                #expect(try await api.call(.delete, "/api/v1/apps/api", token: a.token).status == 204)
                #expect(try await api.call(.get, "/api/v1/apps/api", token: a.token).status == 404)
            }
        }
    }

    @Test("a deploy is queued (202, pending, deploy.queued); more than DEPLOY_QUEUE_LIMIT waiting is 409 queue_full; a queued one cancels at once; a finished one, cached, is still seen only by its tenant and project")
    func queueing() async throws {
        let h = try await DeployHarness()
        try await h.withProjectManager { pm in
            let a = try await DeployHarness.world(pm)
            let events = try await EventCollector(natsURL: h.nats.url, filter: "fluke.events.deploy.>")
            let repo = try DeployHarness.gitRepository(["README": "slow"])
            // The first deployment's build takes 30 s, so the others wait behind it.
            try await h.withTracker(["DEPLOY_EXECUTORS": "process,swarm", "DEPLOY_QUEUE_LIMIT": "2"]) { api, _ in
                let app = try await api.call(.post, "/api/v1/apps", token: a.token, json: [
                    "name": "web", "executor": "process", "spec": ["build_command": "sleep 30", "start_command": "true"]])
                try #require(app.status == 201, "\(app.json)")
                let image = try await api.call(.post, "/api/v1/apps", token: a.token, json: [
                    "name": "img", "executor": "swarm", "spec": ["image": "registry.example.com/web:1"]])
                try #require(image.status == 201, "\(image.json)")
                #expect(try await api.call(.post, "/api/v1/deploy", token: a.token, json: ["app_name": "img", "image": "bad image"]).string("field") == "image")
                #expect(try await api.call(.post, "/api/v1/deploy", token: a.token, json: ["app_name": "web"]).string("field") == "source")
                #expect(try await api.call(.post, "/api/v1/deploy", token: a.token, json: ["app_name": "nope"]).status == 404)
                var ids: [String] = []
                var sawFull = false
                for _ in 0..<6 {
                    let queued = try await api.call(.post, "/api/v1/deploy", token: a.token,
                                                    json: ["app_name": "web", "source": ["git": repo.absoluteString]])
                    if queued.status == 409 {
                        #expect(queued.string("code") == "queue_full")
                        sawFull = true
                        break
                    }
                    #expect(queued.status == 202, "\(queued.json)")
                    #expect(queued.headers[.location]?.hasPrefix("/api/v1/deployments/") == true)
                    ids.append(try #require(queued.string("deployment_id")))
                }
                #expect(sawFull)
                let last = try #require(ids.last)
                let got = try await api.call(.get, "/api/v1/deployments/\(last)", token: a.token)
                #expect(got.status == 200 && got.string("app_name") == "web")
                let cancelled = try await api.call(.post, "/api/v1/deployments/\(last)/cancel", token: a.token)
                #expect(cancelled.status == 202)
                try await eventually(timeout: .seconds(10), "the queued deployment is cancelled") {
                    try await api.call(.get, "/api/v1/deployments/\(last)", token: a.token).string("status") == "cancelled"
                }
                #expect(try await api.call(.post, "/api/v1/deployments/\(last)/cancel", token: a.token).status == 409)
                // Finished, it is now served from the deployment cache: the same answer, and still
                // only to its tenant and to tokens of its project.
                let first = try await api.call(.get, "/api/v1/deployments/\(last)", token: a.token)
                let again = try await api.call(.get, "/api/v1/deployments/\(last)", token: a.token)
                #expect(again.status == 200 && again.body == first.body)
                let stranger = try await DeployHarness.world(pm)
                #expect(try await api.call(.get, "/api/v1/deployments/\(last)", token: stranger.token).status == 404)
                let other = try await pm.call(.post, "/api/v1/projects", token: a.ownerToken, json: ["name": "Other", "stage": "mvp"])
                let otherToken = try await pm.call(.post, "/api/v1/tokens", token: a.ownerToken, json: [
                    "name": "other", "scopes": ["deploy:write", "context:read"], "project_id": try #require(other.string("id"))])
                #expect(try await api.call(.get, "/api/v1/deployments/\(last)",
                                           token: try #require(otherToken.string("token"))).status == 404)
                #expect(try await api.call(.get, "/api/v1/deployments/\(last)", token: a.ownerToken).status == 200)
                // The running one (its build sleeps 30 s) stops at once too.
                let running = try #require(ids.first)
                #expect(try await api.call(.get, "/api/v1/deployments/\(running)", token: a.token).string("status") == "building")
                #expect(try await api.call(.post, "/api/v1/deployments/\(running)/cancel", token: a.token).status == 202)
                try await eventually(timeout: .seconds(20), "the running deployment is cancelled") {
                    try await api.call(.get, "/api/v1/deployments/\(running)", token: a.token).string("status") == "cancelled"
                }
                #expect(try await api.call(.get, "/api/v1/deployments/\(UUID().uuidString)", token: a.token).status == 404)
                let history = try await api.call(.get, "/api/v1/apps/web/deployments?limit=50", token: a.token)
                #expect(history.items.count == ids.count)
                #expect(history["next_cursor"] is NSNull, "one page holds them all")
                // Page by page with the cursor: the same deployments, newest first, none twice.
                var paged: [String] = []
                var cursor: String?
                repeat {
                    let page = try await api.call(.get, "/api/v1/apps/web/deployments?limit=2" + (cursor.map { "&cursor=\($0)" } ?? ""), token: a.token)
                    #expect(page.status == 200 && page.items.count <= 2)
                    paged += page.items.compactMap { $0["id"] as? String }
                    cursor = page["next_cursor"] as? String
                } while cursor != nil && paged.count <= ids.count
                #expect(paged == history.items.compactMap { $0["id"] as? String })
                #expect(try await api.call(.get, "/api/v1/apps/web/deployments?cursor=nope", token: a.token).string("field") == "cursor")
                for id in ids.dropFirst().dropLast() {
                    _ = try await api.call(.post, "/api/v1/deployments/\(id)/cancel", token: a.token)
                }
                let stats = try await api.call(.get, "/api/v1/deployments/stats", token: a.token)
                #expect(stats["total"] as? Int == ids.count)
                let types = try await events.collect(window: .seconds(5)).map(\.type)
                #expect(types.filter { $0 == "deploy.queued" }.count >= ids.count, "\(types)")
                #expect(types.contains("deploy.cancelled"), "\(types)")
            }
        }
    }
}
