@testable import ContextAPI
import FlukeModels
import FlukeRuntime
import FlukeTestSupport
import Foundation
import HTTPTypes
import Testing

@Suite("context-api: the context, env vars, memories, changes", .needsPostgresAndNATS)
struct ContextTests {
    @Test("the context carries project, team, milestones, env vars and MCP configuration from the replica; ETag gives 304")
    func contextAndETag() async throws {
        let h = try await ContextHarness()
        try await h.withProjectManager { pm in
            let w = try await ContextHarness.world(pm)
            try await h.withContextAPI { api, _ in
                let r = try await api.context(w.token)
                let project = try #require(r["project"] as? [String: Any])
                #expect(project["id"] as? String == w.projectID && project["name"] as? String == "Northstar")
                #expect(project["stage"] as? String == "mvp" && project["description"] as? String == "AI context")
                try await eventually("team and milestone replicated") {
                    let c = try await api.call(.get, "/api/v1/flukebase_connect/context", token: w.token)
                    return (c["team_members"] as? [[String: Any]])?.first?["role"] as? String == "lead"
                        && (c["milestones"] as? [[String: Any]])?.first?["title"] as? String == "Beta"
                }
                let mcp = try #require(r["mcp_configuration"] as? [String: Any])
                #expect(mcp["context_level"] as? String == "standard")
                let first = try await api.call(.get, "/api/v1/flukebase_connect/context", token: w.token)
                let etag = try #require(first.headers[.eTag])
                #expect(etag.hasPrefix("\"") && etag.count == 34)
                let again = try await api.call(.get, "/api/v1/flukebase_connect/context", token: w.token,
                                               headers: [.ifNoneMatch: etag])
                #expect(again.status == 304 && again.body.isEmpty)
                // A change anywhere in the context changes the ETag.
                #expect(try await api.call(.put, "/api/v1/projects/\(w.projectID)/env/API_URL", token: w.token,
                                           json: ["value": "https://api.example.com"]).status == 201)
                let changed = try await api.call(.get, "/api/v1/flukebase_connect/context", token: w.token,
                                                 headers: [.ifNoneMatch: etag])
                #expect(changed.status == 200 && changed.headers[.eTag] != etag)
                let minimal = try await api.call(.get, "/api/v1/flukebase_connect/context?context_level=minimal", token: w.token)
                #expect(minimal["environment_variables"] == nil && minimal["project"] != nil)
                let bad = try await api.call(.get, "/api/v1/flukebase_connect/context?context_level=huge", token: w.token)
                #expect(bad.status == 422 && bad.string("field") == "context_level")
                #expect(try await api.call(.get, "/api/v1/flukebase_connect/context").status == 401)
            }
        }
    }

    @Test("env values are sealed at rest; secrets are masked without secrets:read, and every secret read is logged")
    func envSecrets() async throws {
        let h = try await ContextHarness()
        try await h.withProjectManager { pm in
            let w = try await ContextHarness.world(pm)
            let reader = try await pm.call(.post, "/api/v1/tokens", token: w.ownerToken,
                                           json: ["name": "reader", "scopes": ["context:read"], "project_id": w.projectID])
                .string("token")!
            try await h.withContextAPI { api, _ in
                let events = try await EventCollector(natsURL: h.nats.url, filter: "fluke.events.env.>")
                _ = try await api.context(w.token)
                let put = try await api.call(.put, "/api/v1/projects/\(w.projectID)/env/DATABASE_PASSWORD", token: w.token,
                                             json: ["value": "hunter2-very-secret", "secret": true, "environment": "production"])
                #expect(put.status == 201 && put["version"] as? Int == 1)
                let again = try await api.call(.put, "/api/v1/projects/\(w.projectID)/env/DATABASE_PASSWORD", token: w.token,
                                               json: ["value": "hunter3-very-secret", "secret": true, "environment": "production"])
                #expect(again.status == 200 && again["version"] as? Int == 2)
                _ = try await api.call(.put, "/api/v1/projects/\(w.projectID)/env/LOG_LEVEL", token: w.token, json: ["value": "debug"])
                // Nothing readable at rest.
                let stored = try await h.database.withAdminClient { db in
                    try await db.query("SELECT string_agg(row_to_json(e)::text, ' ') FROM context.env_vars e").first!.decode(String.self, at: 0)
                }
                #expect(!stored.contains("hunter3") && !stored.contains("debug"))
                // A reader sees the secret masked; the full token sees it, and that read is logged.
                let masked = try await api.context(reader)
                let vars = try #require(masked["environment_variables"] as? [[String: Any]])
                let secret = try #require(vars.first { $0["key"] as? String == "DATABASE_PASSWORD" })
                #expect(secret["masked"] as? Bool == true && secret["value"] == nil)
                #expect(vars.first { $0["key"] as? String == "LOG_LEVEL" }?["value"] as? String == "debug")
                let full = try await api.call(.get, "/api/v1/flukebase_connect/context", token: w.token)
                let shown = (full["environment_variables"] as? [[String: Any]])?.first { $0["key"] as? String == "DATABASE_PASSWORD" }
                #expect(shown?["value"] as? String == "hunter3-very-secret")
                let log = try await api.call(.get, "/api/v1/projects/\(w.projectID)/env/access-log", token: w.token)
                #expect(log.items.first?["key"] as? String == "DATABASE_PASSWORD" && log.items.first?["via"] as? String == "context")
                #expect(try await api.call(.get, "/api/v1/projects/\(w.projectID)/env/access-log", token: reader).status == 403)
                #expect(try await api.call(.put, "/api/v1/projects/\(w.projectID)/env/X", token: reader, json: ["value": "1"]).status == 403)
                // The dashboard's way: the list masked whatever the scopes (nothing logged), then
                // one variable revealed (one read logged).
                let logged = log.items.count
                let listed = try await api.call(.get, "/api/v1/projects/\(w.projectID)/env?reveal=false", token: w.token)
                #expect(listed.items.first { $0["key"] as? String == "DATABASE_PASSWORD" }?["masked"] as? Bool == true)
                #expect(listed.items.allSatisfy { ($0["value"] as? String)?.contains("hunter") != true })
                #expect(try await api.call(.get, "/api/v1/projects/\(w.projectID)/env/access-log", token: w.token).items.count == logged)
                let one = try await api.call(.get, "/api/v1/projects/\(w.projectID)/env/DATABASE_PASSWORD?environment=production", token: w.token)
                #expect(one.status == 200 && one.string("value") == "hunter3-very-secret" && one["masked"] as? Bool == false)
                let afterOne = try await api.call(.get, "/api/v1/projects/\(w.projectID)/env/access-log", token: w.token)
                #expect(afterOne.items.count == logged + 1 && afterOne.items.first?["via"] as? String == "env")
                let masked1 = try await api.call(.get, "/api/v1/projects/\(w.projectID)/env/DATABASE_PASSWORD?environment=production", token: reader)
                #expect(masked1.status == 200 && masked1["value"] == nil && masked1["masked"] as? Bool == true)
                #expect(try await api.call(.get, "/api/v1/projects/\(w.projectID)/env/DATABASE_PASSWORD", token: w.token).status == 404,
                        "development has no such variable")
                #expect(try await api.call(.get, "/api/v1/projects/\(w.projectID)/env?reveal=maybe", token: w.token).string("field") == "reveal")
                // Bad input, named; nothing changes.
                for (uri, body, field) in [
                    ("/env/lower_case", ["value": "x"] as [String: Any], "key"), ("/env/OK", ["value": 3], "value"),
                    ("/env/OK", ["value": "x", "environment": "qa"], "environment"), ("/env/OK", ["value": "x", "secret": "yes"], "secret"),
                    ("/env/OK", ["value": String(repeating: "v", count: 40_000)], "value"),
                ] {
                    let r = try await api.call(.put, "/api/v1/projects/\(w.projectID)\(uri)", token: w.token, json: body)
                    #expect(r.status == 422 && r.string("field") == field, "\(uri) \(r.json)")
                }
                #expect(try await api.call(.delete, "/api/v1/projects/\(w.projectID)/env/DATABASE_PASSWORD?environment=production",
                                           token: w.token).status == 204)
                let received = try await events.collect(count: 4, window: .seconds(10))
                #expect(received.map(\.type) == ["env.updated", "env.updated", "env.updated", "env.deleted"])
                #expect(received.allSatisfy { $0.projectid == w.projectID && $0.tenantid == w.tenantID })
                let payloads = received.map { String(decoding: try! FleetJSON.encoder.encode($0), as: UTF8.self) }
                #expect(!payloads.contains { $0.contains("hunter") })
                await events.close()
            }
        }
    }

    @Test("memories: create is idempotent on external_id; If-Match guards updates; without it the newer updated_at wins and the loser is kept")
    func memorySync() async throws {
        let h = try await ContextHarness()
        try await h.withProjectManager { pm in
            let w = try await ContextHarness.world(pm)
            try await h.withContextAPI { api, _ in
                _ = try await api.context(w.token)
                let events = try await EventCollector(natsURL: h.nats.url, filter: "fluke.events.memory.synced")
                let external = UUID().uuidString.lowercased()
                let body: [String: Any] = ["external_id": external, "memory_type": "convention",
                                           "content": "Use snake_case in SQL", "tags": ["sql", "style"]]
                let created = try await api.call(.post, "/api/v1/flukebase_connect/memories", token: w.token, json: body)
                #expect(created.status == 201 && created["version"] as? Int == 1 && created.headers[.eTag] == "\"1\"")
                let retried = try await api.call(.post, "/api/v1/flukebase_connect/memories", token: w.token, json: body)
                #expect(retried.status == 200 && retried.string("id") == created.string("id"))
                let id = created.string("id")!
                let uri = "/api/v1/flukebase_connect/memories/\(id)"
                // If-Match current: applies. Stale: 412, nothing changes.
                let v2 = try await api.call(.put, uri, token: w.token, json: ["content": "Use snake_case everywhere"],
                                            headers: [.ifMatch: "\"1\""])
                #expect(v2.status == 200 && v2["version"] as? Int == 2)
                let stale = try await api.call(.put, uri, token: w.token, json: ["content": "lost"], headers: [.ifMatch: "\"1\""])
                #expect(stale.status == 412 && stale.headers[.eTag] == "\"2\"")
                // Offline edit made earlier than the server's copy: the server keeps its copy.
                let older = try await api.call(.put, uri, token: w.token,
                                               json: ["content": "offline edit", "version": 1, "updated_at": "2020-01-01T00:00:00Z"])
                #expect(older.status == 200 && older.string("content") == "Use snake_case everywhere" && older["version"] as? Int == 2)
                #expect(older.headers[HTTPField.Name("Fluke-Conflict")!]?.hasPrefix("server-won") == true)
                // A newer offline edit wins; the server's copy becomes the loser.
                let newer = try await api.call(.put, uri, token: w.token, json: ["content": "newest edit", "version": 1])
                #expect(newer.status == 200 && newer.string("content") == "newest edit" && newer["version"] as? Int == 3)
                let conflicts = try await api.call(.get, "/api/v1/flukebase_connect/memories/conflicts", token: w.token)
                #expect(conflicts.items.count == 2)
                let losers = conflicts.items.compactMap { ($0["losing"] as? [String: Any])?["content"] as? String }
                #expect(Set(losers) == ["offline edit", "Use snake_case everywhere"])
                // Filters.
                _ = try await api.call(.post, "/api/v1/flukebase_connect/memories", token: w.token,
                                       json: ["external_id": UUID().uuidString, "memory_type": "gotcha", "content": "Beware of DST", "tags": ["time"]])
                #expect(try await api.call(.get, "/api/v1/flukebase_connect/memories?memory_type=gotcha", token: w.token).items.count == 1)
                #expect(try await api.call(.get, "/api/v1/flukebase_connect/memories?tag=sql", token: w.token).items.count == 1)
                #expect(try await api.call(.get, "/api/v1/flukebase_connect/memories?q=DST", token: w.token).items.count == 1)
                #expect(try await api.call(.get, "/api/v1/flukebase_connect/memories?q=100%25", token: w.token).items.isEmpty)
                #expect(try await api.call(.delete, uri, token: w.token).status == 204)
                #expect(try await api.call(.get, uri, token: w.token).status == 404)
                for (payload, field) in [
                    (["external_id": "nope", "memory_type": "fact", "content": "x"], "external_id"),
                    (["external_id": UUID().uuidString, "memory_type": "rumour", "content": "x"], "memory_type"),
                    (["external_id": UUID().uuidString, "memory_type": "fact", "content": String(repeating: "x", count: 20_000)], "content"),
                    (["external_id": UUID().uuidString, "memory_type": "fact"], "content"),
                ] as [([String: Any], String)] {
                    let r = try await api.call(.post, "/api/v1/flukebase_connect/memories", token: w.token, json: payload)
                    #expect(r.status == 422 && r.string("field") == field, "\(r.json)")
                }
                let synced = try await events.collect(count: 5, window: .seconds(10))
                #expect(synced.count == 5)
                #expect(synced.last?.data["deleted"] == .bool(true) && synced.last?.data["external_id"] == .string(external))
                #expect(synced.first?.data["version"] == .number(1) && synced.first?.data["memory_type"] == .string("convention"))
                await events.close()
            }
        }
    }

    @Test("the changes feed orders every change (tombstones included) and resumes from any cursor")
    func changesFeed() async throws {
        let h = try await ContextHarness()
        try await h.withProjectManager { pm in
            let w = try await ContextHarness.world(pm)
            try await h.withContextAPI { api, _ in
                let snapshot = try await api.context(w.token)
                try await eventually("milestone replicated") {
                    let c = try await api.call(.get, "/api/v1/flukebase_connect/context", token: w.token)
                    return (c["milestones"] as? [[String: Any]])?.isEmpty == false
                }
                let cursor = try #require(snapshot.string("changes_cursor"))
                _ = try await api.call(.put, "/api/v1/projects/\(w.projectID)/env/A", token: w.token, json: ["value": "1"])
                _ = try await api.call(.delete, "/api/v1/projects/\(w.projectID)/env/A", token: w.token)
                _ = try await pm.call(.patch, "/api/v1/projects/\(w.projectID)/milestones/\(w.milestoneID)", token: w.ownerToken,
                                      json: ["status": "done"])
                _ = try await pm.call(.delete, "/api/v1/projects/\(w.projectID)/members/\(w.memberID)", token: w.ownerToken)
                var feed: [[String: Any]] = []
                var kinds: [String] = []
                try await eventually("the feed has the four changes") {
                    feed = try await api.call(.get, "/api/v1/flukebase_connect/changes?since=\(cursor)", token: w.token).items
                    kinds = feed.map { "\($0["entity"] as? String ?? "") \($0["op"] as? String ?? "")" }
                    return kinds.contains("team_member delete") && kinds.contains("env delete")
                        && feed.contains { $0["entity"] as? String == "milestone" && ($0["data"] as? [String: Any])?["status"] as? String == "done" }
                }
                #expect(kinds.contains("env upsert"))
                #expect(kinds.firstIndex(of: "env upsert")! < kinds.firstIndex(of: "env delete")!)
                // Resuming from the middle returns exactly the rest.
                let middle = try #require(feed[1]["cursor"] as? String)
                let rest = try await api.call(.get, "/api/v1/flukebase_connect/changes?since=\(middle)", token: w.token)
                #expect(rest.items.map { $0["cursor"] as? String } == feed.dropFirst(2).map { $0["cursor"] as? String })
                #expect(rest.string("next_cursor") == feed.last?["cursor"] as? String)
                let bad = try await api.call(.get, "/api/v1/flukebase_connect/changes?since=xyz", token: w.token)
                #expect(bad.status == 422 && bad.string("field") == "since")
            }
        }
    }

    @Test("a token bound to project A gets 404 for project B and for another tenant's projects, on every route")
    func isolation() async throws {
        let h = try await ContextHarness()
        try await h.withProjectManager { pm in
            let a = try await ContextHarness.world(pm)
            let other = try await ContextHarness.world(pm, tenant: "Other")
            let b = try await pm.call(.post, "/api/v1/projects", token: a.ownerToken, json: ["name": "B"]).string("id")!
            try await h.withContextAPI { api, _ in
                _ = try await api.context(a.token)
                _ = try await api.context(other.token)
                _ = try await api.call(.put, "/api/v1/projects/\(other.projectID)/env/SECRET", token: other.token,
                                       json: ["value": "theirs", "secret": true])
                let m = try await api.call(.post, "/api/v1/flukebase_connect/memories", token: other.token,
                                           json: ["external_id": UUID().uuidString, "memory_type": "fact", "content": "theirs"])
                let theirMemory = try #require(m.string("id"))
                for target in [b, other.projectID] {
                    for (method, uri, body) in [
                        ("GET", "/api/v1/projects/\(target)/env", nil), ("PUT", "/api/v1/projects/\(target)/env/SECRET", ["value": "mine"]),
                        ("DELETE", "/api/v1/projects/\(target)/env/SECRET", nil), ("GET", "/api/v1/projects/\(target)/env/access-log", nil),
                        ("GET", "/api/v1/flukebase_connect/context?project_id=\(target)", nil),
                    ] as [(String, String, [String: Any]?)] {
                        let r = try await api.call(.init(method)!, uri, token: a.token, json: body)
                        #expect(r.status == 404, "\(method) \(uri) → \(r.status)")
                    }
                }
                for (method, body) in [("GET", nil), ("PUT", ["content": "mine"]), ("DELETE", nil)] as [(String, [String: Any]?)] {
                    let r = try await api.call(.init(method)!, "/api/v1/flukebase_connect/memories/\(theirMemory)", token: a.token, json: body)
                    #expect(r.status == 404, "\(method) memory")
                }
                let still = try await api.call(.get, "/api/v1/flukebase_connect/memories/\(theirMemory)", token: other.token)
                #expect(still.string("content") == "theirs")
                let env = try await api.call(.get, "/api/v1/projects/\(other.projectID)/env", token: other.token)
                #expect(env.items.first?["value"] as? String == "theirs")
                // A session (JWT) names the project explicitly, within its own tenant.
                let own = try await api.call(.get, "/api/v1/flukebase_connect/context?project_id=\(a.projectID)", token: a.ownerToken)
                #expect(own.status == 200)
                let missing = try await api.call(.get, "/api/v1/flukebase_connect/context", token: a.ownerToken)
                #expect(missing.status == 422 && missing.string("field") == "project_id")
                #expect(try await api.call(.get, "/api/v1/flukebase_connect/context?project_id=\(other.projectID)",
                                           token: a.ownerToken).status == 404)
            }
        }
    }

    @Test("the replica catches up after context-api was down, and serves while project-manager is down")
    func replicaResilience() async throws {
        let h = try await ContextHarness()
        let w = try await h.withProjectManager { pm in try await ContextHarness.world(pm) }
        // project-manager is down now; context-api starts, catches up from the stream, and serves.
        try await h.withContextAPI { api, _ in
            let r = try await api.context(w.ownerToken, query: "?project_id=\(w.projectID)")
            #expect((r["project"] as? [String: Any])?["name"] as? String == "Northstar")
        }
        // context-api is down while project-manager changes things; after a restart it has them.
        try await h.withProjectManager { pm in
            _ = try await pm.call(.patch, "/api/v1/projects/\(w.projectID)", token: w.ownerToken, json: ["name": "Renamed"])
            _ = try await pm.call(.post, "/api/v1/projects/\(w.projectID)/milestones", token: w.ownerToken, json: ["title": "GA"])
        }
        try await h.withContextAPI { api, _ in
            try await eventually("caught up") {
                let c = try await api.call(.get, "/api/v1/flukebase_connect/context?project_id=\(w.projectID)", token: w.ownerToken)
                return (c["project"] as? [String: Any])?["name"] as? String == "Renamed"
                    && (c["milestones"] as? [[String: Any]])?.contains { $0["title"] as? String == "GA" } == true
            }
            // Each event applied once, however often it was delivered.
            let processed = try await h.database.withAdminClient { db in
                try await db.query("SELECT count(*) FROM context.processed_events").first!.decode(Int.self, at: 0)
            }
            let changes = try await h.database.withAdminClient { db in
                try await db.query("SELECT count(*) FROM context.changes WHERE entity = 'milestone'").first!.decode(Int.self, at: 0)
            }
            #expect(processed == 5 && changes == 2)
        }
    }
}

