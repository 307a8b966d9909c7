@testable import ContextAPI
import FlukeModels
import FlukeRuntime
import FlukeTestSupport
import Foundation
import HTTPTypes
import Testing

@Suite("context-api: the cached context answered before the router", .needsPostgresAndNATS)
struct ContextFastPathTests {
    @Test("a cached context is answered before the router exactly as the router answers it; writes, secrets and queries still go through the router")
    func fastPath() async throws {
        let h = try await ContextHarness()
        try await h.withProjectManager { pm in
            let w = try await ContextHarness.world(pm)
            try await h.withContextAPI { api, parts in
                let path = "/api/v1/flukebase_connect/context"
                func fast() async throws -> Double { try await api.metric("context_fast_path_responses_total") ?? 0 }
                let client: HTTPFields = [HTTPField.Name("X-Fluke-Client-Id")!: "fast-1", .userAgent: "flukebase-connect/2.0.1"]
                // The project's team and milestone reach context-api's replica first.
                try await eventually("team and milestone replicated") {
                    let c = try await api.call(.get, path + "?context_level=standard", token: w.token)
                    return (c["team_members"] as? [[String: Any]])?.isEmpty == false && (c["milestones"] as? [[String: Any]])?.isEmpty == false
                }
                #expect(try await fast() == 0, "a query goes to the router")
                let first = try await api.call(.get, path, token: w.token)
                try #require(first.status == 200)
                #expect(try await fast() == 0, "the first fetch fills the cache through the router")

                var probe = client
                probe[.requestID] = "probe-1"
                let second = try await api.call(.get, path, token: w.token, headers: probe)
                #expect(try await fast() == 1)
                #expect(second.status == 200 && second.body == first.body)
                for name in [HTTPField.Name.eTag, .cacheControl, .contentType] {
                    #expect(second.headers[name] == first.headers[name], "\(name)")
                }
                #expect(second.headers[.requestID] == "probe-1")
                let etag = try #require(second.headers[.eTag])
                var conditional = client
                conditional[.ifNoneMatch] = etag
                let notModified = try await api.call(.get, path, token: w.token, headers: conditional)
                #expect(notModified.status == 304 && notModified.body.isEmpty && notModified.headers[.eTag] == etag)
                #expect(try await fast() == 2)
                #expect(try await api.metric("http_requests_total{method=\"GET\",route=\"\(path)\",status=\"304\"}") == 1)

                // The fetches count for the installation like any other (the recorder's own flush
                // may be writing them at this moment: hence eventually).
                try await eventually("both fetches counted for the installation") {
                    try await parts.usage.flush()
                    let installs = try await api.call(.get, "/api/v1/projects/\(w.projectID)/installations", token: w.token)
                    let install = installs.items.first { $0["client_id"] as? String == "fast-1" }
                    return install?["context_fetches"] as? Int == 2 && install?["version"] as? String == "2.0.1"
                }

                // A write is seen at once: it empties the cache, the router answers, then the cache again.
                #expect(try await api.call(.put, "/api/v1/projects/\(w.projectID)/env/API_URL", token: w.token,
                                           json: ["value": "https://api.example.com"]).status == 201)
                let changed = try await api.call(.get, path, token: w.token, headers: conditional)
                #expect(changed.status == 200 && changed.headers[.eTag] != etag)
                // (The write's event, when context-api's replica takes it in, empties the cache again.)
                try await eventually("the new context is answered from the cache") {
                    let before = try await fast()
                    let c = try await api.call(.get, path, token: w.token)
                    let after = try await fast()
                    return c.body == changed.body && after == before + 1
                }

                // Queries and unknown tokens go to the router.
                let served = try await fast()
                _ = try await api.call(.get, path + "?context_level=minimal", token: w.token)
                #expect(try await api.call(.get, path, token: "fbk_unknown").status == 401)
                #expect(try await fast() == served)

                // A context revealing a secret logs every read: always the router's work.
                #expect(try await api.call(.put, "/api/v1/projects/\(w.projectID)/env/DB_PASSWORD", token: w.token,
                                           json: ["value": "very-secret-1", "secret": true]).status == 201)
                for _ in 0..<3 { #expect(try await api.call(.get, path, token: w.token).status == 200) }
                #expect(try await fast() == served)
                let log = try await api.call(.get, "/api/v1/projects/\(w.projectID)/env/access-log", token: w.token)
                #expect(log.items.filter { $0["key"] as? String == "DB_PASSWORD" }.count == 3)
            }
        }
    }
}
