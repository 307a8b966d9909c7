import FlukeTestSupport
import Foundation
import HTTPTypes
import Testing

/// Read, modify, write back: every PUT accepts the object exactly as its GET returned it, with
/// the fields a client cannot change left as they were; a changed one is 422 naming it.
@Suite("context-api: PUT round trips", .needsPostgresAndNATS)
struct RoundTripTests {
    /// `object` as the GET returned it, with `changes` applied.
    static func modified(_ object: [String: Any], _ changes: [String: Any]) -> [String: Any] {
        object.merging(changes) { _, new in new }
    }

    @Test("env vars, memories, the MCP configuration and AI providers take their GET representation back")
    func roundTrips() async throws {
        let h = try await ContextHarness()
        try await h.withProjectManager { pm in
            let w = try await ContextHarness.world(pm)
            try await h.withContextAPI { api, _ in
                _ = try await api.context(w.token)

                // Env var (the token has secrets:read, so the value is shown).
                let envPath = "/api/v1/projects/\(w.projectID)/env"
                #expect(try await api.call(.put, envPath + "/API_URL", token: w.token,
                                           json: ["value": "https://a.example.com", "environment": "staging"]).status == 201)
                let variable = try #require(try await api.call(.get, envPath + "?environment=staging", token: w.token).items.first)
                let envPut = try await api.call(.put, envPath + "/API_URL", token: w.token,
                                                json: Self.modified(variable, ["value": "https://b.example.com"]))
                #expect(envPut.status == 200 && envPut.string("value") == "https://b.example.com", "\(envPut.json)")
                let renamed = try await api.call(.put, envPath + "/API_URL", token: w.token, json: Self.modified(variable, ["key": "OTHER"]))
                #expect(renamed.status == 422 && renamed.string("field") == "key", "\(renamed.json)")
                let masked = try await api.call(.put, envPath + "/API_URL", token: w.token, json: Self.modified(variable, ["masked": true]))
                #expect(masked.status == 422 && masked.string("field") == "masked", "\(masked.json)")
                let stored = try await api.call(.get, envPath + "?environment=staging", token: w.token).items
                #expect(stored.count == 1 && stored.first?["value"] as? String == "https://b.example.com")

                // Memory.
                let memories = "/api/v1/flukebase_connect/memories"
                let created = try await api.call(.post, memories, token: w.token, json: [
                    "external_id": UUID().uuidString, "memory_type": "convention", "content": "Tabs", "tags": ["style"]])
                let id = try #require(created.string("id"))
                let memory = try await api.call(.get, "\(memories)/\(id)", token: w.token).json
                let memoryPut = try await api.call(.put, "\(memories)/\(id)", token: w.token,
                                                   json: Self.modified(memory, ["content": "Spaces"]))
                #expect(memoryPut.status == 200 && memoryPut.string("content") == "Spaces", "\(memoryPut.json)")
                #expect(memoryPut.headers[.init("Fluke-Conflict")!] == nil)
                let current = try await api.call(.get, "\(memories)/\(id)", token: w.token).json
                for (field, value) in [("external_id", UUID().uuidString), ("id", UUID().uuidString),
                                       ("project_id", UUID().uuidString), ("created_at", "2001-01-01T00:00:00.000Z")] {
                    let changed = try await api.call(.put, "\(memories)/\(id)", token: w.token,
                                                     json: Self.modified(current, [field: value, "content": "Changed"]))
                    #expect(changed.status == 422 && changed.string("field") == field, "\(field): \(changed.json)")
                }
                #expect(try await api.call(.get, "\(memories)/\(id)", token: w.token).string("content") == "Spaces")

                // MCP configuration.
                let mcpPath = "/api/v1/projects/\(w.projectID)/mcp_configuration"
                let configuration = try await api.call(.get, mcpPath, token: w.token).json
                let mcpPut = try await api.call(.put, mcpPath, token: w.token, json: Self.modified(configuration, ["context_level": "full"]))
                #expect(mcpPut.status == 200 && mcpPut.string("context_level") == "full", "\(mcpPut.json)")

                // AI provider (admins).
                #expect(try await api.call(.put, "/api/v1/ai_providers/acme", token: w.ownerToken,
                                           json: ["display_name": "Acme", "tools": ["acme-cli"], "docs_url": "https://docs.example.com/acme"]).status == 201)
                let provider = try #require(try await api.call(.get, "/api/v1/ai_providers", token: w.ownerToken).items
                    .first { $0["name"] as? String == "acme" })
                let providerPut = try await api.call(.put, "/api/v1/ai_providers/acme", token: w.ownerToken,
                                                     json: Self.modified(provider, ["display_name": "Acme AI"]))
                #expect(providerPut.status == 200 && providerPut.string("display_name") == "Acme AI", "\(providerPut.json)")
                let moved = try await api.call(.put, "/api/v1/ai_providers/acme", token: w.ownerToken,
                                               json: Self.modified(provider, ["name": "other"]))
                #expect(moved.status == 422 && moved.string("field") == "name", "\(moved.json)")
            }
        }
    }
}