@Suite("context-api replicas", .needsPostgresAndNATS)
struct ContextReplicaTests {
    @Test("a context cached by one replica follows a change made through another, well before its 5 s lifetime")
    func cacheFollowsOtherReplica() async throws {
        let h = try await ContextHarness()
        try await h.withProjectManager { pm in
            let w = try await ContextHarness.world(pm)
            try await h.withContextAPI { one, _ in
                try await h.withContextAPI { two, _ in
                    _ = try await one.context(w.token)
                    let before = try await two.context(w.token)
                    #expect(try await one.call(.put, "/api/v1/projects/\(w.projectID)/env/FEATURE", token: w.token,
                                               json: ["value": "on"]).status == 201)
                    // Read-after-write on the replica that wrote.
                    let mine = try await one.call(.get, "/api/v1/flukebase_connect/context", token: w.token)
                    #expect((mine["environment_variables"] as? [[String: Any]])?.contains { $0["key"] as? String == "FEATURE" } == true)
                    try await eventually(timeout: .seconds(3), "the other replica drops its cached context") {
                        let theirs = try await two.call(.get, "/api/v1/flukebase_connect/context", token: w.token)
                        return theirs.headers[.eTag] != before.headers[.eTag]
                            && (theirs["environment_variables"] as? [[String: Any]])?.contains { $0["key"] as? String == "FEATURE" } == true
                    }
                    // A change from project-manager (through the replica) also reaches both at once.
                    _ = try await pm.call(.patch, "/api/v1/projects/\(w.projectID)", token: w.ownerToken, json: ["name": "Renamed"])
                    for api in [one, two] {
                        try await eventually(timeout: .seconds(3), "rename visible") {
                            let c = try await api.call(.get, "/api/v1/flukebase_connect/context", token: w.token)
                            return (c["project"] as? [String: Any])?["name"] as? String == "Renamed"
                        }
                    }
                }
            }
        }
    }
}
