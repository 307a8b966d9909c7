import FlukeModels
import FlukeRuntime
import FlukeTestSupport
import Foundation
import HTTPTypes
import Synchronization
import Testing
@testable import WebhookDispatcher

@Suite("webhook delivery policy", .needsPostgresAndNATS)
struct WebhookPolicyTests {
    @Test("rate_limit_per_second spaces a subscription's deliveries; WEBHOOK_SUBSCRIPTION_CONCURRENCY caps its attempts in flight")
    func rateAndConcurrency() async throws {
        let h = try await WebhookHarness()
        let slow = Receiver(delay: .milliseconds(150))
        try await slow.run { base in
            try await h.withProjectManager { pm in
                let world = try await WebhookHarness.world(pm)
                try await h.withDispatcher(["WEBHOOK_SUBSCRIPTION_CONCURRENCY": "3"]) { hooks, parts in
                    let limited = try await hooks.subscribe(world.token, project: world.projectID, url: base + "/limited",
                                                            events: ["task.*"], extra: ["rate_limit_per_second": 5])
                    try #require(limited.status == 201)
                    let capped = try await hooks.subscribe(world.token, project: world.projectID, url: base + "/capped",
                                                           events: ["task.*"])
                    try #require(capped.status == 201)
                    let events = (0..<15).map { i in WebhookHarness.event(.taskUpdated, world: world, data: .object(["n": .number(Double(i))])) }
                    try await WebhookHarness.publish(h.nats, events)
                    try await eventually(timeout: .seconds(20), "30 deliveries") { slow.received.count >= 30 }
                    let limitedTimes = slow.received.filter { $0.path == "/limited" }.map(\.at).sorted()
                    #expect(limitedTimes.count == 15)
                    // A bucket of 5 refilled at 5/s: the first 5 at once, the other 10 over 2 s.
                    let span = limitedTimes.last! - limitedTimes.first!
                    #expect(span >= .milliseconds(1800), "15 deliveries at 5/s took \(span)")
                    // Any 11 consecutive deliveries span at least (10 - 5) / 5 s.
                    for i in limitedTimes.indices.dropFirst(10) {
                        #expect(limitedTimes[i] - limitedTimes[i - 10] >= .milliseconds(900), "11 deliveries within \(limitedTimes[i] - limitedTimes[i - 10])")
                    }
                    // At most 3 in flight per subscription, and both subscriptions together at most 6.
                    #expect(slow.mostAtOnce <= 6 && slow.mostAtOnce >= 3, "most at once: \(slow.mostAtOnce)")
                }
            }
        }
        let serial = Receiver(delay: .milliseconds(100))
        try await serial.run { base in
            try await h.withProjectManager { pm in
                let world = try await WebhookHarness.world(pm)
                try await h.withDispatcher(["WEBHOOK_SUBSCRIPTION_CONCURRENCY": "2"]) { hooks, parts in
                    try #require(try await hooks.subscribe(world.token, project: world.projectID, url: base + "/two", events: ["task.*"]).status == 201)
                    let events = (0..<12).map { _ in WebhookHarness.event(.taskUpdated, world: world) }
                    try await WebhookHarness.publish(h.nats, events)
                    try await eventually(timeout: .seconds(20), "12 deliveries") { serial.received.count >= 12 }
                    #expect(serial.mostAtOnce == 2, "one subscription, concurrency 2: \(serial.mostAtOnce) at once")
                }
            }
        }
    }

    @Test("Retry-After on a 503 sets the next attempt's delay beyond the schedule's")
    func retryAfter() async throws {
        let h = try await WebhookHarness()
        let receiver = Receiver { _, n in n == 1 ? (.serviceUnavailable, [.retryAfter: "2"]) : (.ok, [:]) }
        try await receiver.run { base in
            try await h.withProjectManager { pm in
                let world = try await WebhookHarness.world(pm)
                try await h.withDispatcher { hooks, parts in
                    try #require(try await hooks.subscribe(world.token, project: world.projectID, url: base + "/busy", events: ["task.*"]).status == 201)
                    try await WebhookHarness.publish(h.nats, [WebhookHarness.event(.taskUpdated, world: world)])
                    try await eventually(timeout: .seconds(10), "the retry") { receiver.received.count >= 2 }
                    let got = receiver.received
                    // The schedule alone would retry after 0.2 s (± 20 %).
                    #expect(got[1].at - got[0].at >= .milliseconds(1900), "retried after \(got[1].at - got[0].at)")
                    #expect(got[0].headers["webhook-id"] == got[1].headers["webhook-id"])
                }
            }
        }
    }

