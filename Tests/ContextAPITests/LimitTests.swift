@testable import ContextAPI
import FlukeModels
import FlukeNATS
import FlukeTestSupport
import Foundation
import HTTPTypes
import NIOCore
import Testing

@Suite("context-api: per-project limits", .needsPostgresAndNATS)
struct LimitTests {
    @Test("env vars, memories and client installations stop at their per-project limits with a clear 409; what exists still changes")
    func perProject() async throws {
        let h = try await ContextHarness()
        try await h.withProjectManager { pm in
            let w = try await ContextHarness.world(pm)
            let limits = ["CONTEXT_MAX_ENV_VARS_PER_PROJECT": "3", "CONTEXT_MAX_MEMORIES_PER_PROJECT": "2",
                          "CONTEXT_MAX_INSTALLATIONS_PER_PROJECT": "3"]
            try await h.withContextAPI(limits) { api, parts in
                _ = try await api.context(w.token)
                func expectLimit(_ reply: Reply, _ variable: String, sourceLocation: SourceLocation = #_sourceLocation) {
                    #expect(reply.status == 409 && reply.headers[.contentType] == "application/problem+json",
                            "\(reply.status) \(reply.json)", sourceLocation: sourceLocation)
                    #expect((reply.string("detail") ?? "").contains(variable), sourceLocation: sourceLocation)
                }

                // Env vars: three across environments, then no fourth; the existing ones still update.
                let env = "/api/v1/projects/\(w.projectID)/env"
                for (key, environment) in [("A", "development"), ("B", "development"), ("A", "production")] {
                    #expect(try await api.call(.put, "\(env)/\(key)", token: w.token, json: ["value": "v", "environment": environment]).status == 201)
                }
                expectLimit(try await api.call(.put, "\(env)/D", token: w.token, json: ["value": "v"]), "CONTEXT_MAX_ENV_VARS_PER_PROJECT")
                #expect(try await api.call(.put, "\(env)/A", token: w.token, json: ["value": "w"]).status == 200)
                #expect(try await api.call(.get, env, token: w.token).items.count == 3)

                // Memories: two, then no third; a retried create of an existing one still answers; a delete makes room.
                let memories = "/api/v1/flukebase_connect/memories"
                let first = ["external_id": UUID().uuidString, "memory_type": "fact", "content": "one"]
                let created = try await api.call(.post, memories, token: w.token, json: first)
                #expect(created.status == 201)
                #expect(try await api.call(.post, memories, token: w.token,
                                           json: ["external_id": UUID().uuidString, "memory_type": "fact", "content": "two"]).status == 201)
                let third = ["external_id": UUID().uuidString, "memory_type": "fact", "content": "three"]
                expectLimit(try await api.call(.post, memories, token: w.token, json: third), "CONTEXT_MAX_MEMORIES_PER_PROJECT")
                #expect(try await api.call(.post, memories, token: w.token, json: first).status == 200)
                #expect(try await api.call(.delete, "\(memories)/\(try #require(created.string("id")))", token: w.token).status == 204)
                #expect(try await api.call(.post, memories, token: w.token, json: third).status == 201)

                // Installations: the requests above came from "anonymous" (no client id); with it, c1 and c2 the
                // project is at its limit of three, and c3 is answered but not recorded.
                try await parts.usage.flush()
                for client in ["c1", "c2", "c3"] {
                    let r = try await api.call(.get, "/api/v1/flukebase_connect/context", token: w.token,
                                               headers: [HTTPField.Name("X-Fluke-Client-Id")!: client])
                    #expect(r.status == 200)
                    try await parts.usage.flush()
                }
                let installations = try await api.call(.get, "/api/v1/projects/\(w.projectID)/installations?all=true", token: w.token)
                #expect(Set(installations.items.compactMap { $0["client_id"] as? String }) == ["anonymous", "c1", "c2"], "\(installations.json)")
            }
        }
    }

    @Test("the context cache is bounded in bytes: storing beyond CONTEXT_CACHE_MAX_BYTES drops the oldest entries")
    func cacheBytes() async throws {
        let nats = try await NATSClient.connect(.admin(url: TestEnvironment.natsURL, name: "cache-test"), logger: TestEnvironment.logger)
        let cache = ContextCache(nats: nats, maxBytes: 40_000, logger: TestEnvironment.logger)
        let tenant = UUID()
        var keys: [ContextCacheKey] = []
        for i in 0..<20 {
            let project = ProjectInfo(id: UUID(), tenantID: tenant, name: "p\(i)", description: "", stage: "mvp")
            let key = ContextCacheKey(project: project.id, tenant: tenant, reveal: false)
            let snapshot = ContextStore.Snapshot(buffer: ByteBuffer(repeating: UInt8(ascii: "x"), count: 5_000),
                                                 etag: "\"\(i)\"", revealed: [])
            cache.put((project, snapshot), for: key, readAt: cache.epoch())
            keys.append(key)
            #expect(cache.bytes <= 40_000, "\(cache.bytes) bytes held after \(i + 1) entries")
        }
        // The newest is kept, the oldest went first.
        #expect(cache.get(keys[19]) != nil)
        #expect(cache.get(keys[0]) == nil)
        // One entry larger than the whole budget is not kept at all.
        let huge = ProjectInfo(id: UUID(), tenantID: tenant, name: "huge", description: "", stage: "mvp")
        let hugeKey = ContextCacheKey(project: huge.id, tenant: tenant, reveal: false)
        cache.put((huge, ContextStore.Snapshot(buffer: ByteBuffer(repeating: 0x78, count: 50_000), etag: "\"h\"", revealed: [])),
                  for: hugeKey, readAt: cache.epoch())
        #expect(cache.get(hugeKey) == nil && cache.bytes <= 40_000)
        // Invalidation gives the bytes back.
        for key in keys { cache.invalidate(key.project) }
        #expect(cache.bytes == 0)
        await nats.shutdown()
    }
}
