import FlukeModels
import FlukeNATS
import FlukeTestSupport
import Foundation
import LogStreamer
import Synchronization
import Testing

@Suite("log-streamer: nothing acknowledged is lost to a kill -9, or to a restart of nats-server or Postgres", .needsPostgresAndNATS)
struct ResilienceTests {
    /// Every id the tenant's query lists, page after page (a burst can pass one page's limit).
    static func stored(_ base: String, _ token: String) async throws -> [String] {
        var ids: [String] = []
        var cursor: String?
        repeat {
            let page = base + "/api/v1/logs?limit=10000&since_minutes=600" + (cursor.map { "&cursor=" + $0 } ?? "")
            let reply = try await HTTP.get(page, headers: ["Authorization": "Bearer \(token)"])
            guard reply.status == 200, let object = try JSONSerialization.jsonObject(with: reply.body) as? [String: Any],
                  let items = object["items"] as? [[String: Any]] else { return ids }
            ids += items.compactMap { $0["id"] as? String }
            cursor = object["next_cursor"] as? String
        } while cursor != nil
        return ids
    }

    @Test("kill -9 of log-streamer during a burst of HTTP batches and JetStream publishes: after a restart every acknowledged entry is stored, once")
    func killDuringBurst() async throws {
        let h = try await LogsHarness()
        try await h.withProjectManager { pm in
            let world = try await LogsHarness.world(pm)
            let env = h.environment(["HTTP_PORT": String(freePort()), "LOG_LEVEL": "warning"])
            let base = "http://127.0.0.1:\(env["HTTP_PORT"]!)"
            var process = try ServiceProcess(executable: "log-streamer", environment: env)
            try await eventually(timeout: .seconds(30), "log-streamer is ready") { try await HTTP.get(base + "/ready").status == 200 }
            let nats = try await NATSClient.connect(.admin(url: h.nats.url, name: "burst", sendAsap: true), logger: TestEnvironment.logger)
            let acknowledged = Mutex<Set<String>>([])
            let stop = Atomic<Bool>(false)
            // Batches of 100 over HTTP until told to stop; a batch counts once it is answered 202.
            let poster = Task {
                var batch = 0
                while !stop.load(ordering: .relaxed) {
                    let ids = (0..<100).map { "h-\(batch)-\($0)" }
                    batch += 1
                    let body = try JSONSerialization.data(withJSONObject: ids.map { LogsHarness.entry(project: world.projectID, $0) })
                    if let reply = try? await HTTP.send("POST", base + "/api/v1/logs",
                                                        headers: ["Authorization": "Bearer \(world.token)", "Content-Type": "application/json"],
                                                        json: body), reply.status == 202 {
                        acknowledged.withLock { $0.formUnion(ids) }
                    } else {
                        try await Task.sleep(for: .milliseconds(100))
                    }
                }
            }
            // JetStream publishes, each acknowledged by the stream: log-streamer is not needed for them.
            let published = (0..<3000).map { "n-\($0)" }
            try await LogsHarness.publish(nats, tenant: world.tenantID, published.prefix(1500).map { LogsHarness.entry(project: world.projectID, $0) })
            try await eventually(timeout: .seconds(60), "the burst is being stored") { try await Self.stored(base, world.token).count >= 1000 }
            process.signal(SIGKILL)
            _ = await process.waitForExit(timeout: .seconds(10))
            try await LogsHarness.publish(nats, tenant: world.tenantID, published.suffix(1500).map { LogsHarness.entry(project: world.projectID, $0) })
            process = try ServiceProcess(executable: "log-streamer", environment: env)
            try await eventually(timeout: .seconds(30), "log-streamer is back") { try await HTTP.get(base + "/ready").status == 200 }
            try await Task.sleep(for: .seconds(1))
            stop.store(true, ordering: .relaxed)
            try await poster.value
            let expected = acknowledged.withLock { $0 }.union(published)
            #expect(expected.count > 3000, "some HTTP batches were acknowledged")
            var ids: [String] = []
            try await eventually(timeout: .seconds(120), "every acknowledged entry stored after the restart") {
                ids = try await Self.stored(base, world.token)
                return Set(ids).isSuperset(of: expected)
            }
            #expect(ids.count == Set(ids).count, "each entry once")
            process.signal(SIGTERM)
            #expect(await process.waitForExit(timeout: .seconds(20)) == 0)
            await nats.shutdown()
        }
    }

    @Test("restarting nats-server or Postgres during a burst loses nothing, and an open tail goes on receiving after it",
          arguments: ["nats-server", "postgres"])
    func restartDuringBurst(_ which: String) async throws {
        let h = try await LogsHarness(privatePostgres: which == "postgres")
        try await h.withProjectManager { pm in
            let world = try await LogsHarness.world(pm)
            try await h.withLogStreamer { api, parts in
                let base = "http://127.0.0.1:\(api.client.port!)"
                let nats = try await NATSClient.connect(.admin(url: h.nats.url, name: "burst", sendAsap: true), logger: TestEnvironment.logger)
                let ws = try WSDriver()
                try await TailTests.open(ws, "tail", TailTests.url(api), headers: TailTests.bearer(world.token), parts: parts,
                                         tenant: world.tenantID)
                let ids = (0..<4000).map { "x-\($0)" }
                let entries = ids.map { LogsHarness.entry(project: world.projectID, $0) }
                try await LogsHarness.publish(nats, tenant: world.tenantID, Array(entries[..<2000]))
                if which == "postgres" {
                    try #require(h.postgres).stop()
                    try await Task.sleep(for: .seconds(2))
                    try #require(h.postgres).start()
                } else {
                    try h.nats.stop()
                    try await Task.sleep(for: .seconds(2))
                    try h.nats.start()
                }
                try await LogsHarness.publish(nats, tenant: world.tenantID, Array(entries[2000...]), patience: .seconds(30))
                var stored: [String] = []
                try await eventually(timeout: .seconds(180), "every entry stored after the \(which) restart") {
                    stored = (try? await Self.stored(base, world.token)) ?? []
                    return Set(stored).isSuperset(of: ids)
                }
                #expect(stored.count == ids.count)
                // The tail saw the entries published after the restart, in order.
                try await eventually(timeout: .seconds(60), "the tail goes on after the restart") {
                    ws.entryIDs("tail").contains(ids.last!)
                }
                let after = ws.entryIDs("tail").filter { Int($0.dropFirst(2))! >= 2000 }
                #expect(after == Array(ids[2000...]), "live entries after the \(which) restart, none missing or twice")
                await nats.shutdown()
            }
        }
    }
}
