@testable import Federation
import FlukeModels
import FlukeNATS
import FlukeRuntime
import FlukeTestSupport
import Foundation
import HummingbirdTesting
import Testing

@Suite("federation survives its dependencies", .needsPostgresAndNATS)
struct ResilienceTests {
    @Test("nats-server restarted mid-test: heartbeats flow again and no transition is lost")
    func natsRestart() async throws {
        let harness = try await FederationHarness(ttl: 1.5, checkInterval: 0.25)
        let nats = harness.nats
        try await harness.run { client, parts in
            let sender = try await harness.natsClient()
            try await eventually(timeout: .seconds(30), "alpha ONLINE") {
                try await sender.publish("fluke.federation.heartbeat.alpha", payload: heartbeat("alpha"))
                return try await client.status(of: "alpha") == "ONLINE"
            }

            try nats.stop()
            try await eventually("NATS seen down") { parts.runtime.nats.state != .connected }
            #expect(try await client.execute(uri: "/ready", method: .get).status == .serviceUnavailable)
            // While NATS is down alpha falls silent: the OFFLINE change is committed with its
            // event in the outbox, waiting for NATS.
            try await eventually(timeout: .seconds(20), "alpha OFFLINE") { try await client.status(of: "alpha") == "OFFLINE" }
            try nats.start()
            try await eventually(timeout: .seconds(10), "NATS reconnected") { parts.runtime.nats.state == .connected }
            try await eventually(timeout: .seconds(10), "sender reconnected") { sender.state == .connected }
            #expect(try await client.execute(uri: "/ready", method: .get).status == .ok)

            // Heartbeats flow again through the restored subscription.
            try await eventually(timeout: .seconds(10), "alpha ONLINE after restart") {
                try await sender.publish("fluke.federation.heartbeat.alpha", payload: heartbeat("alpha"))
                return try await client.status(of: "alpha") == "ONLINE"
            }
            await sender.shutdown()
        }
        // Every transition reached the stream, in order, exactly once.
        let events = try await EventCollector(natsURL: nats.url, filter: "fluke.events.federation.>")
        let received = try await events.collect(count: 4, window: .seconds(5))
        // A fourth, OFFLINE again, is a real transition too: the heartbeats stopped with the test,
        // and on a slow machine the TTL runs out before the collector has read the stream.
        #expect(Array(received.map(\.type).prefix(3)) == ["federation.project.online", "federation.project.offline",
                                                          "federation.project.online"])
        #expect(received.dropFirst(3).allSatisfy { $0.type == "federation.project.offline" })
        #expect(Set(received.map(\.id)).count == received.count)
        await events.close()
    }

    @Test("Postgres restarted: /ready goes 503 then 200 and status survives")
    func postgresRestart() async throws {
        let postgres = try PostgresServer()
        try await TestDatabase.on(postgres).migrate(FederationMigrations.migrator)
        var configured = try await FederationHarness(ttl: 30, checkInterval: 0.25)
        configured.overrides["DATABASE_URL"] = postgres.url(role: "fluke_federation")
        let harness = configured
        try await harness.run { client, _ in
            let sender = try await harness.natsClient()
            try await sender.publish("fluke.federation.heartbeat.gamma", payload: heartbeat("gamma"))
            try await eventually("gamma ONLINE") { try await client.status(of: "gamma") == "ONLINE" }

            try postgres.stop()
            try await eventually(timeout: .seconds(20), "/ready 503") {
                let response = try await client.execute(uri: "/ready", method: .get)
                let body = String(buffer: response.body)
                return response.status == .serviceUnavailable && body.contains("postgres")
            }
            // Heartbeats keep arriving during the outage; they are retried, not lost.
            try await sender.publish("fluke.federation.heartbeat.beta", payload: heartbeat("beta"))
            try postgres.start()
            try await eventually(timeout: .seconds(10), "/ready 200") {
                try await client.execute(uri: "/ready", method: .get).status == .ok
            }
            #expect(try await client.status(of: "gamma") == "ONLINE")
            try await eventually(timeout: .seconds(20), "beta ONLINE from the heartbeat sent during the outage") {
                try await client.status(of: "beta") == "ONLINE"
            }
            await sender.shutdown()
        }
    }

    @Test("two replicas on one database and NATS share heartbeats and yield one event per change")
    func twoReplicas() async throws {
        let first = try await FederationHarness(ttl: 1.5, checkInterval: 0.2)
        let second = try await FederationHarness(ttl: 1.5, checkInterval: 0.2, database: first.database, nats: first.nats)
        let events = try await EventCollector(natsURL: first.nats.url, filter: "fluke.events.federation.>")
        try await first.run { clientA, partsA in
            try await second.run { clientB, partsB in
                let sender = try await first.natsClient()
                var sent = 0
                func round() async throws {
                    for slug in ["alpha", "beta", "gamma"] {
                        try await sender.publish("fluke.federation.heartbeat.\(slug)",
                                                 payload: heartbeat(slug, instance: "i-\(sent % 3)"))
                        sent += 1
                    }
                }
                for _ in 0..<20 { try await round() }
                // Heartbeats keep coming while we look: under load the look may take longer than the TTL.
                try await eventually(timeout: .seconds(30), "all ONLINE on both") {
                    for slug in ["alpha", "beta", "gamma"] {
                        guard try await clientA.status(of: slug) == "ONLINE",
                              try await clientB.status(of: slug) == "ONLINE" else {
                            try await round()
                            return false
                        }
                    }
                    return true
                }
                try await sender.flush()
                // The queue group split the heartbeats between the replicas, each taken once.
                var a = 0.0, b = 0.0
                try await eventually(timeout: .seconds(20), "every heartbeat counted once") {
                    a = try await clientA.metric("federation_heartbeats_received_total") ?? 0
                    b = try await clientB.metric("federation_heartbeats_received_total") ?? 0
                    return Int(a + b) == sent
                }
                #expect(Int(a + b) == sent)
                #expect(a > 0 && b > 0, "queue group should spread heartbeats: \(a) vs \(b)")
                try await eventually(timeout: .seconds(60), "all OFFLINE") {
                    for slug in ["alpha", "beta", "gamma"] where try await clientA.status(of: slug) != "OFFLINE" {
                        return false
                    }
                    return true
                }
                await sender.shutdown()
                _ = (partsA, partsB)
            }
        }
        let received = try await events.collect(window: .seconds(4))
        // One event per change: per project the events alternate, ONLINE first and OFFLINE last (a
        // duplicate would repeat a type). Normally that is one of each; a loaded machine may see a flap.
        for slug in ["alpha", "beta", "gamma"] {
            let types = received.filter { $0.data["slug"]?.stringValue == slug }.map(\.type)
            #expect(types.count >= 2 && types.count % 2 == 0, "\(slug): \(types)")
            #expect(types.enumerated().allSatisfy { i, t in
                t == (i % 2 == 0 ? "federation.project.online" : "federation.project.offline")
            }, "\(slug): \(types)")
        }
        await events.close()
    }
}
