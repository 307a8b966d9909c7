@testable import ContextAPI
import FlukeModels
import FlukeRuntime
import FlukeTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Testing

@Suite("context-api: MCP configuration, AI providers, usage", .needsPostgresAndNATS)
struct MCPAndUsageTests {
    @Test("MCP configuration is validated against each plugin's schema, changes the context, and emits mcp.config_changed")
    func mcpConfiguration() async throws {
        let h = try await ContextHarness()
        try await h.withProjectManager { pm in
            let w = try await ContextHarness.world(pm)
            try await h.withContextAPI { api, _ in
                let events = try await EventCollector(natsURL: h.nats.url, filter: "fluke.events.mcp.config_changed")
                let before = try await api.context(w.token)
                let plugins = try await api.call(.get, "/api/v1/mcp/plugins", token: w.token)
                #expect(Set(plugins.items.compactMap { $0["name"] as? String }) == ["filesystem", "flukebase-connect", "github", "sentry"])
                let uri = "/api/v1/projects/\(w.projectID)/mcp_configuration"
                let good: [String: Any] = [
                    "preset": "development", "enabled_plugins": ["flukebase-connect", "github"], "context_level": "full",
                    "plugin_settings": ["flukebase-connect": ["auto_sync": true, "memory_sync": true],
                                        "github": ["repos": ["org/repo"], "auto_pr": true]],
                ]
                let put = try await api.call(.put, uri, token: w.token, json: good)
                #expect(put.status == 200 && put.string("context_level") == "full")
                let after = try await api.call(.get, "/api/v1/flukebase_connect/context", token: w.token)
                #expect(after.headers[.eTag] != before.headers[.eTag])
                let mcp = try #require(after["mcp_configuration"] as? [String: Any])
                #expect(mcp["enabled_plugins"] as? [String] == ["flukebase-connect", "github"] && mcp["preset"] as? String == "development")
                #expect(after["memories"] != nil)  // full level includes memories
                let cases: [([String: Any], String)] = [
                    (["enabled_plugins": ["github", "jira"]], "enabled_plugins[1]"),
                    (["enabled_plugins": ["github"], "plugin_settings": ["sentry": ["organization": "o"]]], "plugin_settings.sentry"),
                    (["enabled_plugins": ["github"], "plugin_settings": ["github": ["repos": [42]]]], "plugin_settings.github.repos[0]"),
                    (["enabled_plugins": ["github"], "plugin_settings": ["github": ["colour": "red"]]], "plugin_settings.github.colour"),
                    (["enabled_plugins": ["sentry"], "plugin_settings": ["sentry": [:] as [String: Any]]], "plugin_settings.sentry.organization"),
                    (["enabled_plugins": ["flukebase-connect"], "plugin_settings": ["flukebase-connect": ["sync_interval_seconds": 1]]],
                     "plugin_settings.flukebase-connect.sync_interval_seconds"),
                    (["context_level": "everything"], "context_level"),
                ]
                for (body, field) in cases {
                    let r = try await api.call(.put, uri, token: w.token, json: body)
                    #expect(r.status == 422 && r.string("field") == field, "\(body) → \(r.json)")
                }
                #expect(try await api.call(.get, uri, token: w.token).string("context_level") == "full")
                let received = try await events.collect(count: 1, window: .seconds(5))
                #expect(received.count == 1 && received.first?.projectid == w.projectID)
                #expect(received.first?.data["enabled_plugins"] == .array([.string("flukebase-connect"), .string("github")]))
                let feed = try await api.call(.get, "/api/v1/flukebase_connect/changes", token: w.token)
                #expect(feed.items.contains { $0["entity"] as? String == "mcp_configuration" })
                await events.close()
            }
        }
    }

