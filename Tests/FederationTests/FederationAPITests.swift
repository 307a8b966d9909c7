@testable import Federation
import FlukeModels
import FlukeTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

@Suite("federation REST API", .needsPostgresAndNATS)
struct FederationAPITests {
    @Test("every /api/fed route needs a valid X-API-Key: none or a wrong one gets 401 problem+json")
    func apiKeys() async throws {
        let harness = try await FederationHarness()
        try await harness.run { client, _ in
            for uri in ["/api/fed/projects", "/api/fed/projects/alpha", "/api/fed/stats"] {
                for key in [nil, "wrong-key-0000000", FederationHarness.apiKey + "x", String(FederationHarness.apiKey.dropLast())] {
                    var headers: HTTPFields = [:]
                    if let key { headers[HTTPField.Name("X-API-Key")!] = key }
                    let response = try await client.execute(uri: uri, method: .get, headers: headers)
                    #expect(response.status == .unauthorized, "\(uri) with \(key ?? "no key")")
                    #expect(response.headers[.contentType] == "application/problem+json")
                }
                #expect(try await client.getJSON(uri).0 == 200)
                #expect(try await client.getJSON(uri, key: "other-key-abcdefgh").0 == 200)
            }
            // Operational endpoints stay open for probes and scrapers.
            #expect(try await client.execute(uri: "/health", method: .get).status == .ok)
            #expect(try await client.execute(uri: "/ready", method: .get).status == .ok)
        }
    }

    @Test("list filters by status and tag, pages with an opaque cursor, and rejects bad parameters naming them")
    func listing() async throws {
        let harness = try await FederationHarness(ttl: 30)
        try await harness.run { client, _ in
            let nats = try await harness.natsClient()
            try await eventually(timeout: .seconds(30), "beta ONLINE") {
                try await nats.publish("fluke.federation.heartbeat.beta", payload: heartbeat("beta"))
                return try await client.status(of: "beta") == "ONLINE"
            }

            let (_, all) = try await client.getJSON("/api/fed/projects")
            let items = try #require(all["items"] as? [[String: Any]])
            #expect(items.map { $0["slug"] as? String } == ["alpha", "beta", "gamma"])
            #expect(all.keys.contains("next_cursor"))
            #expect(all["next_cursor"] is NSNull)
            let beta = try #require(items.first { $0["slug"] as? String == "beta" })
            #expect((beta["instances"] as? [[String: Any]])?.count == 1)
            #expect(beta["last_heartbeat_at"] is String)

            let (_, online) = try await client.getJSON("/api/fed/projects?status=ONLINE")
            #expect((online["items"] as? [[String: Any]])?.map { $0["slug"] as? String } == ["beta"])
            let (_, core) = try await client.getJSON("/api/fed/projects?tag=core")
            #expect((core["items"] as? [[String: Any]])?.map { $0["slug"] as? String } == ["alpha"])

            var seen: [String] = []
            var cursor: String?
            repeat {
                let uri = "/api/fed/projects?limit=2" + (cursor.map { "&cursor=\($0)" } ?? "")
                let (status, page) = try await client.getJSON(uri)
                #expect(status == 200)
                seen += (page["items"] as? [[String: Any]] ?? []).compactMap { $0["slug"] as? String }
                cursor = page["next_cursor"] as? String
            } while cursor != nil
            #expect(seen == ["alpha", "beta", "gamma"])

            for (query, field) in [("status=SLEEPING", "status"), ("limit=0", "limit"), ("limit=101", "limit"),
                                   ("limit=ten", "limit"), ("cursor=%25%25%25", "cursor")] {
                let (status, problem) = try await client.getJSON("/api/fed/projects?\(query)")
                #expect(status == 422, "\(query)")
                #expect(problem["field"] as? String == field, "\(query)")
                #expect(problem["status"] as? Int == 422)
            }
            let (notFound, problem) = try await client.getJSON("/api/fed/projects/nosuch")
            #expect(notFound == 404)
            #expect(problem["title"] as? String == "Not Found")
            await nats.shutdown()
        }
    }

    @Test("the OpenAPI document lists exactly the routes served, and unknown methods get 405 with Allow")
    func openAPI() async throws {
        let harness = try await FederationHarness()
        try await harness.run { client, parts in
            let served = try await expectOpenAPIDocumentsExactlyServedRoutes(client, routes: parts.routes)
            #expect(served.count == 7)

            let post = try await client.execute(uri: "/api/fed/projects", method: .post)
            #expect(post.status == .methodNotAllowed)
            #expect(post.headers[.allow] == "GET")
            #expect(post.headers[.contentType] == "application/problem+json")
            let missing = try await client.execute(uri: "/api/nothing", method: .get)
            #expect(missing.status == .notFound)
            #expect(missing.headers[.contentType] == "application/problem+json")
        }
    }
}

