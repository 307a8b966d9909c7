@testable import ContextAPI
import FlukeModels
import FlukeNATS
import FlukeRuntime
import FlukeTestSupport
import Foundation
import HTTPTypes
import Synchronization
import Testing
@testable import WebhookDispatcher

@Suite("webhook delivery", .needsPostgresAndNATS)
struct DeliveryTests {
    @Test("an env.updated from context-api reaches the receiver, signed as the standardwebhooks reference library verifies")
    func endToEndFromContextAPI() async throws {
        let h = try await WebhookHarness()
        let receiver = Receiver()
        try await receiver.run { base in
            try await h.withProjectManager { pm in
                let world = try await WebhookHarness.world(pm)
                try await h.withDispatcher { hooks, _ in
                    let sub = try await hooks.subscribe(world.token, project: world.projectID, url: base + "/hook",
                                                        events: ["env.*"], extra: ["headers": ["X-Team": "core"]])
                    try #require(sub.status == 201, "\(sub.json)")
                    let secret = try #require(sub.string("secret"))
                    try await h.withContextAPI { context in
                        // context-api knows the project once its replica has applied project.created.
                        try await eventually(timeout: .seconds(10), "context-api accepted the variable") {
                            let put = try await context.call(
                                .put, "/api/v1/projects/\(world.projectID)/env/API_URL", token: world.token,
                                json: ["value": "https://api.example.com", "environment": "staging"])
                            return put.status == 201
                        }
                    }
                    try await eventually(timeout: .seconds(15), "the receiver got the event") { !receiver.received.isEmpty }
                    let got = receiver.received
                    #expect(got.count == 1)
                    let request = try #require(got.first)
                    #expect(try ReferenceVerifier.verify(got, secret: secret) == [true])
                    // A wrong secret fails the same verifier: the check above can fail.
                    #expect(try ReferenceVerifier.verify(got, secret: StandardWebhooks.newSecret()) == [false])
                    let body = try #require(try JSONSerialization.jsonObject(with: request.body) as? [String: Any])
                    #expect(body["type"] as? String == "env.updated")
                    #expect(body["timestamp"] is String)
                    let data = try #require(body["data"] as? [String: Any])
                    #expect(data["project_id"] as? String == world.projectID && data["key"] as? String == "API_URL")
                    #expect(request.headers["x-team"] == "core")
                    #expect(request.headers["content-type"] == "application/json")
                    let webhookID = try #require(request.headers["webhook-id"])
                    #expect(request.headers["webhook-signature"]?.hasPrefix("v1,") == true)
                    #expect(abs((Int(request.headers["webhook-timestamp"] ?? "") ?? 0) - Int(Date().timeIntervalSince1970)) < 60)

                    // Visible through the API, with its attempt logged.
                    let subID = try #require(sub.string("id"))
                    try await eventually(timeout: .seconds(5), "the delivery is recorded as succeeded") {
                        let list = try await hooks.call(.get, "/api/v1/webhooks/subscriptions/\(subID)/deliveries?status=succeeded",
                                                        token: world.token)
                        return list.items.count == 1
                    }
                    let list = try await hooks.call(.get, "/api/v1/webhooks/subscriptions/\(subID)/deliveries", token: world.token)
                    let delivery = try #require(list.items.first)
                    #expect(delivery["event_id"] as? String == webhookID && delivery["event_type"] as? String == "env.updated")
                    let detail = try await hooks.call(.get, "/api/v1/webhooks/deliveries/\(delivery["id"] as! String)", token: world.token)
                    let attempts = try #require(detail["attempt_log"] as? [[String: Any]])
                    #expect(attempts.count == 1 && attempts.first?["status_code"] as? Int == 200)
                    #expect(attempts.first?["response_body"] as? String == "answer 1")
                    try await eventually(timeout: .seconds(5), "the metrics count the success") {
                        try await hooks.metric("webhook_deliveries_total{outcome=\"succeeded\"}") == 1
                    }
                }
            }
        }
    }

