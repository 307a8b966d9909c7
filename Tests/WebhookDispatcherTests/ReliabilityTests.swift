import FlukeModels
import FlukeNATS
import FlukeRuntime
import FlukeTestSupport
import Foundation
import Testing
@testable import WebhookDispatcher

@Suite("webhook-dispatcher document", .needsPostgresAndNATS)
struct WebhookDocumentTests {
    @Test("the OpenAPI document lists exactly the routes served")
    func openAPI() async throws {
        let h = try await WebhookHarness()
        try await h.withDispatcher { api, parts in
            let served = try await expectOpenAPIDocumentsExactlyServedRoutes(api.client, routes: parts.routes)
            #expect(served.count == 15)
        }
    }
}

@Suite("webhook-dispatcher reliability", .serialized, .needsPostgresAndNATS)
struct WebhookReliabilityTests {
    @Test("a subscription deleted while its deliveries are in flight does not stop the outcome writer: under a 4,000-event burst the other three receive every event exactly once")
    func deleteWhileInFlight() async throws {
        let h = try await WebhookHarness()
        let receiver = Receiver(delay: .milliseconds(5))
        let logs = LogCapture(level: .warning)
        try await receiver.run { base in
            try await h.withProjectManager { pm in
                let world = try await WebhookHarness.world(pm)
                try await h.withDispatcher(logger: logs.logger(label: "webhook-dispatcher")) { hooks, parts in
                    var ids: [String] = []
                    for i in 0..<4 {
                        let s = try await hooks.subscribe(world.token, project: world.projectID, url: base + "/s\(i)", events: ["task.*"])
                        try #require(s.status == 201)
                        ids.append(try #require(s.string("id")))
                    }
                    let events = (0..<4000).map { i in WebhookHarness.event(.taskUpdated, world: world, data: .object(["n": .number(Double(i))])) }
                    try await WebhookHarness.publish(h.nats, events)
                    // In the middle of the burst, with the doomed subscription's deliveries in flight.
                    try await eventually(timeout: .seconds(120), "the burst under way for /s3") {
                        receiver.received.lazy.filter { $0.path == "/s3" }.count >= 500
                    }
                    let deleted = try await hooks.call(.delete, "/api/v1/webhooks/subscriptions/\(ids[3])", token: world.token)
                    #expect(deleted.status == 204)
                    try await eventually(timeout: .seconds(300), "12,000 deliveries to the other three") {
                        receiver.received.lazy.filter { $0.path != "/s3" }.count >= 12_000
                    }
                    // Every outcome recorded: nothing left pending for the three (so nothing will be sent again).
                    for id in ids.prefix(3) {
                        try await eventually(timeout: .seconds(60), "every delivery of \(id) recorded as succeeded") {
                            // In the subscription's tenant: the service's role sees no rows without one.
                            let rows = try await parts.runtime.postgres.transaction([
                                "SELECT set_config('app.tenant_id', \(world.tenantID), true)",
                                """
                                SELECT count(*) FILTER (WHERE status = 'succeeded') FROM webhooks.deliveries
                                WHERE subscription_id = \(id)::uuid
                                """,
                            ])
                            return try rows[1].first?.decode(Int.self, at: 0) == 4000
                        }
                    }
                    let got = receiver.received.filter { $0.path != "/s3" }
                    var perPath: [String: [String]] = [:]
                    for r in got { perPath[r.path, default: []].append(r.headers["webhook-id"] ?? "") }
                    let all = Set(events.map(\.id))
                    for path in ["/s0", "/s1", "/s2"] {
                        let received = perPath[path] ?? []
                        #expect(received.count == 4000 && Set(received) == all, "\(path): \(received.count) requests, \(Set(received).count) events")
                    }
                    let failures = logs.logged.filter { $0.message.contains("recording delivery outcomes failed") }
                    #expect(!failures.contains { ($0.metadata["error"] ?? "").contains("23503") },
                            "a foreign-key violation stopped the outcome writer")
                    #expect(failures.count <= 2, "the outcome writer retried \(failures.count) times: \(failures.prefix(3).map(\.metadata))")
                }
            }
        }
    }

