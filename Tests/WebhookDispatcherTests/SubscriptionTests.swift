import FlukeModels
import FlukeRuntime
import FlukeTestSupport
import Foundation
import HTTPTypes
import Testing
@testable import WebhookDispatcher

@Suite("webhook subscriptions", .needsPostgresAndNATS)
struct SubscriptionTests {
    @Test("create shows the secret once; get, list, patch and delete; bad input is 422 naming the field and changes nothing")
    func crud() async throws {
        let h = try await WebhookHarness()
        try await h.withProjectManager { pm in
            let world = try await WebhookHarness.world(pm)
            try await h.withDispatcher { api, _ in
                let created = try await api.subscribe(world.token, project: world.projectID, url: "http://127.0.0.1:9/hook",
                                                      events: ["env.updated", "memory.*"],
                                                      extra: ["description": "ci", "headers": ["X-Team": "core"],
                                                              "rate_limit_per_second": 5])
                #expect(created.status == 201, "\(created.json)")
                let secret = try #require(created.string("secret"))
                #expect(secret.hasPrefix("whsec_") && StandardWebhooks.key(of: secret)?.count == 32)
                let id = try #require(created.string("id"))
                #expect(created["events"] as? [String] == ["env.updated", "memory.*"])
                #expect((created["headers"] as? [String: String])?["X-Team"] == "core")

                let got = try await api.call(.get, "/api/v1/webhooks/subscriptions/\(id)", token: world.token)
                #expect(got.status == 200 && got["secret"] == nil)
                let list = try await api.call(.get, "/api/v1/webhooks/subscriptions?project_id=\(world.projectID)", token: world.token)
                #expect(list.items.map { $0["id"] as? String } == [id])
                #expect(list.items.first?["secret"] == nil)

                let patched = try await api.call(.patch, "/api/v1/webhooks/subscriptions/\(id)", token: world.token,
                                                 json: ["events": ["*"], "rate_limit_per_second": NSNull(), "enabled": false])
                #expect(patched.status == 200, "\(patched.json)")
                #expect(patched["events"] as? [String] == ["*"] && patched["rate_limit_per_second"] is NSNull)
                #expect(patched["enabled"] as? Bool == false && patched.string("disabled_reason") != nil)

                // Rejected requests name the field and change nothing.
                let bad: [([String: Any], String)] = [
                    (["project_id": world.projectID, "callback_url": "http://127.0.0.1:9/x"], "events"),
                    (["project_id": world.projectID, "events": [], "callback_url": "http://127.0.0.1:9/x"], "events"),
                    (["project_id": world.projectID, "events": ["Env Updated"], "callback_url": "http://127.0.0.1:9/x"], "events[0]"),
                    (["project_id": world.projectID, "events": ["*"], "callback_url": "http://127.0.0.1:9/x", "secret": "plain"], "secret"),
                    (["project_id": world.projectID, "events": ["*"], "callback_url": "http://127.0.0.1:9/x",
                      "secret": "whsec_" + Data(count: 8).base64EncodedString()], "secret"),
                    (["project_id": world.projectID, "events": ["*"], "callback_url": "http://127.0.0.1:9/x",
                      "headers": ["webhook-signature": "x"]], "headers.webhook-signature"),
                    (["project_id": world.projectID, "events": ["*"], "callback_url": "http://127.0.0.1:9/x",
                      "rate_limit_per_second": 0], "rate_limit_per_second"),
                    (["project_id": world.projectID, "events": ["*"], "callback_url": "http://127.0.0.1:9/x", "colour": "red"], "colour"),
                ]
                for (body, field) in bad {
                    let reply = try await api.call(.post, "/api/v1/webhooks/subscriptions", token: world.token, json: body)
                    #expect(reply.status == 422 && reply.string("field") == field, "\(body) → \(reply.status) \(reply.json)")
                    #expect(reply.headers[.contentType]?.hasPrefix("application/problem+json") == true)
                }
                // A session (not bound to a project) must name the project.
                let noProject = try await api.call(.post, "/api/v1/webhooks/subscriptions", token: world.ownerToken,
                                                   json: ["events": ["*"], "callback_url": "http://127.0.0.1:9/x"])
                #expect(noProject.status == 422 && noProject.string("field") == "project_id")
                let after = try await api.call(.get, "/api/v1/webhooks/subscriptions", token: world.token)
                #expect(after.items.count == 1)

                // Another project's token sees nothing of this one.
                let other = try await pm.call(.post, "/api/v1/projects", token: world.ownerToken, json: ["name": "Other", "stage": "mvp"])
                let otherToken = try await pm.call(.post, "/api/v1/tokens", token: world.ownerToken,
                                                   json: ["name": "o", "scopes": ["webhooks:manage"], "project_id": other.string("id")!])
                let hidden = try await api.call(.get, "/api/v1/webhooks/subscriptions/\(id)", token: otherToken.string("token")!)
                #expect(hidden.status == 404)
                let noScope = try await pm.call(.post, "/api/v1/tokens", token: world.ownerToken,
                                                json: ["name": "r", "scopes": ["context:read"], "project_id": world.projectID])
                #expect(try await api.call(.get, "/api/v1/webhooks/subscriptions", token: noScope.string("token")!).status == 403)

                #expect(try await api.call(.delete, "/api/v1/webhooks/subscriptions/\(id)", token: world.token).status == 204)
                #expect(try await api.call(.get, "/api/v1/webhooks/subscriptions/\(id)", token: world.token).status == 404)
            }
        }
    }

