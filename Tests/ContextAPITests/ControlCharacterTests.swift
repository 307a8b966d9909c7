import FlukeTestSupport
import Foundation
import HTTPTypes
import Testing

@Suite("context-api: control characters in input", .needsPostgresAndNATS)
struct ControlCharacterTests {
    @Test("a NUL or other control character in any string, array element, nested value or query parameter is 422 naming the field, and changes nothing")
    func refused() async throws {
        let h = try await ContextHarness()
        try await h.withProjectManager { pm in
            let w = try await ContextHarness.world(pm)
            try await h.withContextAPI { api, _ in
                _ = try await api.context(w.token)
                func expect422(_ reply: Reply, _ field: String, sourceLocation: SourceLocation = #_sourceLocation) {
                    #expect(reply.status == 422 && reply.string("field") == field, "\(reply.status) \(reply.json)",
                            sourceLocation: sourceLocation)
                    #expect(reply.headers[.contentType] == "application/problem+json", sourceLocation: sourceLocation)
                }
                // An AI provider's tools (a NUL here was a 500).
                let docs = "https://docs.example.com/acme"
                expect422(try await api.call(.put, "/api/v1/ai_providers/acme", token: w.ownerToken,
                                             json: ["tools": ["acme-cli", "bad\u{0}tool"], "docs_url": docs]), "tools[1]")
                expect422(try await api.call(.put, "/api/v1/ai_providers/acme", token: w.ownerToken,
                                             json: ["tools": ["acme\u{1B}[31m"], "docs_url": docs]), "tools[0]")
                expect422(try await api.call(.put, "/api/v1/ai_providers/acme", token: w.ownerToken,
                                             json: ["display_name": "Acme\u{7F}", "docs_url": docs]), "display_name")
                let providers = try await api.call(.get, "/api/v1/ai_providers", token: w.ownerToken)
                #expect(!providers.items.contains { $0["name"] as? String == "acme" })

                // Memories: free text keeps tab, CR and LF; anything else is refused, tags included.
                let memories = "/api/v1/flukebase_connect/memories"
                expect422(try await api.call(.post, memories, token: w.token, json: [
                    "external_id": UUID().uuidString, "memory_type": "convention", "content": "before\u{0}after"]), "content")
                expect422(try await api.call(.post, memories, token: w.token, json: [
                    "external_id": UUID().uuidString, "memory_type": "convention", "content": "ok", "tags": ["fine", "bell\u{7}"]]),
                    "tags[1]")
                #expect(try await api.call(.get, memories, token: w.token).items.isEmpty)
                let multiline = try await api.call(.post, memories, token: w.token, json: [
                    "external_id": UUID().uuidString, "memory_type": "convention", "content": "line one\r\nline\ttwo"])
                #expect(multiline.status == 201 && multiline.string("content") == "line one\r\nline\ttwo", "\(multiline.json)")

                // Env values and MCP settings (free-form JSON) alike.
                expect422(try await api.call(.put, "/api/v1/projects/\(w.projectID)/env/API_URL", token: w.token,
                                             json: ["value": "https://x\u{0}.example.com"]), "value")
                #expect(try await api.call(.get, "/api/v1/projects/\(w.projectID)/env", token: w.token).items.isEmpty)
                expect422(try await api.call(.put, "/api/v1/projects/\(w.projectID)/mcp_configuration", token: w.token,
                                             json: ["plugin_settings": ["github": ["repos": ["a/b", "c\u{0}d"]]]]),
                          "plugin_settings.github.repos[1]")

                // Query parameters: a NUL would reach Postgres as a parameter.
                expect422(try await api.call(.get, memories + "?q=a%00b", token: w.token), "q")
                expect422(try await api.call(.get, memories + "?tag=%1B", token: w.token), "tag")
                #expect(try await api.call(.get, memories + "?q=line%09two", token: w.token).items.count == 1)
            }
        }
    }
}
