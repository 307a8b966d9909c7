import FlukeModels
import FlukeNATS
import FlukeTestSupport
import Foundation
import Testing

@Suite("NATS layer over libnats", .needsPostgresAndNATS)
struct NATSLayerTests {
    func connect(_ url: String = TestEnvironment.natsURL) async throws -> NATSClient {
        try await NATSClient.connect(.admin(url: url, name: "t"), logger: TestEnvironment.logger)
    }

    @Test("publish with headers reaches a subscriber; queue groups split; request/reply answers and times out")
    func core() async throws {
        let nats = try await connect()
        let subject = "test.core." + UUID().uuidString.prefix(8)
        let sub = try nats.subscribe(subject + ".>")
        try await nats.publish(subject + ".a", payload: Data("hello".utf8), headers: ["X-Trace": "t1"])
        var iterator = sub.makeAsyncIterator()
        let first = try #require(await iterator.next())
        #expect(first.subject == subject + ".a")
        #expect(String(decoding: first.payload, as: UTF8.self) == "hello")
        #expect(first.headers["X-Trace"] == "t1")
        sub.cancel()

        let q1 = try nats.subscribe(subject + ".q", queue: "workers")
        let q2 = try nats.subscribe(subject + ".q", queue: "workers")
        try await nats.publish(batch: (0..<100).map { NATSMessage(subject: subject + ".q", payload: Data("\($0)".utf8)) })
        try await nats.flush()
        async let c1 = count(q1, for: .milliseconds(500))
        async let c2 = count(q2, for: .milliseconds(500))
        let (n1, n2) = await (c1, c2)
        #expect(n1 + n2 == 100)
        #expect(n1 > 0 && n2 > 0)

        let responder = try nats.subscribe(subject + ".rpc")
        let task = Task {
            for await request in responder {
                try await nats.respond(to: request, payload: Data(("re:" + String(decoding: request.payload, as: UTF8.self)).utf8))
            }
        }
        let reply = try await nats.request(subject + ".rpc", payload: Data("ping".utf8), timeout: .seconds(2))
        #expect(String(decoding: reply.payload, as: UTF8.self) == "re:ping")
        responder.cancel()
        task.cancel()
        do {
            _ = try await nats.request(subject + ".nobody", payload: Data(), timeout: .milliseconds(300))
            Issue.record("a request without responders succeeded")
        } catch let error as NATSError {
            #expect(error.isNoResponders || error.isTimeout)
        }
        await nats.shutdown()
    }

    @Test("a slow consumer loses nothing: a small Swift buffer backs up into libnats instead of dropping")
    func backpressure() async throws {
        let nats = try await connect()
        let subject = "test.slow." + UUID().uuidString.prefix(8)
        let sub = try nats.subscribe(subject, bufferLimit: 8)
        try await nats.publish(batch: (0..<5_000).map { NATSMessage(subject: subject, payload: Data("\($0)".utf8)) })
        try await nats.flush()
        try await Task.sleep(for: .milliseconds(300))  // consumer idle while everything arrives
        var iterator = sub.makeAsyncIterator()
        var seen: [Int] = []
        while seen.count < 5_000, let message = await iterator.next() {
            seen.append(Int(String(decoding: message.payload, as: UTF8.self))!)
        }
        #expect(seen == Array(0..<5_000))
        sub.cancel()
        await nats.shutdown()
        await #expect(throws: NATSError.self) { try await nats.publish(subject, payload: Data()) }
    }

    func count(_ sub: NATSSubscription, for window: Duration) async -> Int {
        await withTaskGroup(of: Int.self) { group in
            group.addTask {
                var n = 0
                for await _ in sub { n += 1 }
                return n
            }
            try? await Task.sleep(for: window)
            sub.cancel()
            return await group.next() ?? 0
        }
    }

