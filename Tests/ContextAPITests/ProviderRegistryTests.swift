@testable import ContextAPI
import FlukeRuntime
import FlukeTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import NIOPosix
import Synchronization
import Testing

@Suite("context-api: AI provider registry tenancy and the documentation audit", .needsPostgresAndNATS)
struct ProviderRegistryTests {
    @Test("fleet entries are read-only to tenants; a tenant's admin adds and overrides entries for their tenant only")
    func tenancy() async throws {
        let h = try await ContextHarness()
        try await h.withProjectManager { pm in
            let a = try await ContextHarness.world(pm)
            let b = try await ContextHarness.world(pm, tenant: "Other")
            try await h.withContextAPI { api, _ in
                func entries(_ token: String) async throws -> [String: [String: Any]] {
                    let r = try await api.call(.get, "/api/v1/ai_providers", token: token)
                    return Dictionary(r.items.map { ($0["name"] as? String ?? "", $0) }) { x, _ in x }
                }
                let seeded = try await entries(b.ownerToken)
                let original = try #require(seeded["anthropic"]?["docs_url"] as? String)
                #expect(seeded["anthropic"]?["scope"] as? String == "fleet")
                // A's admin overrides a fleet entry and adds one of its own.
                let override = try await api.call(.put, "/api/v1/ai_providers/anthropic", token: a.ownerToken,
                                                  json: ["docs_url": "https://docs.acme.example/anthropic", "tools": ["acme-claude"]])
                #expect(override.status == 201 && override.string("scope") == "tenant")
                let added = try await api.call(.put, "/api/v1/ai_providers/acme", token: a.ownerToken,
                                               json: ["docs_url": "https://docs.acme.example/ai"])
                #expect(added.status == 201)
                #expect(try await api.call(.put, "/api/v1/ai_providers/acme", token: a.ownerToken,
                                           json: ["docs_url": "https://docs.acme.example/ai2"]).status == 200)
                let seenByA = try await entries(a.ownerToken)
                #expect(seenByA["anthropic"]?["docs_url"] as? String == "https://docs.acme.example/anthropic")
                #expect(seenByA["acme"]?["scope"] as? String == "tenant" && seenByA["openai"]?["scope"] as? String == "fleet")
                // B sees the fleet's entry as seeded, and nothing of A's.
                let seenByB = try await entries(b.ownerToken)
                #expect(seenByB["anthropic"]?["docs_url"] as? String == original)
                #expect(seenByB["anthropic"]?["tools"] as? [String] == ["claude-code", "claude-desktop"])
                #expect(seenByB["acme"] == nil)
                let status = try await api.call(.get, "/api/v1/ai_providers/status", token: b.ownerToken)
                #expect(!status.items.contains { $0["name"] as? String == "acme" })
                // Fleet entries cannot be deleted by a tenant; another tenant's are not there for B.
                let fleetDelete = try await api.call(.delete, "/api/v1/ai_providers/openai", token: a.ownerToken)
                #expect(fleetDelete.status == 403 && fleetDelete.headers[.contentType] == "application/problem+json")
                #expect(try await api.call(.delete, "/api/v1/ai_providers/acme", token: b.ownerToken).status == 404)
                #expect(try await entries(a.ownerToken)["acme"] != nil)
                // Deleting A's override brings the fleet entry back for A.
                #expect(try await api.call(.delete, "/api/v1/ai_providers/anthropic", token: a.ownerToken).status == 204)
                #expect(try await entries(a.ownerToken)["anthropic"]?["docs_url"] as? String == original)
                #expect(try await entries(b.ownerToken)["openai"] != nil)
            }
        }
    }

    @Test("the audit follows at most 3 redirects, each re-checked, caps the body, and holds no pooled connection while it waits")
    func audit() async throws {
        var harness = try await ContextHarness()
        // One connection: an audit holding it while it waits on the network would stall every request.
        harness.contextOverrides = ["DATABASE_POOL_SIZE": "1", "CONTEXT_PROVIDER_AUDIT_TIMEOUT": "120"]
        let h = harness
        let docs = DocsServer()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await docs.app.runService() }
            try await h.withProjectManager { pm in
                let w = try await ContextHarness.world(pm)
                try await h.withContextAPI { api, _ in
                    _ = try await api.context(w.token)
                    for (name, path) in [("a-three", "/r/3"), ("b-four", "/r/4"), ("c-private", "/private"), ("d-huge", "/huge"),
                                         ("e-stall", "/stall")] {
                        let put = try await api.call(.put, "/api/v1/ai_providers/\(name)", token: w.ownerToken,
                                                     json: ["docs_url": docs.url(path)])
                        try #require(put.status == 201, "\(name): \(put.json)")
                    }
                    // The scheduled audit may hold the lease when we ask (202): ask until ours runs. On a
                    // connection of its own: the test client's would queue the status read behind it.
                    let port = try #require(api.client.port)
                    let finished = Mutex(false)
                    let audit = Task {
                        defer { finished.withLock { $0 = true } }
                        return try await TestClient.withClient(host: "127.0.0.1", port: port,
                                                               configuration: .init(timeout: .seconds(300))) { client in
                            var last: TestClient.Response?
                            try await eventually(timeout: .seconds(300), "the requested audit ran") {
                                last = try await client.execute(.init("/api/v1/ai_providers/audit", method: .post, authority: "localhost",
                                                                      headers: [.authorization: "Bearer \(w.ownerToken)"]))
                                return last?.status == .ok
                            }
                            return Data(buffer: last!.body ?? ByteBuffer())
                        }
                    }
                    try await eventually(timeout: .seconds(120), "the audit reached the stalled server") { docs.stalled }
                    // The audit is waiting on the network; Postgres still answers through the one connection.
                    let during = try await api.call(.get, "/api/v1/ai_providers/status", token: w.ownerToken)
                    #expect(during.status == 200)
                    #expect(!finished.withLock { $0 }, "the audit ended before the status was read")
                    #expect(during.items.first { $0["name"] as? String == "a-three" }?["status"] as? String == "ok")
                    docs.release()
                    let answer = try JSONSerialization.jsonObject(with: try await audit.value) as? [String: Any]
                    let result = answer?["items"] as? [[String: Any]] ?? []
                    func entry(_ name: String) -> [String: Any] { result.first { $0["name"] as? String == name } ?? [:] }
                    #expect(entry("a-three")["status"] as? String == "ok", "\(entry("a-three"))")
                    #expect(entry("b-four")["status"] as? String == "failed")
                    #expect((entry("b-four")["detail"] as? String)?.contains("more than 3 redirects") == true, "\(entry("b-four"))")
                    #expect(entry("c-private")["status"] as? String == "failed")
                    #expect((entry("c-private")["detail"] as? String)?.contains("link-local") == true, "\(entry("c-private"))")
                    #expect(entry("d-huge")["status"] as? String == "failed")
                    #expect((entry("d-huge")["detail"] as? String)?.contains("more than 1048576 bytes") == true, "\(entry("d-huge"))")
                    #expect(entry("e-stall")["status"] as? String == "ok")
                    // The policy is applied when an entry is written, too.
                    let metadata = try await api.call(.put, "/api/v1/ai_providers/meta", token: w.ownerToken,
                                                      json: ["docs_url": "http://169.254.169.254/latest/meta-data"])
                    #expect(metadata.status == 422 && metadata.string("field") == "docs_url")
                }
            }
            docs.release()
            group.cancelAll()
        }
    }

    @Test("one documentation check ends at its total timeout, even while the server keeps sending")
    func totalTimeout() async throws {
        let docs = DocsServer()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await docs.app.runService() }
            let threadPool = NIOThreadPool(numberOfThreads: 1)
            threadPool.start()
            let fetcher = DocsFetcher(policy: OutboundURLPolicy(allowHTTP: true, allowedHosts: ["127.0.0.1"]), timeout: .seconds(1),
                                      maxBytes: 1_048_576, threadPool: threadPool)
            try await eventually(timeout: .seconds(30), "the docs server is up") { await fetcher.check(docs.url("/r/0")).ok }
            let dripping = await fetcher.check(docs.url("/drip"))
            #expect(!dripping.ok && dripping.detail == "timed out after 1 s", "\(dripping)")
            try await threadPool.shutdownGracefully()
            group.cancelAll()
        }
    }
}

