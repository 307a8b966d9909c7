import FlukeTestSupport
import Foundation
import LogStreamer
import Testing

@Suite("log-streamer OpenAPI document", .needsPostgresAndNATS)
struct OpenAPITests {
    @Test("the document served at /openapi.json lists exactly the routes log-streamer serves")
    func exactRoutes() async throws {
        let h = try await LogsHarness()
        try await h.withLogStreamer { api, parts in
            let served = try await expectOpenAPIDocumentsExactlyServedRoutes(api.client, routes: parts.routes)
            #expect(served.contains("GET /api/v1/logs") && served.contains("POST /api/v1/logs"), "\(served.sorted())")
        }
    }
}
