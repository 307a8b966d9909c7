@testable import ContextAPI
import FlukeModels
import FlukeNATS
import FlukePostgres
import FlukeRuntime
import FlukeTestSupport
import Foundation
import Testing

@Suite("JetStream consumers set poison events aside", .needsPostgresAndNATS)
struct DeadLetterTests {
    static func count(_ h: ContextHarness, _ sql: PostgresQuery) async throws -> Int {
        try await h.database.withAdminClient { try await $0.query(sql).first?.decode(Int.self, at: 0) ?? -1 }
    }

    @Test("an event the replica can never apply becomes a dead letter after FLUKE_CONSUMER_MAX_DELIVERIES attempts; later events still flow; the stream has its byte limit")
    func poisonEventIsBuried() async throws {
        var h = try await ContextHarness()
        h.common["FLUKE_CONSUMER_MAX_DELIVERIES"] = "3"
        h.common["FLUKE_EVENTS_MAX_BYTES"] = "4194304"
        let harness = h
        try await harness.withContextAPI { client, _ in
            let nats = try await NATSClient.connect(.admin(url: harness.nats.url, name: "poison"), logger: TestEnvironment.logger)
            let tenant = UUID()
            let poisoned = UUID(), healthy = UUID()
            // A NUL cannot be stored in Postgres text or jsonb: applying this fails every time.
            for (project, name) in [(poisoned, "bad\u{0}name"), (healthy, "Fine")] {
                let event = CloudEvent(source: "project-manager", type: .projectCreated, tenantID: tenant.lowercased,
                                       projectID: project.lowercased,
                                       data: .object(["id": .string(project.lowercased), "name": .string(name), "stage": .string("mvp")]))
                _ = try await nats.jetStreamPublish(event.subject, payload: try FleetJSON.encoder.encode(event), messageID: event.id)
            }
            try await eventually(timeout: .seconds(20), "the healthy project in the replica") {
                try await Self.count(harness, "SELECT count(*) FROM context.projects WHERE id = \(healthy)") == 1
            }
            try await eventually(timeout: .seconds(20), "the poisoned event recorded as a dead letter") {
                try await Self.count(harness, "SELECT count(*) FROM context.dead_letters") == 1
            }
            let row = try await harness.database.withAdminClient {
                try await $0.query("SELECT consumer, subject, payload_base64, reason FROM context.dead_letters").first!
            }
            #expect(try row.decode(String.self, at: 0) == "context_api_replica")
            #expect(try row.decode(String.self, at: 1) == "fluke.events.project.created")
            let payload = Data(base64Encoded: try row.decode(String.self, at: 2)) ?? Data()
            #expect(String(decoding: payload, as: UTF8.self).contains(poisoned.lowercased))
            #expect(try !row.decode(String.self, at: 3).isEmpty)
            #expect(try await Self.count(harness, "SELECT count(*) FROM context.projects WHERE id = \(poisoned)") == 0)
            let buried = try await JSONClient(client: client.client).metric(#"jetstream_dead_letters_total{consumer="context_api_replica"}"#)
            #expect(buried == 1)

            let info = try await nats.request("$JS.API.STREAM.INFO." + EventType.streamName, payload: Data(), timeout: .seconds(3))
            let config = (try JSONSerialization.jsonObject(with: info.payload) as? [String: Any])?["config"] as? [String: Any]
            #expect(config?["max_bytes"] as? Int == 4_194_304)
            await nats.shutdown()
        }
    }
}
