import FlukeTestSupport
import Foundation
import Testing

/// Coder workspaces through a Coder connection (a fake Coder speaking its wire format): listed,
/// started and stopped, linked to a project, their status kept by the refresh and shown in the
/// project's status and the overview.
@Suite("project-manager: Coder workspaces", .needsPostgresAndNATS)
struct WorkspaceTests {
    static let session = ConnectionTests.session

    @Test("list the owner's workspaces, link two, start one; failing agents and a deleted workspace show in status and overview")
    func workspaces() async throws {
        let web = FakeCoder.Workspace(name: "web-dev", owner: "dev")
        let api = FakeCoder.Workspace(name: "api-dev", owner: "dev", status: "stopped", transition: "stop")
        let others = FakeCoder.Workspace(name: "alice-box", owner: "alice")
        let coder = FakeCoder(tokens: [Self.session: "dev"], workspaces: [web, api, others])
        try await coder.run { coderURL in
            let h = try await PMHarness([
                "FLUKE_ENCRYPTION_KEY": "k1:\(Data((0..<32).map { UInt8($0) }).base64EncodedString())",
                "PM_CONNECTIONS_ALLOW_HTTP": "true", "PM_CONNECTIONS_ALLOWED_HOSTS": "127.0.0.1", "PM_CODER_REFRESH_INTERVAL": "1"])
            try await h.run { c, _ in
                let owner = try await c.signup()
                let admin = owner.accessToken
                let project = try await c.createProject(admin, name: "Shop")
                let connection = try #require(try await c.call(.post, "/api/v1/connections/coder", token: admin,
                                                               json: ["url": coderURL, "token": Self.session]).string("id"))

                let listed = try await c.call(.get, "/api/v1/connections/coder/workspaces", token: admin)
                #expect(listed.status == 200, "\(listed.json)")
                #expect(Set(listed.items.compactMap { $0["name"] as? String }) == ["web-dev", "api-dev"], "owner:me only")
                let listedWeb = try #require(listed.items.first { $0["name"] as? String == "web-dev" })
                #expect(listedWeb["status"] as? String == "running" && listedWeb["healthy"] as? Bool == true)
                #expect(listedWeb["url"] as? String == "\(coderURL)/@dev/web-dev" && listedWeb["template"] as? String == "Docker")

                let path = "/api/v1/projects/\(project)/workspaces"
                for (ids, field) in [([web.id.uuidString, UUID().uuidString], "workspace_ids[1]"), (["nope"], "workspace_ids[0]")] {
                    let r = try await c.call(.put, path, token: admin, json: ["connection_id": connection, "workspace_ids": ids])
                    #expect(r.status == 422 && r.string("field") == field, "\(ids) → \(r.json)")
                }
                #expect(try await c.call(.get, path, token: admin).items.isEmpty, "a refused link links nothing")
                let linked = try await c.call(.put, path, token: admin,
                                              json: ["connection_id": connection, "workspace_ids": [web.id.uuidString, api.id.uuidString]])
                #expect(linked.status == 200 && linked.items.count == 2, "\(linked.json)")

                // Start the stopped one: Coder gets a start build; the refresh sees it running.
                let bad = try await c.call(.post, "/api/v1/connections/coder/workspaces/\(api.id.uuidString)/builds", token: admin,
                                           json: ["transition": "explode"])
                #expect(bad.status == 422 && bad.string("field") == "transition")
                let started = try await c.call(.post, "/api/v1/connections/coder/workspaces/\(api.id.uuidString)/builds", token: admin,
                                               json: ["transition": "start"])
                #expect(started.status == 202 && started.string("status") == "pending", "\(started.json)")
                #expect(coder.requestedBuilds.map(\.1) == ["start"])
                try await eventually(timeout: .seconds(20), "api-dev running in the project's workspaces") {
                    try await c.call(.get, path, token: admin).items.first { $0["name"] as? String == "api-dev" }?["status"] as? String == "running"
                }

                // Agents failing in web-dev: the status and the overview say so; then it is deleted in Coder.
                var sick = web
                sick.healthy = false
                coder.put(sick)
                var overview: [String: Any] = [:]
                try await eventually(timeout: .seconds(20), "the failing workspace in the overview") {
                    overview = try await c.call(.get, "/api/v1/overview", token: admin).json
                    return (overview["attention"] as? [[String: Any]] ?? []).contains { $0["kind"] as? String == "workspace_failing" }
                }
                let item = try #require((overview["attention"] as? [[String: Any]])?.first { $0["kind"] as? String == "workspace_failing" })
                #expect(item["project_name"] as? String == "Shop" && (item["detail"] as? String)?.contains("web-dev") == true)
                let status = try await c.call(.get, "/api/v1/projects/\(project)/status", token: admin)
                let part = try #require(status["workspaces"] as? [String: Any], "\(status.json)")
                #expect(part["stale"] as? Bool == false && (part["items"] as? [[String: Any]])?.count == 2)
                coder.remove(web.id)
                try await eventually(timeout: .seconds(20), "web-dev deleted") {
                    try await c.call(.get, path, token: admin).items.first { $0["name"] as? String == "web-dev" }?["status"] as? String == "deleted"
                }

                // Another tenant sees none of it; unlinking all leaves none.
                let stranger = try await c.signup()
                #expect(try await c.call(.get, path, token: stranger.accessToken).status == 404)
                #expect(try await c.call(.put, path, token: stranger.accessToken,
                                         json: ["connection_id": connection, "workspace_ids": [] as [String]]).status != 200)
                let none = try await c.call(.put, path, token: admin, json: ["connection_id": connection, "workspace_ids": [] as [String]])
                #expect(none.status == 200 && none.items.isEmpty)
            }
        }
    }
}
