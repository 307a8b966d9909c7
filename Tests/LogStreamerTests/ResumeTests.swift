import FlukeModels
import FlukeNATS
import FlukeTestSupport
import Foundation
import LogStreamer
import Testing

@Suite("log-streamer live tail: exact resume, slow clients, tenants apart", .needsPostgresAndNATS)
struct ResumeTests {
    @Test("since_id replays stored entries, then live ones, none missing and none twice, while entries keep arriving; from the ring too; since= by time; an unknown since_id is an error and the tail goes live")
    func resumeWithoutGapOrDuplicate() async throws {
        let h = try await LogsHarness()
        let nats = try await h.natsClient()
        defer { Task { await nats.shutdown() } }
        try await h.withProjectManager { pm in
            let world = try await LogsHarness.world(pm)
            // A small ring: the first resume must come from Postgres.
            try await h.withLogStreamer(["LOGS_TAIL_RING": "64"]) { api, parts in
                let base = Date().addingTimeInterval(-3600)
                func entries(_ range: Range<Int>) -> [[String: Any]] {
                    range.map { LogsHarness.entry(project: world.projectID, "r-\($0)", app: "web", at: base.addingTimeInterval(Double($0))) }
                }
                let ws = try WSDriver()
                let headers = TailTests.bearer(world.token)
                try await TailTests.open(ws, "first", TailTests.url(api, "/api/v1/logs/stream", "app_name=web"), headers: headers,
                                         parts: parts, tenant: world.tenantID)
                try await LogsHarness.publish(nats, tenant: world.tenantID, entries(0..<300))
                try await eventually(timeout: .seconds(30), "the first 300 live") { ws.entryIDs("first").count == 300 }
                try ws.close("first")
                try await LogsHarness.publish(nats, tenant: world.tenantID, entries(300..<800))

                // Entries keep coming while the second tail resumes.
                let publisher = Task { try await LogsHarness.publish(nats, tenant: world.tenantID, entries(800..<2000)) }
                try await Task.sleep(for: .milliseconds(50))
                try ws.open("again", TailTests.url(api, "/api/v1/logs/stream", "app_name=web&since_id=r-299"), headers: headers)
                try await publisher.value
                let expected = (300..<2000).map { "r-\($0)" }
                try await eventually(timeout: .seconds(60), "every entry after r-299") { ws.entryIDs("again").count >= expected.count }
                try await Task.sleep(for: .milliseconds(500))
                #expect(ws.entryIDs("again") == expected, "no gap, no duplicate, in order")
                #expect(ws.controls("again", "live").count == 1)

                // The ring holds the newest 64: a resume from there needs no storage.
                try ws.open("ring", TailTests.url(api, "/", "since_id=r-1989"), headers: headers)
                try await eventually(timeout: .seconds(20), "the ring's entries") { ws.entryIDs("ring").count >= 10 }
                #expect(ws.entryIDs("ring") == (1990..<2000).map { "r-\($0)" })

                let since = RFC3339.format(base.addingTimeInterval(1994.5))
                try ws.open("time", TailTests.url(api, "/", "app_name=web&since=\(since.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)"),
                             headers: headers)
                try await eventually(timeout: .seconds(20), "entries after the time") { !ws.controls("time", "live").isEmpty }
                #expect(ws.entryIDs("time") == (1995..<2000).map { "r-\($0)" })

                try ws.open("unknown", TailTests.url(api, "/", "since_id=no-such-entry"), headers: headers)
                try await eventually(timeout: .seconds(20), "unknown since_id") { !ws.controls("unknown", "error").isEmpty }
                #expect(ws.controls("unknown", "error").first?["code"] as? String == "unknown_since_id")
                try await LogsHarness.publish(nats, tenant: world.tenantID, [LogsHarness.entry(project: world.projectID, "after-unknown", app: "web")])
                try await eventually(timeout: .seconds(20), "live after the error") { ws.entryIDs("unknown") == ["after-unknown"] }
            }
        }
    }

    @Test("a client that stops reading gets dropped notices (count and since_id at the gap) while a fast one gets every entry in order")
    func slowClientDropped() async throws {
        let h = try await LogsHarness()
        let nats = try await h.natsClient()
        defer { Task { await nats.shutdown() } }
        try await h.withProjectManager { pm in
            let world = try await LogsHarness.world(pm)
            try await h.withLogStreamer(["LOGS_TAIL_BUFFER": "100"]) { api, parts in
                let ws = try WSDriver()
                let headers = TailTests.bearer(world.token)
                try await TailTests.open(ws, "fast", TailTests.url(api), headers: headers, parts: parts, tenant: world.tenantID)
                try await TailTests.open(ws, "slow", TailTests.url(api), headers: headers, parts: parts, tenant: world.tenantID, maxQueue: 1)
                try ws.pause("slow")
                let count = 2000
                let ids = (0..<count).map { "b-\($0)" }
                let body = String(repeating: "y", count: 16_000)
                try await LogsHarness.publish(nats, tenant: world.tenantID, ids.map { LogsHarness.entry(project: world.projectID, $0, message: body) })
                try await eventually(timeout: .seconds(60), "the fast client has everything") { ws.entryIDs("fast").count >= count }
                #expect(ws.entryIDs("fast") == ids)
                try ws.resume("slow")
                var received: [String] = [], dropped = 0
                try await eventually(timeout: .seconds(60), "the slow client accounts for every entry") {
                    received = []
                    dropped = 0
                    for message in ws.messages("slow") {
                        if let id = message["id"] as? String, message["type"] == nil { received.append(id) }
                        if message["type"] as? String == "dropped" { dropped += message["count"] as? Int ?? 0 }
                    }
                    return received.count + dropped >= count
                }
                #expect(dropped > 0, "the slow client was told it missed entries")
                #expect(received.count + dropped == count && Set(received).count == received.count)
                #expect(received == ids.filter(Set(received).contains), "what it got is in order")
                // Each notice names the entry it got just before the gap.
                var last: String?
                for message in ws.messages("slow") {
                    if message["type"] as? String == "dropped" {
                        #expect(message["since_id"] as? String == last, "\(message)")
                    } else if message["type"] == nil {
                        last = message["id"] as? String
                    }
                }
            }
        }
    }

