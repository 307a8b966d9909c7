import FlukeModels
import FlukeTestSupport
import Foundation
import LogStreamer
import Testing

@Suite("log-streamer GET /api/v1/logs: the seed's filters, windows, order and paging", .needsPostgresAndNATS)
struct QueryTests {
    @Test("app_name, deployment_id, level as a minimum, event_type, since_minutes (default 60), since/until, q, order, limit and offset each select exactly their entries; bad values are 422 naming the parameter")
    func filters() async throws {
        let h = try await LogsHarness()
        try await h.withProjectManager { pm in
            let world = try await LogsHarness.world(pm)
            try await h.withLogStreamer { api, _ in
                let now = Date()
                let (d1, d2) = (UUID().uuidString.lowercased(), UUID().uuidString.lowercased())
                func ago(_ minutes: Double) -> Date { now.addingTimeInterval(-minutes * 60) }
                // Posted in this order: the stream, and so every listing, keeps it.
                let batch = [
                    LogsHarness.entry("e1", app: "api", level: "debug", message: "starting build", at: ago(10), deployment: d1, event: "build_start"),
                    LogsHarness.entry("e2", app: "api", level: "info", message: "deploying v2", at: ago(9), deployment: d1, event: "deploy_start"),
                    LogsHarness.entry("e3", app: "api", level: "warn", message: "slow response", at: ago(8)),
                    LogsHarness.entry("e4", app: "web", level: "error", message: "crash in handler", at: ago(7), deployment: d2, event: "deploy_error"),
                    LogsHarness.entry("e5", app: "web", level: "info", message: "old news", at: ago(120)),
                ]
                #expect(try await api.postLogs(world.token, batch).status == 202)
                try await eventually(timeout: .seconds(30), "all five are stored") {
                    try await api.logIDs(world.token, "since_minutes=180").count == 5
                }
                let t = world.token
                #expect(try await api.logIDs(t) == ["e4", "e3", "e2", "e1"], "the last 60 minutes, newest first")
                #expect(try await api.logIDs(t, "since_minutes=180") == ["e5", "e4", "e3", "e2", "e1"])
                #expect(try await api.logIDs(t, "level=warn") == ["e4", "e3"])
                #expect(try await api.logIDs(t, "level=error") == ["e4"])
                #expect(try await api.logIDs(t, "level=debug").count == 4)
                #expect(try await api.logIDs(t, "app_name=api") == ["e3", "e2", "e1"])
                #expect(try await api.logIDs(t, "app_name=web&since_minutes=180") == ["e5", "e4"])
                #expect(try await api.logIDs(t, "deployment_id=\(d1)") == ["e2", "e1"])
                #expect(try await api.logIDs(t, "event_type=deploy_error") == ["e4"])
                #expect(try await api.logIDs(t, "app_name=api&level=info") == ["e3", "e2"])
                #expect(try await api.logIDs(t, "q=crash") == ["e4"])
                #expect(try await api.logIDs(t, "q=CRASH").isEmpty, "q is case-sensitive")
                #expect(try await api.logIDs(t, "order=asc") == ["e1", "e2", "e3", "e4"])
                let since = RFC3339.format(ago(9.5)), until = RFC3339.format(ago(7.5))
                #expect(try await api.logIDs(t, "since=\(since)&until=\(until)") == ["e3", "e2"])
                #expect(try await api.logIDs(t, "limit=2&offset=1") == ["e3", "e2"])

                let first = try await api.call(.get, "/api/v1/logs?limit=2", token: t)
                #expect(first.items.compactMap { $0["id"] as? String } == ["e4", "e3"])
                let cursor = try #require(first.string("next_cursor"))
                let second = try await api.call(.get, "/api/v1/logs?limit=2&cursor=\(cursor)", token: t)
                #expect(second.items.compactMap { $0["id"] as? String } == ["e2", "e1"])
                #expect(second["next_cursor"] is NSNull, "the last page has no next cursor: \(second.json)")

                for (query, field) in [("limit=0", "limit"), ("limit=10001", "limit"), ("level=loud", "level"),
                                       ("event_type=party", "event_type"), ("deployment_id=nope", "deployment_id"),
                                       ("since_minutes=0", "since_minutes"), ("since=yesterday", "since"),
                                       ("since=\(since)&since_minutes=5", "since_minutes"), ("until=\(since)&since=\(until)", "until"),
                                       ("order=sideways", "order"), ("cursor=bm9wZQ", "cursor"), ("order=asc&cursor=\(cursor)", "cursor"),
                                       ("offset=-1", "offset"), ("app_name=my.app", "app_name"), ("project_id=nope", "project_id")] {
                    let reply = try await api.call(.get, "/api/v1/logs?\(query)", token: t)
                    #expect(reply.status == 422 && reply.string("field") == field, "\(query): \(reply.status) \(reply.json)")
                }
                #expect(try await api.call(.get, "/api/v1/logs?limit=10000", token: t).status == 200)
            }
        }
    }

    @Test("limit defaults to 1000; following next_cursor newest first lists every entry once, in order, while 200 more arrive between the pages")
    func cursorStableWhileEntriesArrive() async throws {
        let h = try await LogsHarness()
        try await h.withProjectManager { pm in
            let world = try await LogsHarness.world(pm)
            try await h.withLogStreamer { api, _ in
                let firstIDs = (0..<1005).map { "old-\($0)" }
                #expect(try await api.postLogs(world.token, firstIDs.map { LogsHarness.entry($0, app: "bulk") }).status == 202)
                try await eventually(timeout: .seconds(60), "1005 entries are stored") {
                    try await api.logIDs(world.token, "limit=10000").count == 1005
                }
                let page = try await api.call(.get, "/api/v1/logs", token: world.token)
                #expect(page.items.count == 1000 && page.string("next_cursor") != nil, "the default limit is 1000")

                var listed = try await api.logIDs(world.token, "limit=300")
                var cursor = try #require(try await api.call(.get, "/api/v1/logs?limit=300", token: world.token).string("next_cursor"))
                let newIDs = (0..<200).map { "new-\($0)" }
                #expect(try await api.postLogs(world.token, newIDs.map { LogsHarness.entry($0, app: "bulk") }).status == 202)
                try await eventually(timeout: .seconds(60), "the 200 newer entries are stored") {
                    try await api.logIDs(world.token, "limit=10000").count == 1205
                }
                while true {
                    let next = try await api.call(.get, "/api/v1/logs?limit=300&cursor=\(cursor)", token: world.token)
                    try #require(next.status == 200, "\(next.json)")
                    listed += next.items.compactMap { $0["id"] as? String }
                    guard let more = next.string("next_cursor") else { break }
                    cursor = more
                }
                // Newest first: exactly the first batch, in reverse order of sending, none twice, none of the newer.
                #expect(listed == Array(firstIDs.reversed()), "\(listed.count) listed; first differences: \(zip(listed, firstIDs.reversed()).filter { $0 != $1 }.prefix(3))")
                #expect(try await api.logIDs(world.token, "limit=10000&order=asc").suffix(200) == ArraySlice(newIDs))
            }
        }
    }
}
