@testable import ContextAPI
import FlukeTestSupport
import Foundation
import Testing

@Suite("context-api: a token bound to a project reaches only that project", .needsPostgresAndNATS)
struct ContextProjectBoundTests {
    @Test("a project-bound admin token gets 403 on tenant presets and registry edits, and keeps its project's routes")
    func tenantWideRoutes() async throws {
        let h = try await ContextHarness()
        try await h.withProjectManager { pm in
            let w = try await ContextHarness.world(pm, scopes: ["admin", "context:read", "context:write", "memories:write"])
            try await h.withContextAPI { api, _ in
                _ = try await api.context(w.token)
                let preset: [String: Any] = ["name": "backend", "enabled_plugins": ["github"]]
                let created = try await api.call(.post, "/api/v1/mcp/presets", token: w.ownerToken, json: preset)
                let id = try #require(created.string("id"))
                let routes: [(String, String, [String: Any]?)] = [
                    ("GET", "/api/v1/mcp/presets", nil),
                    ("POST", "/api/v1/mcp/presets", ["name": "escape"]),
                    ("GET", "/api/v1/mcp/presets/\(id)", nil),
                    ("PATCH", "/api/v1/mcp/presets/\(id)", ["context_level": "full"]),
                    ("DELETE", "/api/v1/mcp/presets/\(id)", nil),
                    ("PUT", "/api/v1/ai_providers/escape", ["docs_url": "https://example.com/docs"]),
                    ("DELETE", "/api/v1/ai_providers/escape", nil),
                    ("POST", "/api/v1/ai_providers/audit", nil),
                    ("GET", "/api/v1/ai_providers", nil),
                    ("GET", "/api/v1/ai_providers/status", nil),
                ]
                for (method, uri, body) in routes {
                    let r = try await api.call(.init(method)!, uri, token: w.token, json: body)
                    #expect(r.status == 403, "\(method) \(uri) → \(r.status) \(r.json)")
                    #expect(r.headers[.contentType] == "application/problem+json", "\(method) \(uri)")
                    #expect(r.string("project_id") == w.projectID, "\(method) \(uri)")
                }
                // Nothing changed: the preset is as it was and the registry has no new entry.
                let presets = try await api.call(.get, "/api/v1/mcp/presets", token: w.ownerToken)
                #expect(presets.items.count == 1 && presets.items.first?["context_level"] as? String == "standard")
                let providers = try await api.call(.get, "/api/v1/ai_providers", token: w.ownerToken)
                #expect(providers.status == 200 && !providers.items.contains { $0["name"] as? String == "escape" })
                // Its project stays open, including applying a preset to it.
                #expect(try await api.call(.get, "/api/v1/mcp/plugins", token: w.token).status == 200)
                #expect(try await api.call(.get, "/api/v1/projects/\(w.projectID)/mcp_configuration", token: w.token).status == 200)
                let applied = try await api.call(.post, "/api/v1/mcp/presets/\(id)/apply", token: w.token,
                                                 json: ["project_id": w.projectID])
                #expect(applied.status == 200 && applied.string("preset") == "backend")
            }
        }
    }
}