    @Test("two replicas share the queue: every event delivered once, none twice, each subscription's in event order")
    func twoReplicas() async throws {
        let h = try await WebhookHarness()
        let receiver = Receiver()
        try await receiver.run { base in
            try await h.withProjectManager { pm in
                let world = try await WebhookHarness.world(pm)
                // One attempt in flight per subscription: then event order is arrival order too.
                let serial = ["WEBHOOK_SUBSCRIPTION_CONCURRENCY": "1"]
                try await h.withDispatcher(serial) { a, partsA in
                    try await h.withDispatcher(serial) { b, _ in
                        // Several subscriptions so that both replicas hold lanes.
                        for i in 0..<4 {
                            let s = try await (i % 2 == 0 ? a : b).subscribe(world.token, project: world.projectID,
                                                                             url: base + "/r\(i)", events: ["task.*"])
                            try #require(s.status == 201)
                        }
                        let events = (0..<500).map { i in WebhookHarness.event(.taskUpdated, world: world, data: .object(["n": .number(Double(i))])) }
                        try await WebhookHarness.publish(h.nats, events)
                        try await eventually(timeout: .seconds(60), "2,000 deliveries") { receiver.received.count >= 2000 }
                        try await Task.sleep(for: .seconds(1))
                        let got = receiver.received
                        #expect(got.count == 2000, "no event was sent twice")
                        var perPath: [String: Set<String>] = [:]
                        for r in got { perPath[r.path, default: []].insert(r.headers["webhook-id"] ?? "") }
                        #expect(perPath.count == 4 && perPath.values.allSatisfy { $0 == Set(events.map(\.id)) })
                        // First attempts of one subscription leave in event order, whichever replica sends them.
                        let order = Dictionary(uniqueKeysWithValues: events.enumerated().map { ($1.id, $0) })
                        for path in perPath.keys {
                            let sequence = got.filter { $0.path == path }.compactMap { order[$0.headers["webhook-id"] ?? ""] }
                            #expect(sequence == Array(0..<500), "\(path) out of order: \(WebhookReliabilityTests.violations(sequence))")
                        }
                    }
                }
            }
        }
    }

    /// Where a sequence goes backwards, with a little context, for the failure message.
    static func violations(_ s: [Int]) -> String {
        zip(s.indices, zip(s, s.dropFirst())).filter { $0.1.1 <= $0.1.0 }.prefix(5)
            .map { "at \($0.0): \(s[max(0, $0.0 - 3)...min(s.count - 1, $0.0 + 3)])" }.joined(separator: "; ")
    }

