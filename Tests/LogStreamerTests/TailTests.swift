import FlukeModels
import FlukeNATS
import FlukeTestSupport
import Foundation
import LogStreamer
import Testing

@Suite("log-streamer live tail: the seed's protocol, authentication and limits, over a real WebSocket client", .needsPostgresAndNATS)
struct TailTests {
    static func url(_ api: JSONClient, _ path: String = "/", _ query: String = "") -> String {
        "ws://127.0.0.1:\(api.client.port!)\(path)" + (query.isEmpty ? "" : "?" + query)
    }

    static func bearer(_ token: String) -> [String: String] { ["Authorization": "Bearer \(token)"] }

    /// Opens `conn` and waits until the replica has registered it (the client sees the upgrade
    /// a moment before the tail is in place).
    static func open(_ ws: WSDriver, _ conn: String, _ url: String, headers: [String: String], parts: LogsParts,
                     tenant: String, maxQueue: Int = 4096) async throws {
        let before = parts.openTails(UUID(uuidString: tenant)!)
        try ws.open(conn, url, headers: headers, maxQueue: maxQueue)
        let event = try await ws.waitFor(conn, "open")
        try #require(event.kind == "open", "\(conn): \(event.object)")
        try await eventually(timeout: .seconds(10), "\(conn) registered") { parts.openTails(UUID(uuidString: tenant)!) > before }
    }