    @Test("team presets: admins manage them per tenant; applying one sets a project's configuration")
    func presets() async throws {
        let h = try await ContextHarness()
        try await h.withProjectManager { pm in
            let w = try await ContextHarness.world(pm)
            let other = try await ContextHarness.world(pm, tenant: "Other")
            try await h.withContextAPI { api, _ in
                _ = try await api.context(w.token)
                let body: [String: Any] = ["name": "backend", "enabled_plugins": ["sentry"], "context_level": "minimal",
                                           "plugin_settings": ["sentry": ["organization": "acme"]]]
                #expect(try await api.call(.post, "/api/v1/mcp/presets", token: w.token, json: body).status == 403)
                let created = try await api.call(.post, "/api/v1/mcp/presets", token: w.ownerToken, json: body)
                #expect(created.status == 201)
                let id = try #require(created.string("id"))
                #expect(try await api.call(.post, "/api/v1/mcp/presets", token: w.ownerToken, json: body).status == 409)
                let patched = try await api.call(.patch, "/api/v1/mcp/presets/\(id)", token: w.ownerToken, json: ["context_level": "standard"])
                #expect(patched.string("context_level") == "standard" && patched.string("name") == "backend")
                #expect(try await api.call(.get, "/api/v1/mcp/presets/\(id)", token: other.ownerToken).status == 404)
                #expect(try await api.call(.get, "/api/v1/mcp/presets", token: other.ownerToken).items.isEmpty)
                let applied = try await api.call(.post, "/api/v1/mcp/presets/\(id)/apply", token: w.token, json: ["project_id": w.projectID])
                #expect(applied.status == 200 && applied.string("preset") == "backend")
                let ctx = try await api.call(.get, "/api/v1/flukebase_connect/context", token: w.token)
                #expect((ctx["mcp_configuration"] as? [String: Any])?["enabled_plugins"] as? [String] == ["sentry"])
                #expect(try await api.call(.post, "/api/v1/mcp/presets/\(id)/apply", token: other.token,
                                           json: ["project_id": other.projectID]).status == 404)
                #expect(try await api.call(.delete, "/api/v1/mcp/presets/\(id)", token: w.ownerToken).status == 204)
            }
        }
    }

    @Test("the AI provider registry is seeded, admins edit it, and the audit records each docs URL's answer")
    func providers() async throws {
        let h = try await ContextHarness()
        let port = freePort()
        let router = Router()
        router.head("/docs/ok") { _, _ in HTTPResponse.Status.ok }
        router.get("/docs/ok") { _, _ in "documentation" }
        let docs = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)),
                               logger: Logger(label: "fake-docs"))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await docs.runService() }
            try await h.withProjectManager { pm in
                let w = try await ContextHarness.world(pm)
                try await h.withContextAPI { api, _ in
                    _ = try await api.context(w.token)
                    let seeded = try await api.call(.get, "/api/v1/ai_providers", token: w.ownerToken)
                    let anthropic = try #require(seeded.items.first { $0["name"] as? String == "anthropic" })
                    #expect(anthropic["tools"] as? [String] == ["claude-code", "claude-desktop"])
                    #expect(try await api.call(.put, "/api/v1/ai_providers/acme", token: w.token,
                                               json: ["docs_url": "http://127.0.0.1:\(port)/docs/ok"]).status == 403)
                    let up = try await api.call(.put, "/api/v1/ai_providers/acme", token: w.ownerToken,
                                                json: ["display_name": "Acme AI", "tools": ["acme-cli"],
                                                       "docs_url": "http://127.0.0.1:\(port)/docs/ok"])
                    #expect(up.status == 201)
                    _ = try await api.call(.put, "/api/v1/ai_providers/broken", token: w.ownerToken,
                                           json: ["docs_url": "http://127.0.0.1:\(port)/docs/missing"])
                    let bad = try await api.call(.put, "/api/v1/ai_providers/x", token: w.ownerToken, json: ["docs_url": "ftp://x"])
                    #expect(bad.status == 422 && bad.string("field") == "docs_url")
                    // 202 while the scheduled startup audit (of the seeded, unreachable URLs) still
                    // holds the audit lease; 200 with this round's results once it is this one's turn.
                    try await eventually(timeout: .seconds(60), "a requested audit that ran") {
                        try await api.call(.post, "/api/v1/ai_providers/audit", token: w.ownerToken).status == 200
                    }
                    let status = try await api.call(.get, "/api/v1/ai_providers/status", token: w.ownerToken)
                    let acme = try #require(status.items.first { $0["name"] as? String == "acme" })
                    let broken = try #require(status.items.first { $0["name"] as? String == "broken" })
                    #expect(acme["status"] as? String == "ok" && acme["last_audit"] as? String != nil)
                    #expect(broken["status"] as? String == "failed" && (broken["detail"] as? String)?.contains("404") == true)
                }
            }
            group.cancelAll()
        }
    }

    @Test("each context fetch and memory sync is counted per client installation and per day")
    func usage() async throws {
        let h = try await ContextHarness()
        try await h.withProjectManager { pm in
            let w = try await ContextHarness.world(pm)
            try await h.withContextAPI { api, parts in
                _ = try await api.context(w.token)
                let client: HTTPFields = [HTTPField.Name("X-Fluke-Client-Id")!: "laptop-1", .userAgent: "flukebase-connect/1.4.2 (linux)"]
                for _ in 0..<2 { _ = try await api.call(.get, "/api/v1/flukebase_connect/context", token: w.token, headers: client) }
                _ = try await api.call(.post, "/api/v1/flukebase_connect/memories", token: w.token,
                                       json: ["external_id": UUID().uuidString, "memory_type": "fact", "content": "x"], headers: client)
                // The recorder's own flush may be writing them at this moment: hence eventually.
                try await eventually("the fetches and the sync are counted") {
                    try await parts.usage.flush()
                    let installs = try await api.call(.get, "/api/v1/projects/\(w.projectID)/installations", token: w.token)
                    let laptop = installs.items.first { $0["client_id"] as? String == "laptop-1" }
                    return laptop?["context_fetches"] as? Int == 2 && laptop?["memory_syncs"] as? Int == 1
                }
                let installs = try await api.call(.get, "/api/v1/projects/\(w.projectID)/installations", token: w.token)
                let laptop = try #require(installs.items.first { $0["client_id"] as? String == "laptop-1" })
                #expect(laptop["version"] as? String == "1.4.2" && laptop["context_fetches"] as? Int == 2)
                #expect(laptop["memory_syncs"] as? Int == 1 && laptop["last_sync_at"] as? String != nil)
                let usage = try await api.call(.get, "/api/v1/projects/\(w.projectID)/usage", token: w.token)
                let today = try #require((usage["days"] as? [[String: Any]])?.first)
                #expect((today["context_fetches"] as? Int ?? 0) >= 3 && today["memory_syncs"] as? Int == 1)
            }
        }
    }
}

@Suite("context-api documents", .needsPostgresAndNATS)
struct ContextDocumentTests {
    @Test("the OpenAPI document lists exactly the routes served")
    func openAPI() async throws {
        let h = try await ContextHarness()
        try await h.withContextAPI { api, parts in
            let served = try await expectOpenAPIDocumentsExactlyServedRoutes(api.client, routes: parts.routes)
            #expect(served.count == 33)
        }
    }
}
