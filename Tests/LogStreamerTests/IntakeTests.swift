import FlukeNATS
import FlukePostgres
import FlukeTestSupport
import Foundation
import LogStreamer
import Testing

@Suite("log-streamer intake: FLUKE_LOGS stored once per entry", .needsPostgresAndNATS)
struct IntakeTests {
    @Test("entries published on fluke.logs.<tenant>.<app> are stored once each, when the stream holds some twice and when the durable consumer delivers everything again; an entry naming another tenant than its subject is a dead letter, never stored; a message over 32 KiB is cut to it")
    func storedOnce() async throws {
        let h = try await LogsHarness()
        let nats = try await h.natsClient()
        defer { Task { await nats.shutdown() } }
        try await h.withProjectManager { pm in
            let world = try await LogsHarness.world(pm)
            let ids = (0..<40).map { "e-\($0)" }
            let expected = Set(ids + ["long"])
            try await h.withLogStreamer { api, _ in
                let entries = ids.map { LogsHarness.entry($0, project: world.projectID) }
                try await LogsHarness.publish(nats, tenant: world.tenantID, entries)
                // The first ten again under other message ids: the stream now holds them twice.
                try await LogsHarness.publish(nats, tenant: world.tenantID, Array(entries.prefix(10)),
                                              messageIDs: (0..<10).map { "again-\($0)" })
                let stranger = LogsHarness.entry("stranger", project: world.projectID, tenant: UUID().uuidString)
                try await LogsHarness.publish(nats, tenant: world.tenantID, [stranger])
                // A producer's line over 32 KiB (in 3-byte characters) is kept, cut to its first 32 KiB.
                try await LogsHarness.publish(nats, tenant: world.tenantID,
                                              [LogsHarness.entry("long", message: String(repeating: "€", count: 20_000),
                                                                 project: world.projectID)])
                try await LogsHarness.publish(nats, tenant: world.tenantID, [LogsHarness.entry("sentinel-1", project: world.projectID)])
                try await eventually(timeout: .seconds(30), "the first sentinel is stored") {
                    try await api.logIDs(world.token, "limit=1000").contains("sentinel-1")
                }
                // Every message settled (the repeats acknowledged, not waiting for another attempt),
                // and only the stranger set aside: a repeat is no failure.
                try await Self.settled(nats)
                #expect(try await Self.deadLetters(h) == 1)
                let listed = try await api.logIDs(world.token, "limit=1000")
                #expect(listed.count == 42 && Set(listed) == expected.union(["sentinel-1"]), "\(listed)")
                #expect(!listed.contains("stranger"))
                let long = try await api.call(.get, "/api/v1/logs?q=%E2%82%AC&limit=5", token: world.token).items
                #expect(long.count == 1 && (long.first?["message"] as? String)?.utf8.count == 32_766, "10,922 whole characters")
            }
            // With log-streamer stopped, its durable consumer goes: the next one starts from the
            // beginning of the stream and delivers every entry again.
            _ = try await nats.request("$JS.API.CONSUMER.DELETE.FLUKE_LOGS.log_streamer", payload: Data())
            try await h.withLogStreamer { api, _ in
                try await LogsHarness.publish(nats, tenant: world.tenantID, [LogsHarness.entry("sentinel-2", project: world.projectID)])
                try await eventually(timeout: .seconds(30), "the second sentinel is stored") {
                    try await api.logIDs(world.token, "limit=1000").contains("sentinel-2")
                }
                try await Self.settled(nats)
                let listed = try await api.logIDs(world.token, "limit=1000")
                #expect(listed.count == 43 && Set(listed) == expected.union(["sentinel-1", "sentinel-2"]))
                // Only the stranger again: the 50 entries delivered a second time were no failure either.
                #expect(try await Self.deadLetters(h) == 2)
            }
            let (rows, distinct) = try await h.database.withAdminClient { admin in
                let row = try await admin.query("SELECT count(*), count(DISTINCT id) FROM logs.entries").first!
                return (try row.decode(Int.self, at: 0), try row.decode(Int.self, at: 1))
            }
            #expect(rows == 43 && distinct == 43)
            let reason = try await h.database.withAdminClient { admin in
                try await admin.query("SELECT reason FROM logs.dead_letters ORDER BY id LIMIT 1").first?.decode(String.self, at: 0)
            }
            #expect(reason?.contains("source.tenant_id") == true, "\(reason ?? "no dead letter")")
        }
    }

    /// Waits until the durable consumer has nothing left to deliver and nothing unacknowledged.
    static func settled(_ nats: NATSClient) async throws {
        try await eventually(timeout: .seconds(30), "log_streamer has settled every message") {
            let reply = try await nats.request("$JS.API.CONSUMER.INFO.FLUKE_LOGS.log_streamer", payload: Data())
            let info = try JSONSerialization.jsonObject(with: reply.payload) as? [String: Any]
            return info?["num_pending"] as? Int == 0 && info?["num_ack_pending"] as? Int == 0
        }
    }

    static func deadLetters(_ h: LogsHarness) async throws -> Int {
        try await h.database.withAdminClient { admin in
            try await admin.query("SELECT count(*) FROM logs.dead_letters").first!.decode(Int.self, at: 0)
        }
    }
}