/// A documentation server on loopback: redirect chains, a redirect to the metadata service, an
/// oversized answer, one that waits to be released, one that never ends.
final class DocsServer: Sendable {
    let port = freePort()
    private let state = Mutex((stalled: false, released: false))
    var stalled: Bool { state.withLock { $0.stalled } }
    func release() { state.withLock { $0.released = true } }
    func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }

    var app: some ApplicationProtocol {
        let router = Router()
        for method in [HTTPRequest.Method.get, .head] {
            router.on("/r/{n}", method: method) { _, context -> Response in
                let n = try context.parameters.require("n", as: Int.self)
                guard n > 0 else { return Response(status: .ok) }
                return Response(status: .found, headers: [.location: "/r/\(n - 1)"])
            }
            router.on("/private", method: method) { _, _ in
                Response(status: .found, headers: [.location: "http://169.254.169.254/latest/meta-data"])
            }
            router.on("/stall", method: method) { _, _ -> Response in
                self.state.withLock { $0.stalled = true }
                while !self.state.withLock({ $0.released }) { try await Task.sleep(for: .milliseconds(20)) }
                return Response(status: .ok)
            }
        }
        router.head("/huge") { _, _ in HTTPResponse.Status.methodNotAllowed }
        router.get("/huge") { _, _ in
            let chunk = ByteBuffer(repeating: UInt8(ascii: "x"), count: 65_536)
            return Response(status: .ok, body: ResponseBody(asyncSequence: AsyncStream { continuation in
                for _ in 0..<40 { continuation.yield(chunk) }
                continuation.finish()
            }))
        }
        router.head("/drip") { _, _ in HTTPResponse.Status.methodNotAllowed }
        router.get("/drip") { _, _ in
            Response(status: .ok, body: ResponseBody(asyncSequence: AsyncStream { continuation in
                let task = Task {
                    for _ in 0..<600 {
                        continuation.yield(ByteBuffer(string: "x"))
                        try? await Task.sleep(for: .milliseconds(100))
                    }
                    continuation.finish()
                }
                continuation.onTermination = { _ in task.cancel() }
            }))
        }
        return Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)),
                           logger: Logger(label: "fake-docs"))
    }
}