    @Test("a receiver failing half its requests at random still gets every event; retries keep the webhook-id")
    func flakyReceiver() async throws {
        let h = try await WebhookHarness()
        let receiver = Receiver { _, _ in Bool.random() ? (.ok, [:]) : (.internalServerError, [:]) }
        try await receiver.run { base in
            try await h.withProjectManager { pm in
                let world = try await WebhookHarness.world(pm)
                try await h.withDispatcher(["WEBHOOK_RETRY_SCHEDULE": "0,0.05,0.05,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1"]) { hooks, parts in
                    let sub = try await hooks.subscribe(world.token, project: world.projectID, url: base + "/flaky",
                                                        events: ["task.*"])
                    try #require(sub.status == 201)
                    let events = (0..<200).map { i in WebhookHarness.event(.taskUpdated, world: world, data: .object(["n": .number(Double(i))])) }
                    // Another type and another project: not for this subscription.
                    let other = [WebhookHarness.event(.envUpdated, world: world)]
                    try await WebhookHarness.publish(h.nats, events + other)
                    let ids = Set(events.map(\.id))
                    let succeeded = { Set(receiver.received.compactMap { $0.headers["webhook-id"] }) }
                    try await eventually(timeout: .seconds(60), "all 200 events delivered") {
                        let ok = try await hooks.call(.get, "/api/v1/webhooks/subscriptions/\(sub.string("id")!)/deliveries?status=succeeded&limit=100",
                                                      token: world.token)
                        return ok.items.count == 100 && succeeded().isSuperset(of: ids)
                    }
                    let seen = receiver.received.compactMap { $0.headers["webhook-id"] }
                    #expect(Set(seen) == ids, "only the subscribed events arrive")
                    #expect(seen.count > ids.count, "some were retried (half the answers were 500)")
                    // Metrics follow the commit of each batch of outcomes.
                    try await eventually(timeout: .seconds(30), "the metrics count 200 successes") {
                        try await hooks.metric("webhook_deliveries_total{outcome=\"succeeded\"}") == 200
                    }
                    #expect(try await hooks.metric("webhook_deliveries_total{outcome=\"retrying\"}") ?? 0 > 0)
                    let failed = try await hooks.call(.get, "/api/v1/webhooks/subscriptions/\(sub.string("id")!)/deliveries?status=failed",
                                                      token: world.token)
                    #expect(failed.items.isEmpty)
                }
            }
        }
    }

    @Test("410 disables the subscription and emits webhook.endpoint.disabled; exhausted retries are a dead letter that retry and recover send again")
    func goneAndDeadLetter() async throws {
        let h = try await WebhookHarness()
        let mode = Mutex("fail")
        let receiver = Receiver { r, _ in
            if r.path == "/gone" { return (.gone, [:]) }
            return mode.withLock { $0 } == "fail" ? (.serviceUnavailable, [:]) : (.noContent, [:])
        }
        try await receiver.run { base in
            try await h.withProjectManager { pm in
                let world = try await WebhookHarness.world(pm)
                try await h.withDispatcher(["WEBHOOK_RETRY_SCHEDULE": "0,0.1,0.1"]) { hooks, parts in
                    let disabled = try await EventCollector(natsURL: h.nats.url, filter: EventType.webhookEndpointDisabled.subject)
                    let gone = try await hooks.subscribe(world.token, project: world.projectID, url: base + "/gone", events: ["task.created"])
                    let dead = try await hooks.subscribe(world.token, project: world.projectID, url: base + "/dead", events: ["task.created"])
                    let goneID = try #require(gone.string("id")), deadID = try #require(dead.string("id"))
                    try await WebhookHarness.publish(h.nats, [WebhookHarness.event(.taskCreated, world: world)])

                    try await eventually(timeout: .seconds(10), "410 disabled the subscription") {
                        let s = try await hooks.call(.get, "/api/v1/webhooks/subscriptions/\(goneID)", token: world.token)
                        return s["enabled"] as? Bool == false
                    }
                    let events = try await disabled.collect(count: 1, window: .seconds(10))
                    #expect(events.first?.data["subscription_id"] == .string(goneID))
                    #expect(receiver.received.filter { $0.path == "/gone" }.count == 1, "a 410 is not retried")

                    try await eventually(timeout: .seconds(10), "the schedule is exhausted") {
                        let f = try await hooks.call(.get, "/api/v1/webhooks/subscriptions/\(deadID)/deliveries?status=failed", token: world.token)
                        return f.items.count == 1
                    }
                    #expect(receiver.received.filter { $0.path == "/dead" }.count == 3, "three attempts: the schedule's length")
                    let failed = try await hooks.call(.get, "/api/v1/webhooks/subscriptions/\(deadID)/deliveries?status=failed", token: world.token)
                    let deliveryID = try #require(failed.items.first?["id"] as? String)
                    #expect(failed.items.first?["last_status_code"] as? Int == 503)

                    mode.withLock { $0 = "ok" }
                    let retried = try await hooks.call(.post, "/api/v1/webhooks/deliveries/\(deliveryID)/retry", token: world.token)
                    #expect(retried.status == 202)
                    try await eventually(timeout: .seconds(10), "the retried delivery succeeded") {
                        let d = try await hooks.call(.get, "/api/v1/webhooks/deliveries/\(deliveryID)", token: world.token)
                        return d.string("status") == "succeeded" && (d["attempt_log"] as? [Any])?.count == 4
                    }
                    // Recover: everything that failed since a time is sent again.
                    mode.withLock { $0 = "fail" }
                    try await WebhookHarness.publish(h.nats, [WebhookHarness.event(.taskCreated, world: world)])
                    try await eventually(timeout: .seconds(10), "the second event failed") {
                        let f = try await hooks.call(.get, "/api/v1/webhooks/subscriptions/\(deadID)/deliveries?status=failed", token: world.token)
                        return f.items.count == 1
                    }
                    mode.withLock { $0 = "ok" }
                    let recovered = try await hooks.call(.post, "/api/v1/webhooks/subscriptions/\(deadID)/recover", token: world.token,
                                                         json: ["since": RFC3339.format(Date().addingTimeInterval(-3600))])
                    #expect(recovered.status == 202 && recovered["recovered"] as? Int == 1)
                    try await eventually(timeout: .seconds(10), "both deliveries succeeded") {
                        let ok = try await hooks.call(.get, "/api/v1/webhooks/subscriptions/\(deadID)/deliveries?status=succeeded", token: world.token)
                        return ok.items.count == 2
                    }
                }
            }
        }
    }

