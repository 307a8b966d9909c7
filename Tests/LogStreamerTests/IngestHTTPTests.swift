import FlukeModels
import FlukeTestSupport
import Foundation
import LogStreamer
import Testing

@Suite("log-streamer POST /api/v1/logs: JSON array and NDJSON, all or nothing", .needsPostgresAndNATS)
struct IngestHTTPTests {
    @Test("a JSON array and an NDJSON body are accepted (202 with the ids) and stored, each entry stamped with the token's tenant and project whatever it says")
    func arrayAndNDJSON() async throws {
        let h = try await LogsHarness()
        try await h.withProjectManager { pm in
            let world = try await LogsHarness.world(pm)
            try await h.withLogStreamer { api, _ in
                let forged = UUID().uuidString.lowercased()
                var noID = LogsHarness.entry("x", tenant: forged)
                noID.removeValue(forKey: "id")
                noID.removeValue(forKey: "timestamp")
                let posted = try await api.postLogs(world.token, [
                    LogsHarness.entry("a-1", project: forged, tenant: forged), LogsHarness.entry("a-2", level: "warn"), noID,
                ])
                try #require(posted.status == 202, "\(posted.json)")
                let ids = try #require(posted["ids"] as? [String])
                #expect(posted["accepted"] as? Int == 3 && ids.count == 3 && Array(ids.prefix(2)) == ["a-1", "a-2"])
                #expect(UUID(uuidString: ids[2]) != nil, "an entry without an id gets a UUID: \(ids[2])")

                let ndjson = [LogsHarness.entry("n-1"), LogsHarness.entry("n-2", level: "error")]
                    .map { String(decoding: try! JSONSerialization.data(withJSONObject: $0), as: UTF8.self) }
                let lines = ndjson[0] + "\r\n\n   \n" + ndjson[1] + "\n"
                let sent = try await api.call(.post, "/api/v1/logs", token: world.token, body: lines, contentType: "application/x-ndjson")
                #expect(sent.status == 202 && sent["ids"] as? [String] == ["n-1", "n-2"], "\(sent.json)")

                let all = Set(ids + ["n-1", "n-2"])
                try await eventually(timeout: .seconds(30), "the five entries are stored") {
                    Set(try await api.logIDs(world.token)) == all
                }
                let reply = try await api.call(.get, "/api/v1/logs", token: world.token)
                for item in reply.items {
                    let source = try #require(item["source"] as? [String: Any])
                    #expect((source["tenant_id"] as? String)?.lowercased() == world.tenantID.lowercased(), "\(item)")
                    #expect((source["project_id"] as? String)?.lowercased() == world.projectID.lowercased(), "\(item)")
                    #expect(item["@context"] as? String == "https://flukebase.me/schemas/unified-log")
                }
            }
        }
    }