    @Test("callback URLs: https required, and hosts that are or resolve to internal addresses refused at creation")
    func ssrfAtCreation() async throws {
        let h = try await WebhookHarness()
        try await h.withProjectManager { pm in
            let world = try await WebhookHarness.world(pm)
            try await h.withDispatcher(["WEBHOOK_ALLOW_HTTP": "false", "WEBHOOK_ALLOWED_HOSTS": ""]) { api, _ in
                let refused = [
                    "http://203.0.113.10/hook",           // plain http
                    "ftp://203.0.113.10/hook",
                    "https://127.0.0.1/hook", "https://127.9.9.9:8443/hook", "https://[::1]/hook",
                    "https://10.1.2.3/hook", "https://172.16.0.1/hook", "https://192.168.1.1/hook",
                    "https://169.254.169.254/latest/meta-data", "https://[fe80::1]/hook", "https://[fc00::1]/hook",
                    "https://224.0.0.1/hook", "https://0.0.0.0/hook", "https://[::ffff:127.0.0.1]/hook",
                    "https://metadata.google.internal/computeMetadata/v1/",
                    "https://localhost/hook",             // a name that resolves to 127.0.0.1
                    "https://user:pass@203.0.113.10/hook",
                    "https://2130706433/hook",            // 127.0.0.1 as one decimal number
                ]
                for url in refused {
                    let reply = try await api.subscribe(world.token, project: world.projectID, url: url)
                    #expect(reply.status == 422 && reply.string("field") == "callback_url", "\(url) → \(reply.status) \(reply.json)")
                }
                let list = try await api.call(.get, "/api/v1/webhooks/subscriptions", token: world.token)
                #expect(list.items.isEmpty)
            }
        }
    }

    @Test("a project's subscriptions stop at WEBHOOK_MAX_SUBSCRIPTIONS_PER_PROJECT with a clear 409; a delete makes room")
    func perProjectLimit() async throws {
        let h = try await WebhookHarness()
        try await h.withProjectManager { pm in
            let world = try await WebhookHarness.world(pm)
            try await h.withDispatcher(["WEBHOOK_MAX_SUBSCRIPTIONS_PER_PROJECT": "2"]) { hooks, _ in
                var ids: [String] = []
                for i in 0..<2 {
                    let s = try await hooks.subscribe(world.token, project: world.projectID, url: "http://127.0.0.1:9/\(i)")
                    try #require(s.status == 201, "\(s.json)")
                    ids.append(try #require(s.string("id")))
                }
                let third = try await hooks.subscribe(world.token, project: world.projectID, url: "http://127.0.0.1:9/2")
                #expect(third.status == 409 && third.headers[.contentType] == "application/problem+json", "\(third.json)")
                #expect((third.string("detail") ?? "").contains("WEBHOOK_MAX_SUBSCRIPTIONS_PER_PROJECT"))
                #expect(try await hooks.call(.get, "/api/v1/webhooks/subscriptions", token: world.token).items.count == 2)
                #expect(try await hooks.call(.delete, "/api/v1/webhooks/subscriptions/\(ids[0])", token: world.token).status == 204)
                #expect(try await hooks.subscribe(world.token, project: world.projectID, url: "http://127.0.0.1:9/2").status == 201)
            }
        }
    }
}