    @Test("JetStream: streams are created idempotently, Nats-Msg-Id dedupes, pull consumers ack, nak and term")
    func jetStream() async throws {
        let server = try NATSServer()
        let nats = try await connect(server.url)
        let config = JetStreamStreamConfig(name: "T", subjects: ["t.>"], maxAge: .seconds(3600))
        try await nats.ensureStream(config)
        try await nats.ensureStream(config)
        let first = try await nats.jetStreamPublish("t.a", payload: Data("1".utf8), messageID: "m-1")
        let again = try await nats.jetStreamPublish("t.a", payload: Data("1".utf8), messageID: "m-1")
        #expect(!first.duplicate && again.duplicate)
        #expect(first.sequence == again.sequence)
        try await nats.jetStreamPublish("t.b", payload: Data("2".utf8), messageID: "m-2")
        try await nats.jetStreamPublish("t.c", payload: Data("3".utf8), messageID: "m-3")

        let consumer = nats.pullConsumer(stream: "T", durable: "d", filterSubject: "t.>", ackWait: .seconds(2))
        let batch = try await consumer.fetch(batch: 10, timeout: .seconds(2))
        #expect(batch.map { String(decoding: $0.message.payload, as: UTF8.self) } == ["1", "2", "3"])
        try await batch[0].ack()
        try await batch[1].nak(delay: .milliseconds(200))
        try await batch[2].term()
        let redelivered = try await consumer.fetch(batch: 10, timeout: .seconds(2))
        #expect(redelivered.map { String(decoding: $0.message.payload, as: UTF8.self) } == ["2"])
        #expect(redelivered.first?.deliveryCount == 2)
        try await redelivered.first?.ack()
        #expect(try await consumer.fetch(batch: 10, timeout: .milliseconds(500)).isEmpty)
        await nats.shutdown()
    }

    @Test("a durable pull consumer keeps working after nats-server restarts (3.4.1 does not restore it)")
    func pullAfterReconnect() async throws {
        let server = try NATSServer()
        let nats = try await connect(server.url)
        try await nats.ensureStream(JetStreamStreamConfig(name: "R", subjects: ["r.>"], maxAge: .seconds(3600)))
        let consumer = nats.pullConsumer(stream: "R", durable: "d", filterSubject: "r.>")
        try await nats.jetStreamPublish("r.1", payload: Data("before".utf8))
        let before = try await consumer.fetch(batch: 5, timeout: .seconds(2))
        #expect(before.count == 1)
        // Confirmed, so that stopping the server right after cannot lose it.
        try await before.first?.ack(confirmed: true)

        try server.stop()
        try await eventually { nats.state != .connected }
        try server.start()
        try await eventually(timeout: .seconds(10)) { nats.state == .connected }
        try await nats.jetStreamPublish("r.2", payload: Data("after".utf8))
        var got: [String] = []
        try await eventually(timeout: .seconds(10), "fetch after reconnect") {
            got += try await consumer.fetch(batch: 5, timeout: .milliseconds(500))
                .map { String(decoding: $0.message.payload, as: UTF8.self) }
            return got.contains("after")
        }
        // JetStream is at-least-once: nats-server writes a consumer's ack floor on its own
        // schedule, so a restart may hand back "before" once more. Nothing may be lost or invented.
        #expect(got.filter { $0 == "after" }.count == 1)
        #expect(got.allSatisfy { $0 == "before" || $0 == "after" })
        await nats.shutdown()
    }

    @Test("a message fetched before a reconnect is still acknowledged after the consumer made a new subscription")
    func ackThroughReplacedSubscription() async throws {
        let server = try NATSServer()
        let nats = try await connect(server.url)
        try await nats.ensureStream(JetStreamStreamConfig(name: "S", subjects: ["s.>"], maxAge: .seconds(3600)))
        let consumer = nats.pullConsumer(stream: "S", durable: "d", filterSubject: "s.>", ackWait: .seconds(60))
        try await nats.jetStreamPublish("s.1", payload: Data("held".utf8))
        let held = try #require(try await consumer.fetch(batch: 1, timeout: .seconds(2)).first)

        try server.stop()
        try await eventually { nats.state != .connected }
        try server.start()
        try await eventually(timeout: .seconds(10)) { nats.state == .connected }
        try await nats.jetStreamPublish("s.2", payload: Data("next".utf8))
        // This fetch lets go of the first subscription (libnats 3.4.1 does not restore it) ...
        try await eventually(timeout: .seconds(10), "fetch through a new subscription") {
            let batch = try await consumer.fetch(batch: 5, timeout: .milliseconds(500))
            try await JetStreamMessage.ack(batch)
            return batch.contains { String(decoding: $0.message.payload, as: UTF8.self) == "next" }
        }
        // ... which must live on for the message fetched through it: libnats acknowledges
        // through the message's own subscription.
        try await held.ack(confirmed: true)
        #expect(String(decoding: held.message.payload, as: UTF8.self) == "held")
        await nats.shutdown()
    }
}