    @Test("redirects are not followed, and a host that resolves to loopback is refused at delivery time")
    func ssrfAtDelivery() async throws {
        let h = try await WebhookHarness()
        let target = Receiver()
        try await target.run { targetBase in
            let redirector = Receiver { _, _ in (.found, [.location: targetBase + "/stolen"]) }
            try await redirector.run { base in
                try await h.withProjectManager { pm in
                    let world = try await WebhookHarness.world(pm)
                    let port = URL(string: base)!.port!
                    // Created while `localhost` is allowed ...
                    let subID = try await h.withDispatcher(["WEBHOOK_ALLOWED_HOSTS": "127.0.0.1,localhost"]) { hooks, _ in
                        let viaName = try await hooks.subscribe(world.token, project: world.projectID,
                                                                url: "http://localhost:\(port)/by-name", events: ["task.created"])
                        try #require(viaName.status == 201, "\(viaName.json)")
                        return try #require(viaName.string("id"))
                    }
                    // ... and delivered by a dispatcher that no longer allows it.
                    try await h.withDispatcher(["WEBHOOK_RETRY_SCHEDULE": "0"]) { hooks, parts in
                        let redirect = try await hooks.subscribe(world.token, project: world.projectID, url: base + "/redirect",
                                                                 events: ["task.created"])
                        try #require(redirect.status == 201)
                        try await WebhookHarness.publish(h.nats, [WebhookHarness.event(.taskCreated, world: world)])
                        for id in [subID, redirect.string("id")!] {
                            try await eventually(timeout: .seconds(10), "the delivery failed") {
                                let f = try await hooks.call(.get, "/api/v1/webhooks/subscriptions/\(id)/deliveries?status=failed",
                                                             token: world.token)
                                return f.items.count == 1
                            }
                        }
                        let byName = try await hooks.call(.get, "/api/v1/webhooks/subscriptions/\(subID)/deliveries", token: world.token)
                        #expect((byName.items.first?["last_error"] as? String)?.contains("loopback") == true, "\(byName.items)")
                        #expect(redirector.received.filter { $0.path == "/by-name" }.isEmpty, "nothing was sent to the refused host")
                        let redirected = try await hooks.call(.get, "/api/v1/webhooks/subscriptions/\(redirect.string("id")!)/deliveries",
                                                              token: world.token)
                        #expect(redirected.items.first?["last_status_code"] as? Int == 302)
                        #expect(redirector.received.count == 1)
                        #expect(target.received.isEmpty, "the redirect was not followed")
                    }
                }
            }
        }
    }

    @Test("rotate-secret: during the grace period every request carries a signature by each secret")
    func rotation() async throws {
        let h = try await WebhookHarness()
        let receiver = Receiver()
        try await receiver.run { base in
            try await h.withProjectManager { pm in
                let world = try await WebhookHarness.world(pm)
                try await h.withDispatcher { hooks, _ in
                    let sub = try await hooks.subscribe(world.token, project: world.projectID, url: base + "/r", events: ["*"])
                    let id = try #require(sub.string("id")), old = try #require(sub.string("secret"))
                    let rotated = try await hooks.call(.post, "/api/v1/webhooks/subscriptions/\(id)/rotate-secret", token: world.token)
                    #expect(rotated.status == 200)
                    let new = try #require(rotated.string("secret"))
                    #expect(new != old)
                    let test = try await hooks.call(.post, "/api/v1/webhooks/subscriptions/\(id)/test", token: world.token)
                    #expect(test.status == 202 && test.string("event_type") == "webhook.test")
                    try await eventually(timeout: .seconds(10), "the test event arrived") { receiver.received.count == 1 }
                    let got = receiver.received
                    #expect(got.first?.headers["webhook-signature"]?.split(separator: " ").count == 2)
                    #expect(try ReferenceVerifier.verify(got, secret: old) == [true])
                    #expect(try ReferenceVerifier.verify(got, secret: new) == [true])
                }
            }
        }
    }
}