    @Test("kill -9 of the dispatcher during a 10,000-event burst: after a restart every event is delivered; duplicates keep their webhook-id")
    func killDuringBurst() async throws {
        let h = try await WebhookHarness()
        let receiver = Receiver()
        try await receiver.run { base in
            try await h.withProjectManager { pm in
                let world = try await WebhookHarness.world(pm)
                let env = h.webhookEnvironment(["HTTP_PORT": String(freePort()), "LOG_LEVEL": "warning"])
                var process = try ServiceProcess(executable: "webhook-dispatcher", environment: env)
                let api = "http://127.0.0.1:\(env["HTTP_PORT"]!)"
                try await eventually(timeout: .seconds(30), "the dispatcher is ready") { try await HTTP.get(api + "/ready").status == 200 }
                let created = try await HTTP.send("POST", api + "/api/v1/webhooks/subscriptions",
                                                  headers: ["Authorization": "Bearer \(world.token)", "Content-Type": "application/json"],
                                                  json: try JSONSerialization.data(withJSONObject: [
                                                      "project_id": world.projectID, "callback_url": base + "/burst", "events": ["task.*"]]))
                try #require(created.status == 201, "\(String(decoding: created.body, as: UTF8.self))")
                let nats = try await NATSClient.connect(.admin(url: h.nats.url, name: "burst", sendAsap: true), logger: TestEnvironment.logger)
                let events = (0..<10_000).map { i in WebhookHarness.event(.taskUpdated, world: world, data: .object(["n": .number(Double(i))])) }
                let publishing = Task { try await WebhookHarness.publish(nats, events) }
                try await eventually(timeout: .seconds(60), "deliveries are under way") { receiver.received.count >= 1000 }
                process.signal(SIGKILL)
                _ = await process.waitForExit(timeout: .seconds(10))
                try await publishing.value
                process = try ServiceProcess(executable: "webhook-dispatcher", environment: env)
                let ids = Set(events.map(\.id))
                try await eventually(timeout: .seconds(120), "every event delivered after the restart") {
                    Set(receiver.received.compactMap { $0.headers["webhook-id"] }).isSuperset(of: ids)
                }
                let got = receiver.received
                let seen = got.compactMap { $0.headers["webhook-id"] }
                #expect(Set(seen) == ids)
                // A duplicate is a whole request sent again: the same id carries the same body.
                var bodies: [String: Data] = [:]
                for r in got {
                    let id = r.headers["webhook-id"] ?? ""
                    if let first = bodies[id] { #expect(first == r.body) } else { bodies[id] = r.body }
                }
                process.signal(SIGTERM)
                #expect(await process.waitForExit(timeout: .seconds(20)) == 0)
                await nats.shutdown()
            }
        }
    }

    @Test("restarting nats-server or Postgres during a 10,000-event burst loses nothing; duplicates keep their webhook-id",
          arguments: ["nats-server", "postgres"])
    func restartDuringBurst(_ which: String) async throws {
        let h = try await WebhookHarness(privatePostgres: which == "postgres")
        let receiver = Receiver()
        try await receiver.run { base in
            try await h.withProjectManager { pm in
                let world = try await WebhookHarness.world(pm)
                try await h.withDispatcher { api, _ in
                    let s = try await api.subscribe(world.token, project: world.projectID, url: base + "/burst", events: ["task.*"])
                    try #require(s.status == 201)
                    let nats = try await NATSClient.connect(.admin(url: h.nats.url, name: "burst", sendAsap: true),
                                                            logger: TestEnvironment.logger)
                    let events = (0..<10_000).map { i in
                        WebhookHarness.event(.taskUpdated, world: world, data: .object(["n": .number(Double(i))]))
                    }
                    try await WebhookHarness.publish(nats, events[..<5000])
                    try await eventually(timeout: .seconds(60), "deliveries are under way") { receiver.received.count >= 500 }
                    let before = receiver.received.count
                    if which == "postgres" {
                        try #require(h.postgres).stop()
                        try await Task.sleep(for: .seconds(2))
                        try #require(h.postgres).start()
                    } else {
                        try h.nats.stop()
                        try await Task.sleep(for: .seconds(2))
                        try h.nats.start()
                    }
                    // The restart came in the middle of the first half: some of it was still to send.
                    #expect(before < 5000)
                    // The second half goes through the intake's consumer after the restart (for
                    // nats-server, on a pull subscription made again).
                    try await WebhookHarness.publish(nats, events[5000...], patience: .seconds(30))
                    let ids = Set(events.map(\.id))
                    try await eventually(timeout: .seconds(180), "every event delivered after the \(which) restart") {
                        Set(receiver.received.compactMap { $0.headers["webhook-id"] }).isSuperset(of: ids)
                    }
                    let got = receiver.received
                    #expect(Set(got.compactMap { $0.headers["webhook-id"] }) == ids)
                    var bodies: [String: Data] = [:]
                    for r in got {
                        let id = r.headers["webhook-id"] ?? ""
                        if let first = bodies[id] { #expect(first == r.body) } else { bodies[id] = r.body }
                    }
                    await nats.shutdown()
                }
            }
        }
    }
}
