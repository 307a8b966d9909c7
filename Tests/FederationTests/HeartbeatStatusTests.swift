@testable import Federation
import FlukeModels
import FlukeTestSupport
import Foundation
import Testing

@Suite("federation status from heartbeats", .needsPostgresAndNATS)
struct HeartbeatStatusTests {
    @Test("a heartbeat makes a project ONLINE; silence makes it OFFLINE within TTL + one interval; a new heartbeat brings it back")
    func lifecycle() async throws {
        let harness = try await FederationHarness(ttl: 1.5, checkInterval: 0.25)
        let events = try await EventCollector(natsURL: harness.nats.url, filter: "fluke.events.federation.>")
        try await harness.run { client, _ in
            #expect(try await client.status(of: "alpha") == "UNKNOWN")
            let nats = try await harness.natsClient()
            // Read from the history, not caught live: on a loaded machine ONLINE may already have
            // turned OFFLINE (after 1.5 s) by the time a request looks. Sent again until seen: the
            // silence below is timed from the last one the server recorded.
            try await eventually(timeout: .seconds(30), "alpha ONLINE with its instance") {
                try await nats.publish("fluke.federation.heartbeat.alpha", payload: heartbeat("alpha"))
                try await Task.sleep(for: .milliseconds(200))
                let (_, detail) = try await client.getJSON("/api/fed/projects/alpha")
                let history = (detail["history"] as? [[String: Any]])?.map { "\($0["from"]!)->\($0["to"]!)" } ?? []
                let instances = detail["instances"] as? [[String: Any]]
                return history.contains("UNKNOWN->ONLINE") && instances?.first?["instance_id"] as? String == "i-1"
                    && detail["last_heartbeat_at"] is String
            }

            // Silence: OFFLINE no sooner than the TTL, judged by the server's own timestamps rather
            // than by when a request saw it. (No upper bound: a loaded machine delays the check.)
            try await eventually(timeout: .seconds(30), "alpha OFFLINE") { try await client.status(of: "alpha") == "OFFLINE" }
            let (_, offline) = try await client.getJSON("/api/fed/projects/alpha")
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            let lastBeat = try #require((offline["last_heartbeat_at"] as? String).flatMap(formatter.date(from:)))
            let wentOffline = try #require((offline["history"] as? [[String: Any]])?
                .first { $0["to"] as? String == "OFFLINE" }.flatMap { ($0["at"] as? String).flatMap(formatter.date(from:)) })
            let took = wentOffline.timeIntervalSince(lastBeat)
            #expect(took >= 1.45, "went OFFLINE \(took) s after the heartbeat, before the TTL")

            try await eventually(timeout: .seconds(30), "alpha ONLINE again") {
                try await nats.publish("fluke.federation.heartbeat.alpha", payload: heartbeat("alpha", instance: "i-2"))
                try await Task.sleep(for: .milliseconds(200))
                let (_, detail) = try await client.getJSON("/api/fed/projects/alpha")
                return (detail["history"] as? [[String: Any]])?.contains { $0["from"] as? String == "OFFLINE" && $0["to"] as? String == "ONLINE" } == true
            }

            let (_, again) = try await client.getJSON("/api/fed/projects/alpha")
            let history = (again["history"] as? [[String: Any]])?.map { "\($0["from"]!)->\($0["to"]!)" }
            // Newest first; alpha may already have gone OFFLINE again on a loaded machine.
            #expect(history.map { Array($0.suffix(3)) } == ["OFFLINE->ONLINE", "ONLINE->OFFLINE", "UNKNOWN->ONLINE"])
            #expect(try await client.status(of: "beta") == "UNKNOWN")
            await nats.shutdown()
        }
        // The project may go OFFLINE again before the events are read: the first three are the lifecycle.
        let received = try await events.collect(count: 3, window: .seconds(5))
        #expect(received.prefix(3).map(\.type) == ["federation.project.online", "federation.project.offline",
                                                   "federation.project.online"])
        let first = try #require(received.first)
        #expect(first.source == "federation")
        #expect(first.specversion == "1.0")
        #expect(first.projectid == "6f1c2a1e-9a8b-4c3d-8e7f-0a1b2c3d4e5f")
        #expect(first.data["slug"]?.stringValue == "alpha")
        #expect(first.data["previous_status"]?.stringValue == "UNKNOWN")
        await events.close()
    }

    @Test("invalid heartbeats and unknown slugs are counted by reason and change nothing")
    func rejections() async throws {
        let harness = try await FederationHarness(ttl: 30, checkInterval: 0.25)
        try await harness.run { client, _ in
            let nats = try await harness.natsClient()
            let bad: [(String, Data)] = [
                ("fluke.federation.heartbeat.alpha", Data("not json".utf8)),
                ("fluke.federation.heartbeat.alpha", Data(#"{"slug":"alpha"}"#.utf8)),
                ("fluke.federation.heartbeat.alpha", heartbeat("beta")),
                ("fluke.federation.heartbeat.nosuch", heartbeat("nosuch")),
                ("fluke.federation.heartbeat.Bad_Slug", heartbeat("Bad_Slug")),
                ("fluke.federation.heartbeat.alpha",
                 Data(#"{"slug":"alpha","instance_id":"i","version":"1","timestamp":"yesterday"}"#.utf8)),
            ]
            for (subject, payload) in bad { try await nats.publish(subject, payload: payload) }
            try await nats.flush()
            try await eventually(timeout: .seconds(3), "rejections counted") {
                try await client.metric(#"federation_heartbeats_rejected_total{reason="unknown_slug"}"#) == 1
            }
            #expect(try await client.metric(#"federation_heartbeats_rejected_total{reason="invalid_json"}"#) == 2)
            #expect(try await client.metric(#"federation_heartbeats_rejected_total{reason="slug_mismatch"}"#) == 1)
            #expect(try await client.metric(#"federation_heartbeats_rejected_total{reason="invalid_subject"}"#) == 1)
            #expect(try await client.metric(#"federation_heartbeats_rejected_total{reason="invalid_field"}"#) == 1)
            #expect(try await client.metric("federation_heartbeats_received_total") == 6)
            for slug in ["alpha", "beta", "gamma"] { #expect(try await client.status(of: slug) == "UNKNOWN") }
            // And the service still works: a good heartbeat goes through.
            try await nats.publish("fluke.federation.heartbeat.gamma", payload: heartbeat("gamma"))
            try await eventually("gamma ONLINE") { try await client.status(of: "gamma") == "ONLINE" }
            let (_, stats) = try await client.getJSON("/api/fed/stats")
            #expect(stats["total"] as? Int == 3)
            #expect((stats["by_status"] as? [String: Int])?["ONLINE"] == 1)
            await nats.shutdown()
        }
    }

    @Test("a NUL in a heartbeat's metadata is rejected as invalid_field; a record Postgres refuses is dropped after two flushes and counted; later heartbeats are stored")
    func poisonedHeartbeats() async throws {
        let harness = try await FederationHarness(ttl: 30, checkInterval: 0.25)
        try await harness.run { client, parts in
            let nats = try await harness.natsClient()
            try await nats.publish("fluke.federation.heartbeat.alpha", payload: heartbeat("alpha", metadata: #"{"note":"a\u0000b"}"#))
            try await nats.flush()
            try await eventually(timeout: .seconds(10), "the NUL heartbeat rejected") {
                try await client.metric(#"federation_heartbeats_rejected_total{reason="invalid_field"}"#) == 1
            }
            // A record that got past the parser but that Postgres refuses (its metadata is not JSON).
            parts.processor.accept(HeartbeatRecord(slug: "beta", instanceID: "poison", version: "1", sentAt: Date(),
                                                   receivedAt: Date(), metadataJSON: "not json"))
            try await nats.publish("fluke.federation.heartbeat.gamma", payload: heartbeat("gamma"))
            try await eventually(timeout: .seconds(20), "gamma ONLINE despite the refused record") {
                try await client.status(of: "gamma") == "ONLINE"
            }
            try await eventually(timeout: .seconds(20), "the refused record dropped") {
                try await client.metric("federation_heartbeats_dropped_total") == 1
            }
            #expect(try await client.status(of: "alpha") == "UNKNOWN")
            #expect(try await client.status(of: "beta") == "UNKNOWN")
            // The same instance's next, good heartbeat is stored.
            try await nats.publish("fluke.federation.heartbeat.beta", payload: heartbeat("beta", instance: "poison"))
            try await eventually(timeout: .seconds(20), "beta ONLINE") { try await client.status(of: "beta") == "ONLINE" }
            #expect(try await client.metric("federation_heartbeats_dropped_total") == 1)
            await nats.shutdown()
        }
    }
}