    @Test("a bad entry refuses the whole batch naming [index].field (422), a line that is not JSON names [index] (400); too many entries, an empty batch, another media type and a body over the limit are refused; nothing of a refused batch is ever stored")
    func allOrNothing() async throws {
        let h = try await LogsHarness()
        try await h.withProjectManager { pm in
            let world = try await LogsHarness.world(pm)
            try await h.withLogStreamer(["LOGS_MAX_BATCH_ENTRIES": "5", "LOGS_MAX_BODY_BYTES": "4096"]) { api, _ in
                func entries(_ prefix: String) -> [[String: Any]] { (0..<3).map { LogsHarness.entry("\(prefix)-\($0)") } }
                var badLevel = entries("level"); badLevel[2]["level"] = "loud"
                var badDeployment = entries("deploy")
                badDeployment[1]["flukedeploy_metadata"] = ["app_name": "api", "deployment_id": "nope"]
                var unknown = entries("unknown"); unknown[0]["colour"] = "red"
                var repeated = entries("repeat"); repeated[1]["id"] = "repeat-0"
                var old = entries("old"); old[1]["timestamp"] = RFC3339.format(Date().addingTimeInterval(-15 * 86_400))
                var noSource = entries("nosource"); noSource[2].removeValue(forKey: "source")
                var badApp = entries("app"); badApp[0]["flukedeploy_metadata"] = ["app_name": "my.app"]
                var nul = entries("nul"); nul[1]["message"] = "a\u{0}b"
                var badTrace = entries("trace"); badTrace[1]["trace_id"] = "not-hex"
                var badAttribute = entries("attr"); badAttribute[2]["attributes"] = ["order": ["note": "a\u{0}b"]]
                for (batch, field) in [(badLevel, "[2].level"), (badDeployment, "[1].flukedeploy_metadata.deployment_id"),
                                       (unknown, "[0].colour"), (repeated, "[1].id"), (old, "[1].timestamp"),
                                       (noSource, "[2].source"), (badApp, "[0].flukedeploy_metadata.app_name"),
                                       (nul, "[1].message"), (badTrace, "[1].trace_id"),
                                       (badAttribute, "[2].attributes.order.note")] {
                    let reply = try await api.postLogs(world.token, batch)
                    #expect(reply.status == 422 && reply.string("field") == field, "\(field): \(reply.status) \(reply.json)")
                }
                let good = String(decoding: try JSONSerialization.data(withJSONObject: LogsHarness.entry("line-0")), as: UTF8.self)
                let badLine = try await api.call(.post, "/api/v1/logs", token: world.token, body: good + "\n{\"id\": \n",
                                                 contentType: "application/x-ndjson")
                #expect(badLine.status == 400 && badLine.string("field") == "[1]", "\(badLine.json)")
                let tooMany = try await api.postLogs(world.token, (0..<6).map { LogsHarness.entry("many-\($0)") })
                #expect(tooMany.status == 422 && tooMany.string("field") == "body", "\(tooMany.json)")
                let empty = try await api.postLogs(world.token, [])
                #expect(empty.status == 422 && empty.string("field") == "body")
                let notArray = try await api.call(.post, "/api/v1/logs", token: world.token, json: LogsHarness.entry("object-0"))
                #expect(notArray.status == 400)
                let text = try await api.call(.post, "/api/v1/logs", token: world.token, body: good, contentType: "text/plain")
                #expect(text.status == 415)
                let big = try await api.postLogs(world.token, [LogsHarness.entry("big-0", message: String(repeating: "x", count: 5000))])
                #expect(big.status == 413, "\(big.json)")

                // A good batch after them all is stored; none of the refused ones ever is.
                let accepted = try await api.postLogs(world.token, [LogsHarness.entry("good-0"), LogsHarness.entry("good-1")])
                #expect(accepted.status == 202)
                try await eventually(timeout: .seconds(30), "the good batch is stored") {
                    Set(try await api.logIDs(world.token)) == ["good-0", "good-1"]
                }
            }
            let (stored, queued) = try await h.database.withAdminClient { admin in
                (try await admin.query("SELECT count(*) FROM logs.entries").first!.decode(Int.self, at: 0),
                 try await admin.query("SELECT count(*) FROM logs.outbox").first!.decode(Int.self, at: 0))
            }
            #expect(stored == 2 && queued == 2, "stored \(stored), in the outbox \(queued)")
        }
    }

    @Test("POST needs logs:write and GET logs:read: 403 with the other scope only, 401 without a token")
    func scopes() async throws {
        let h = try await LogsHarness()
        try await h.withProjectManager { pm in
            let reader = try await LogsHarness.world(pm, scopes: ["logs:read"])
            let writer = try await TenantWorld.make(pm, scopes: ["logs:write"], tokenName: "writer")
            try await h.withLogStreamer { api, _ in
                #expect(try await api.postLogs(reader.token, [LogsHarness.entry("r-0")]).status == 403)
                #expect(try await api.call(.get, "/api/v1/logs", token: writer.token).status == 403)
                #expect(try await api.call(.get, "/api/v1/logs").status == 401)
                #expect(try await api.postLogs(writer.token, [LogsHarness.entry("w-0")]).status == 202)
                // The writer's owner (every scope) reads it back.
                try await eventually(timeout: .seconds(30), "the writer's entry is stored") {
                    try await api.logIDs(writer.ownerToken) == ["w-0"]
                }
            }
        }
    }
}
