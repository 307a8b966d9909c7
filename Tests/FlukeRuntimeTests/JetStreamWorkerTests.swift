import FlukeModels
import FlukeNATS
import FlukePostgres
import FlukeRuntime
import FlukeTestSupport
import Foundation
import Prometheus
import Synchronization
import Testing

@Suite("JetStream worker")
struct JetStreamWorkerTests {
    /// A worker's surroundings: its own stream, and a database with a dead-letter table.
    final class Rig: Sendable {
        let nats: NATSClient
        let postgres: PostgresClient
        let stream: String
        let subjects: String
        let seen = Mutex<[String: [Int]]>([:])
        let batches = Mutex<[(texts: [String], at: ContinuousClock.Instant)]>([])

        init(natsURL: String) async throws {
            nats = try await NATSClient.connect(.admin(url: natsURL, name: "worker-test"), logger: TestEnvironment.logger)
            let database = try await TestDatabase.create()
            postgres = PostgresClient(configuration: .init(url: database.adminURL, applicationName: "tests", maxConnections: 2),
                                      logger: TestEnvironment.logger)
            try await postgres.query("CREATE SCHEMA worker")
            try await postgres.withConnection { try await $0.executeScript(DeadLetters.tableSQL(schema: "worker")) }
            let id = UUID().uuidString.prefix(8).lowercased()
            stream = "WORKER_" + id
            subjects = "worker.\(id)"
            try await nats.ensureStream(JetStreamStreamConfig(name: stream, subjects: [subjects + ".>"], maxAge: .seconds(600)))
        }

        func deadLetters(consumer: String, maxDeliveries: Int) -> DeadLetters {
            DeadLetters(schema: "worker", consumer: consumer, maxDeliveries: maxDeliveries, postgres: postgres,
                        registry: PrometheusCollectorRegistry(), logger: TestEnvironment.logger)
        }

        /// A worker that records every attempt, then does what the message's payload says.
        func worker(maxDeliveries: Int) -> JetStreamWorker {
            let deadLetters = self.deadLetters(consumer: "test_worker", maxDeliveries: maxDeliveries)
            let configuration = JetStreamWorker.Configuration(durable: "test_worker", filterSubject: subjects + ".>",
                                                              stream: stream, batchSize: 8, ackWait: .seconds(5),
                                                              retryDelay: .milliseconds(100), pause: .milliseconds(100))
            return JetStreamWorker(nats: nats, configuration: configuration, deadLetters: deadLetters,
                                   logger: TestEnvironment.logger) { [self] message in
                let text = String(decoding: message.message.payload, as: UTF8.self)
                self.seen.withLock { $0[text, default: []].append(message.deliveryCount) }
                switch text {
                case "broken": throw TestFailure("always fails")
                case "flaky" where message.deliveryCount == 1: throw TestFailure("fails once")
                case "poison": throw JetStreamRejection(.malformed, "never handled")
                default: return
                }
            }
        }

        /// A batch worker with `linger` that records each batch's payloads and when it came.
        func batchWorker(linger: Duration) -> JetStreamWorker {
            let deadLetters = self.deadLetters(consumer: "test_batches", maxDeliveries: 3)
            let configuration = JetStreamWorker.Configuration(durable: "test_batches", filterSubject: subjects + ".>",
                                                              stream: stream, batchSize: 8, fetchTimeout: .milliseconds(100),
                                                              concurrentBatches: 2, linger: linger)
            return JetStreamWorker(nats: nats, configuration: configuration, deadLetters: deadLetters,
                                   logger: TestEnvironment.logger) { [self] batch in
                let texts = batch.map { String(decoding: $0.message.payload, as: UTF8.self) }
                self.batches.withLock { $0.append((texts, .now)) }
                return batch.map { _ in .done }
            }
        }

        func publish(_ text: String) async throws {
            try await nats.jetStreamPublish(subjects + "." + text, payload: Data(text.utf8))
        }