    @Test("two tenants writing at once: each one's tail and query see all of its entries and none of the other's")
    func tenantsApart() async throws {
        let h = try await LogsHarness()
        let nats = try await h.natsClient()
        defer { Task { await nats.shutdown() } }
        try await h.withProjectManager { pm in
            let a = try await LogsHarness.world(pm)
            let b = try await LogsHarness.world(pm, tenant: "Beta")
            try await h.withLogStreamer { api, parts in
                let ws = try WSDriver()
                try await TailTests.open(ws, "a", TailTests.url(api), headers: TailTests.bearer(a.token), parts: parts, tenant: a.tenantID)
                try await TailTests.open(ws, "b", TailTests.url(api), headers: TailTests.bearer(b.token), parts: parts, tenant: b.tenantID)
                let aIDs = (0..<400).map { "ta-\($0)" }, bIDs = (0..<400).map { "tb-\($0)" }
                async let viaNATS: Void = LogsHarness.publish(nats, tenant: a.tenantID, aIDs.prefix(200).map { LogsHarness.entry(project: a.projectID, $0) })
                async let viaHTTP: Void = {
                    for chunk in stride(from: 0, to: 400, by: 100) {
                        _ = try await api.postLogs(b.token, bIDs[chunk..<chunk + 100].map { LogsHarness.entry($0, tenant: a.tenantID) })
                    }
                }()
                async let aRest: Void = {
                    _ = try await api.postLogs(a.token, aIDs.suffix(200).map { LogsHarness.entry($0) })
                }()
                _ = try await (viaNATS, viaHTTP, aRest)
                try await eventually(timeout: .seconds(30), "both tails") {
                    ws.entryIDs("a").count >= 400 && ws.entryIDs("b").count >= 400
                }
                #expect(Set(ws.entryIDs("a")) == Set(aIDs) && ws.entryIDs("a").count == 400)
                #expect(Set(ws.entryIDs("b")) == Set(bIDs) && ws.entryIDs("b").count == 400)
                try await eventually(timeout: .seconds(30), "both stored") {
                    let storedA = Set(try await api.logIDs(a.token, "limit=10000"))
                    let storedB = Set(try await api.logIDs(b.token, "limit=10000"))
                    return storedA == Set(aIDs) && storedB == Set(bIDs)
                }
            }
        }
    }

    @Test("two replicas: an entry reaches the tails on both, is stored once, and a tail resumes on the other replica")
    func twoReplicas() async throws {
        let h = try await LogsHarness()
        let nats = try await h.natsClient()
        defer { Task { await nats.shutdown() } }
        try await h.withProjectManager { pm in
            let world = try await LogsHarness.world(pm)
            try await h.withLogStreamer { one, onePart in
                try await h.withLogStreamer { two, twoPart in
                    let ws = try WSDriver()
                    let headers = TailTests.bearer(world.token)
                    try await TailTests.open(ws, "one", TailTests.url(one), headers: headers, parts: onePart, tenant: world.tenantID)
                    try await TailTests.open(ws, "two", TailTests.url(two), headers: headers, parts: twoPart, tenant: world.tenantID)
                    let ids = (0..<200).map { "rep-\($0)" }
                    try await LogsHarness.publish(nats, tenant: world.tenantID, ids.map { LogsHarness.entry(project: world.projectID, $0) })
                    try await eventually(timeout: .seconds(30), "both replicas' tails") {
                        ws.entryIDs("one").count >= 200 && ws.entryIDs("two").count >= 200
                    }
                    #expect(ws.entryIDs("one") == ids && ws.entryIDs("two") == ids)
                    try await eventually(timeout: .seconds(30), "stored once") {
                        (try await one.logIDs(world.token, "limit=10000")).sorted() == ids.sorted()
                    }
                    try ws.open("resumed", TailTests.url(two, "/", "since_id=rep-149"), headers: headers)
                    try await eventually(timeout: .seconds(20), "the resume on the other replica") { !ws.controls("resumed", "live").isEmpty }
                    #expect(ws.entryIDs("resumed") == Array(ids[150...]))
                }
            }
        }
    }
}
