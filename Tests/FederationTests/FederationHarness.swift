@testable import Federation
import FlukeModels
import FlukeNATS
import FlukeRuntime
import FleetTestServices
import FlukeTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging

/// A federation instance against its own database and (unless given) its own nats-server.
struct FederationHarness: ServiceHarnessWrapping {
    static let apiKey = "test-key-0123456789"
    var fleet: ServiceHarness
    let catalogPath: String
    /// federation's settings on top of the harness's: its catalog, keys and timings.
    var overrides: [String: String]

    static let sampleCatalog = """
        projects:
          - slug: alpha
            name: Alpha
            tags: [core]
            project_id: 6f1c2a1e-9a8b-4c3d-8e7f-0a1b2c3d4e5f
          - slug: beta
            name: Beta
            repository: https://example.invalid/beta.git
            tags: [edge]
          - slug: gamma
            name: Gamma
        """

    init(catalog: String = sampleCatalog, ttl: Double = 1.5, checkInterval: Double = 0.25,
         database: TestDatabase? = nil, nats: NATSServer? = nil) async throws {
        fleet = try await ServiceHarness(migrating: [FederationMigrations.migrator], database: database, nats: nats)
        catalogPath = TestEnvironment.workDir + "/catalog-" + UUID().uuidString.prefix(8) + ".yaml"
        try catalog.write(toFile: catalogPath, atomically: true, encoding: .utf8)
        overrides = [
            "FEDERATION_CATALOG": catalogPath,
            "FEDERATION_API_KEYS": "other-key-abcdefgh,\(Self.apiKey)",
            "FEDERATION_HEARTBEAT_TTL": String(ttl),
            "FEDERATION_CHECK_INTERVAL": String(checkInterval),
            "FEDERATION_FLUSH_INTERVAL": "0.1",
        ]
    }

    var environment: [String: String] { fleet.environment(for: .federation, overrides) }
    func config() throws -> FederationConfig { try fleet.config(for: .federation, overrides) }

    /// Builds the app and runs `body` against it over real HTTP.
    func run<T: Sendable>(_ body: @escaping @Sendable (any TestClientProtocol, FederationParts) async throws -> T)
        async throws -> T {
        try await fleet.run(.federation, overrides, body)
    }
}

/// A heartbeat payload as projects send it.
func heartbeat(_ slug: String, instance: String = "i-1", version: String = "1.0.0", at: Date = Date(),
               metadata: String? = nil) -> Data {
    var json = #"{"slug":"\#(slug)","instance_id":"\#(instance)","version":"\#(version)","timestamp":"\#(RFC3339.format(at))""#
    if let metadata { json += #","metadata":\#(metadata)"# }
    return Data((json + "}").utf8)
}

extension TestClientProtocol {
    /// GET with the API key, decoded as a JSON object.
    func getJSON(_ uri: String, key: String? = FederationHarness.apiKey) async throws -> (Int, [String: Any]) {
        var headers: HTTPFields = [:]
        if let key { headers[HTTPField.Name("X-API-Key")!] = key }
        let response = try await execute(uri: uri, method: .get, headers: headers)
        let object = (try? JSONSerialization.jsonObject(with: Data(buffer: response.body))) as? [String: Any] ?? [:]
        return (Int(response.status.code), object)
    }

    func status(of slug: String) async throws -> String? {
        try await getJSON("/api/fed/projects/\(slug)").1["status"] as? String
    }

    /// The value of a Prometheus sample, e.g. `federation_heartbeats_rejected_total{reason="unknown_slug"}`.
    func metric(_ sample: String) async throws -> Double? {
        let response = try await execute(uri: "/metrics", method: .get)
        let text = String(buffer: response.body)
        for line in text.split(separator: "\n") where line.hasPrefix(sample + " ") {
            return Double(line.dropFirst(sample.count + 1))
        }
        return nil
    }
}