        func attempts(_ text: String) -> [Int] { seen.withLock { $0[text] ?? [] } }

        func deadLetters() async throws -> [String] {
            try await postgres.query("SELECT subject FROM worker.dead_letters WHERE consumer = 'test_worker' ORDER BY id")
                .map { try $0.decode(String.self, at: 0) }
        }

        func close() async {
            await nats.shutdown()
            await postgres.shutdown()
        }
    }

    @Test("success acks; a throwing handler is retried, and a dead letter after its attempts; a rejection is one at once")
    func outcomes() async throws {
        let rig = try await Rig(natsURL: TestEnvironment.natsURL)
        let worker = rig.worker(maxDeliveries: 3)
        let running = Task { try await worker.run() }
        for text in ["fine", "flaky", "broken", "poison"] { try await rig.publish(text) }

        try await eventually(timeout: .seconds(15), "two dead letters") { try await rig.deadLetters().count == 2 }
        #expect(try await rig.deadLetters().sorted() == [rig.subjects + ".broken", rig.subjects + ".poison"])
        #expect(rig.attempts("broken") == [1, 2, 3])
        #expect(rig.attempts("poison") == [1])
        #expect(rig.attempts("flaky") == [1, 2])
        // Acknowledged (or terminated) messages do not come back.
        try await Task.sleep(for: .seconds(1))
        #expect(rig.attempts("fine") == [1])
        #expect(rig.attempts("flaky") == [1, 2])
        #expect(rig.attempts("broken") == [1, 2, 3])
        running.cancel()
        try await running.value
        await rig.close()
    }

    @Test("after a partial batch the worker waits its linger: messages that trickle in meanwhile come as one batch")
    func lingerGathersATrickle() async throws {
        let rig = try await Rig(natsURL: TestEnvironment.natsURL)
        let worker = rig.batchWorker(linger: .seconds(2))
        let running = Task { try await worker.run() }
        try await rig.publish("a")
        try await eventually(timeout: .seconds(10), "the first message handled") { rig.batches.withLock { $0.count } == 1 }
        // Further apart than the worker's fetch timeout: without the linger each is a batch of its own.
        for text in ["b", "c", "d"] {
            try await rig.publish(text)
            try await Task.sleep(for: .milliseconds(150))
        }
        try await eventually(timeout: .seconds(10), "every message handled") { rig.batches.withLock { $0.flatMap(\.texts).count } == 4 }
        let seen = rig.batches.withLock { $0 }
        #expect(seen.map(\.texts) == [["a"], ["b", "c", "d"]])
        if seen.count == 2 { #expect(seen[0].at.duration(to: seen[1].at) >= .milliseconds(1900)) }
        running.cancel()
        try await running.value
        await rig.close()
    }

    @Test("it goes on after the NATS connection drops and returns (the pull subscription is made again)")
    func resumesAfterReconnect() async throws {
        let server = try NATSServer()
        let rig = try await Rig(natsURL: server.url)
        let worker = rig.worker(maxDeliveries: 3)
        let running = Task { try await worker.run() }
        try await rig.publish("before")
        try await eventually(timeout: .seconds(10), "the first message handled") { rig.attempts("before") == [1] }

        try server.stop()
        try await eventually { rig.nats.state != .connected }
        try server.start()
        try await eventually(timeout: .seconds(10)) { rig.nats.state == .connected }
        try await rig.publish("after")
        // Generous: on a loaded machine nats-server's JetStream takes a while to come back, and the
        // worker re-makes its pull subscription only once it has. A pull sent on the old
        // subscription just before it was re-made may take the message to an inbox nobody reads;
        // it then comes again after ackWait, as a second delivery: handled is what counts here.
        try await eventually(timeout: .seconds(45), "the message published after the reconnect handled") {
            !rig.attempts("after").isEmpty
        }
        running.cancel()
        try await running.value
        await rig.close()
    }
}