    @Test("the seed's URL form filters by app and minimum level, in order; subscribe replaces the filter and unsubscribe stops entries; ping, get_stats; bad messages get errors and the tail stays open")
    func protocolAndFilters() async throws {
        let h = try await LogsHarness()
        let nats = try await h.natsClient()
        defer { Task { await nats.shutdown() } }
        try await h.withProjectManager { pm in
            let world = try await LogsHarness.world(pm)
            try await h.withLogStreamer { api, parts in
                let ws = try WSDriver()
                try await Self.open(ws, "a", Self.url(api, "/", "app_name=web&level=warn"), headers: Self.bearer(world.token),
                                    parts: parts, tenant: world.tenantID)
                try await LogsHarness.publish(nats, tenant: world.tenantID, [
                    LogsHarness.entry(project: world.projectID, "f-1", app: "web", level: "info"), LogsHarness.entry(project: world.projectID, "f-2", app: "web", level: "warn"),
                    LogsHarness.entry(project: world.projectID, "f-3", app: "api", level: "error"), LogsHarness.entry(project: world.projectID, "f-4", app: "web", level: "error"),
                    LogsHarness.entry(project: world.projectID, "f-5", app: "web", level: "debug"),
                ])
                try await eventually(timeout: .seconds(20), "web's warn and error") { ws.entryIDs("a").count >= 2 }
                let first = ws.messages("a").first { $0["type"] == nil }
                #expect((first?["source"] as? [String: Any])?["tenant_id"] as? String == world.tenantID.lowercased(),
                        "an entry arrives as the UnifiedLogEntry itself: \(String(describing: first))")

                try ws.send("a", ["action": "subscribe", "filter": ["app_name": "api"]])
                try await eventually(timeout: .seconds(10), "subscribed") { !ws.controls("a", "subscribed").isEmpty }
                // The token is bound to its project: the filter keeps it, whatever the message says.
                #expect(ws.controls("a", "subscribed").first?["filter"] as? [String: String]
                        == ["app_name": "api", "project_id": world.projectID.lowercased()])
                try await LogsHarness.publish(nats, tenant: world.tenantID, [
                    LogsHarness.entry(project: world.projectID, "s-1", app: "api", level: "info"), LogsHarness.entry(project: world.projectID, "s-2", app: "web", level: "error")])
                try await eventually(timeout: .seconds(20), "api's entry") { ws.entryIDs("a").contains("s-1") }

                try ws.send("a", ["action": "unsubscribe"])
                try await eventually(timeout: .seconds(10), "unsubscribed") { !ws.controls("a", "unsubscribed").isEmpty }
                try await LogsHarness.publish(nats, tenant: world.tenantID, [LogsHarness.entry(project: world.projectID, "u-1", app: "api", level: "error")])
                try ws.send("a", ["action": "subscribe", "filter": ["app_name": "api", "level": "ERROR"]])
                try await eventually(timeout: .seconds(10), "subscribed again") { ws.controls("a", "subscribed").count == 2 }
                try await LogsHarness.publish(nats, tenant: world.tenantID, [
                    LogsHarness.entry(project: world.projectID, "s-3", app: "api", level: "warn"), LogsHarness.entry(project: world.projectID, "s-4", app: "api", level: "error")])
                try await eventually(timeout: .seconds(20), "the entry after subscribing again") { ws.entryIDs("a").contains("s-4") }
                #expect(ws.entryIDs("a") == ["f-2", "f-4", "s-1", "s-4"], "filters, order, and nothing while unsubscribed")

                try ws.send("a", ["action": "ping"])
                try ws.send("a", ["action": "dance"])
                try ws.send("a", ["action": "subscribe", "filter": ["level": "loud"]])
                try ws.send("a", ["action": "subscribe", "filter": ["colour": "red"]])
                try ws.sendText("a", "not json")
                try ws.send("a", ["action": "get_stats"])
                try await eventually(timeout: .seconds(10), "stats") { !ws.controls("a", "stats").isEmpty }
                #expect(ws.controls("a", "pong").count == 1)
                let errors = ws.controls("a", "error")
                #expect(errors.map { $0["code"] as? String } == ["unknown_action", "invalid_filter", "invalid_filter", "malformed"], "\(errors)")
                #expect(errors[1]["field"] as? String == "level" && errors[2]["field"] as? String == "filter.colour", "\(errors)")
                let stats = ws.controls("a", "stats")[0]
                #expect(stats["clients"] as? Int == 1 && stats["entries_sent"] as? Int == 4 && stats["dropped"] as? Int == 0, "\(stats)")
                #expect((stats["uptime_seconds"] as? Int).map { $0 >= 0 } == true, "\(stats)")
                // Still open and following the last good filter.
                try await LogsHarness.publish(nats, tenant: world.tenantID, [LogsHarness.entry(project: world.projectID, "s-5", app: "api", level: "error")])
                try await eventually(timeout: .seconds(20), "open after errors") { ws.entryIDs("a").last == "s-5" }
                #expect(!ws.events("a").contains { $0.kind == "closed" })
            }
        }
    }

    @Test("no token refuses the upgrade with 401 on both paths (a bad one too); a token without logs:read gets 403, a bad parameter 422; access_token works for browsers and never reaches the log, even at trace level; a plain GET gets 426")
    func authentication() async throws {
        let h = try await LogsHarness()
        try await h.withProjectManager { pm in
            let world = try await LogsHarness.world(pm)
            let writer = try await pm.call(.post, "/api/v1/tokens", token: world.ownerToken, json: ["name": "w", "scopes": ["logs:write"]])
            let writeOnly = try #require(writer.string("token"), "\(writer.json)")
            let logs = LogCapture(level: .trace)
            try await h.withLogStreamer(logger: logs.logger()) { api, parts in
                // Another protocol asked for (curl --http2 on http:// asks for h2c) is answered as HTTP/1.1.
                let curl = Process()
                curl.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
                curl.arguments = ["-s", "-m", "10", "-o", "/dev/null", "-w", "%{http_code}", "--http2",
                                  "-H", "Authorization: Bearer \(world.token)", "http://127.0.0.1:\(api.client.port!)/api/v1/logs"]
                let out = Pipe()
                curl.standardOutput = out
                try curl.run()
                curl.waitUntilExit()
                #expect(String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self) == "200")
                let ws = try WSDriver()
                for path in ["/", "/api/v1/logs/stream"] {
                    try ws.open("none\(path)", Self.url(api, path))
                    try ws.open("bad\(path)", Self.url(api, path), headers: Self.bearer("fbk_nope"))
                    try ws.open("scope\(path)", Self.url(api, path), headers: Self.bearer(writeOnly))
                    try ws.open("param\(path)", Self.url(api, path, "level=loud"), headers: Self.bearer(world.token))
                    for (conn, status) in [("none", 401), ("bad", 401), ("scope", 403), ("param", 422)] {
                        let event = try await ws.waitFor(conn + path, "refused")
                        #expect(event.kind == "refused" && event.object["status"] as? Int == status, "\(conn)\(path): \(event.object)")
                    }
                }
                #expect((ws.events("param/").first?.object["body"] as? String)?.contains("level") == true, "the 422 names the parameter")
                let token = world.token.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
                try await Self.open(ws, "query", Self.url(api, "/api/v1/logs/stream", "access_token=\(token)&app_name=web"), headers: [:],
                                    parts: parts, tenant: world.tenantID)
                let secret = world.token.dropFirst(4)
                #expect(!logs.logged.contains { "\($0.message) \($0.metadata)".contains(secret) }, "a token reached the log")
                #expect(!logs.logged.isEmpty, "the capture sees the service's log")
                let plain = try await api.call(.get, "/api/v1/logs/stream?app_name=web", token: world.token)
                #expect(plain.status == 426, "\(plain.json)")
                let anonymous = try await api.call(.get, "/?app_name=web")
                #expect(anonymous.status == 401, "\(anonymous.json)")
            }
        }
    }

    @Test("beyond LOGS_MAX_TAILS_PER_TENANT a tail is closed with 1008 and a reason naming the limit; another tenant is not affected; revoking a token closes its tails; a client that stops answering pings is closed")
    func limitsAndDeadClients() async throws {
        let h = try await LogsHarness()
        let nats = try await h.natsClient()
        defer { Task { await nats.shutdown() } }
        try await h.withProjectManager { pm in
            let a = try await LogsHarness.world(pm)
            let b = try await LogsHarness.world(pm, tenant: "Beta")
            try await h.withLogStreamer(["LOGS_MAX_TAILS_PER_TENANT": "2", "LOGS_TAIL_PING_INTERVAL": "1"]) { api, parts in
                let ws = try WSDriver()
                try await Self.open(ws, "a1", Self.url(api), headers: Self.bearer(a.token), parts: parts, tenant: a.tenantID)
                try await Self.open(ws, "a2", Self.url(api), headers: Self.bearer(a.token), parts: parts, tenant: a.tenantID, maxQueue: 1)
                try ws.open("a3", Self.url(api), headers: Self.bearer(a.token))
                let closed = try await ws.waitFor("a3", "closed")
                #expect(closed.object["code"] as? Int == 1008, "\(closed.object)")
                #expect((closed.object["reason"] as? String)?.contains("LOGS_MAX_TAILS_PER_TENANT") == true, "\(closed.object)")
                #expect(ws.controls("a3", "error").first?["code"] as? String == "too_many_tails")
                try await Self.open(ws, "b1", Self.url(api), headers: Self.bearer(b.token), parts: parts, tenant: b.tenantID)

                // Revoking a token ends its tails at once.
                let minted = try await pm.call(.post, "/api/v1/tokens", token: b.ownerToken, json: ["name": "tail", "scopes": ["logs:read"]])
                let (revocable, revocableID) = (try #require(minted.string("token")), try #require(minted.string("id"), "\(minted.json)"))
                try await Self.open(ws, "b2", Self.url(api), headers: Self.bearer(revocable), parts: parts, tenant: b.tenantID)
                let revoked = try await pm.call(.delete, "/api/v1/tokens/\(revocableID)", token: b.ownerToken)
                #expect(revoked.status == 204, "\(revoked.json)")
                let ended = try await ws.waitFor("b2", "closed")
                #expect(ended.object["code"] as? Int == 1008 && ended.object["reason"] as? String == "token revoked", "\(ended.object)")

                // a2 stops reading: once its client buffer is full it no longer answers pings.
                try ws.pause("a2")
                try await LogsHarness.publish(nats, tenant: a.tenantID, (0..<8).map {
                    LogsHarness.entry(project: a.projectID, "d-\($0)", message: String(repeating: "x", count: 30_000)) })
                try await eventually(timeout: .seconds(20), "the silent tail is closed") { parts.openTails(UUID(uuidString: a.tenantID)!) == 1 }
                // a1 kept answering and is still there.
                try await eventually(timeout: .seconds(30), "a1 has the entries") { ws.entryIDs("a1").count == 8 }
                #expect(!ws.events("a1").contains { $0.kind == "closed" })
            }
        }
    }
}