    @Test("a subscription failing continuously for WEBHOOK_DISABLE_AFTER is disabled, emits webhook.endpoint.disabled, and the queue depth reports its waiting delivery")
    func disableAfter() async throws {
        let h = try await WebhookHarness()
        let receiver = Receiver { _, _ in (.internalServerError, [:]) }
        try await receiver.run { base in
            try await h.withProjectManager { pm in
                let world = try await WebhookHarness.world(pm)
                try await h.withDispatcher(["WEBHOOK_DISABLE_AFTER": "1.5", "WEBHOOK_RETRY_SCHEDULE": "0,0.4,0.4,0.4,0.4,0.4,0.4,0.4"]) { hooks, parts in
                    let disabled = try await EventCollector(natsURL: h.nats.url, filter: EventType.webhookEndpointDisabled.subject)
                    let sub = try await hooks.subscribe(world.token, project: world.projectID, url: base + "/down", events: ["task.*"])
                    let id = try #require(sub.string("id"))
                    try await WebhookHarness.publish(h.nats, [WebhookHarness.event(.taskUpdated, world: world)])
                    let events = try await disabled.collect(count: 1, window: .seconds(15))
                    #expect(events.first?.data["subscription_id"] == .string(id))
                    #expect(events.first?.projectid == world.projectID)
                    let s = try await hooks.call(.get, "/api/v1/webhooks/subscriptions/\(id)", token: world.token)
                    #expect(s["enabled"] as? Bool == false)
                    #expect((s["disabled_reason"] as? String)?.hasPrefix("failing continuously since") == true)
                    // Disabled for failing 1.5 s, not for running out of attempts (8 in the schedule).
                    let got = receiver.received
                    let attempts = got.count
                    #expect(attempts >= 2 && attempts < 8, "\(attempts) attempts")
                    #expect(got.last!.at - got.first!.at >= .milliseconds(1400))
                    try await Task.sleep(for: .seconds(1))
                    #expect(receiver.received.count == attempts, "nothing is sent to a disabled subscription")
                    // The failed attempt log is kept, and the sampler reports the queue's states.
                    try await eventually(timeout: .seconds(12), "the queue depth reports the delivery") {
                        let dead = try await hooks.metric("webhook_queue_depth{state=\"dead\"}") ?? 0
                        let waiting = try await hooks.metric("webhook_queue_depth{state=\"pending\"}") ?? 0
                        let delayed = try await hooks.metric("webhook_queue_depth{state=\"delayed\"}") ?? 0
                        return dead + waiting + delayed == 1
                    }
                }
            }
        }
    }

    @Test("a mixed-case callback host still connects to the address that was checked (the DNS pin applies)")
    func mixedCaseHostIsPinned() async throws {
        // DNS as seen by the check: attacker.example is 127.0.0.1. The real resolver does not know
        // the name, so the delivery arrives only if the connection goes to the checked address.
        let policy = OutboundURLPolicy(allowHTTP: true, allowedHosts: ["attacker.example"], resolver: { host in
            guard host == "attacker.example" else { throw URLPolicyError(reason: "has a host that does not resolve") }
            return ["127.0.0.1"]
        })
        let sender = WebhookSender(policy: policy, settings: DeliverySettings(schedule: [.zero]), logger: TestEnvironment.logger)
        let receiver = Receiver()
        let outcome = try await receiver.run { base in
            let port = try #require(URLComponents(string: base)?.port)
            let delivery = DeliveryQueue.Claimed(
                seq: 1, id: UUID(), subscriptionID: UUID(), eventID: UUID(), eventType: "task.updated", eventTime: Date(),
                body: "{}", attempt: 1, maxAttempts: 1, callbackURL: "http://Attacker.Example:\(port)/pinned", headers: [:],
                rateLimit: nil, tenantID: UUID(), projectID: UUID(), secrets: [])
            return await sender.send(delivery, keys: [Array("0123456789abcdef0123456789abcdef".utf8)])
        }
        await sender.shutdown()
        #expect(outcome.statusCode == 200, "\(outcome.error ?? "")")
        #expect(receiver.received.map(\.path) == ["/pinned"])
    }
}
