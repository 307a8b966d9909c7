import FleetTestServices
import FlukeModels
import FlukeNATS
import FlukeRuntime
import FlukeTestSupport
import Foundation
import Logging
import LogStreamer
import ProjectManager
import Testing

/// project-manager and log-streamer against one database and one nats-server, as in production.
struct LogsHarness: ServiceHarnessWrapping {
    var fleet: ServiceHarness

    init(privatePostgres: Bool = false) async throws {
        fleet = try await ServiceHarness(migrating: [PMMigrations.migrator, LogsMigrations.migrator],
                                         fleetSettings: ["FLUKE_JWT_PUBLIC_KEYS": TestKeys.jwtPublicKeys],
                                         privatePostgres: privatePostgres)
    }

    func withProjectManager<T: Sendable>(_ body: @escaping @Sendable (JSONClient) async throws -> T) async throws -> T {
        try await fleet.run(.projectManager) { client, _ in try await body(JSONClient(client: client)) }
    }

    func withLogStreamer<T: Sendable>(_ overrides: [String: String] = [:], logger: Logger = TestEnvironment.logger,
                                      _ body: @escaping @Sendable (JSONClient, LogsParts) async throws -> T) async throws -> T {
        try await fleet.run(.logStreamer, overrides, logger: logger) { client, parts in try await body(JSONClient(client: client), parts) }
    }

    static func world(_ pm: JSONClient, scopes: [String] = ["logs:read", "logs:write"], tenant: String = "Acme")
        async throws -> TenantWorld {
        try await TenantWorld.make(pm, scopes: scopes, tenant: tenant, tokenName: "logs")
    }

    /// Another project of `world`'s tenant and a token bound to it.
    static func otherProject(_ pm: JSONClient, of world: TenantWorld, scopes: [String] = ["logs:read", "logs:write"])
        async throws -> (project: String, token: String) {
        let created = try await pm.call(.post, "/api/v1/projects", token: world.ownerToken, json: ["name": "Other", "stage": "mvp"])
        let project = try #require(created.string("id"), "\(created.json)")
        let minted = try await pm.call(.post, "/api/v1/tokens", token: world.ownerToken,
                                       json: ["name": "other", "scopes": scopes, "project_id": project])
        return (project, try #require(minted.string("token"), "\(minted.json)"))
    }

    /// A UnifiedLogEntry of `project` (what a token bound to it sees).
    static func entry(project: String, _ id: String, app: String? = "api", level: String = "info", message: String = "hello",
                      at time: Date = Date()) -> [String: Any] {
        entry(id, app: app, level: level, message: message, at: time, project: project)
    }

    /// A UnifiedLogEntry as a client writes it.
    static func entry(_ id: String, app: String? = "api", level: String = "info", message: String = "hello",
                      at time: Date = Date(), deployment: String? = nil, event: String? = nil,
                      project: String? = nil, tenant: String? = nil) -> [String: Any] {
        var source: [String: Any] = ["service": app ?? "test", "component": "test"]
        if let project { source["project_id"] = project }
        if let tenant { source["tenant_id"] = tenant }
        var entry: [String: Any] = ["@context": UnifiedLogEntry.jsonLDContext, "@type": UnifiedLogEntry.jsonLDType, "id": id,
                                    "timestamp": RFC3339.format(time), "level": level, "message": message, "source": source]
        if let app {
            var metadata: [String: Any] = ["app_name": app]
            if let deployment { metadata["deployment_id"] = deployment }
            if let event { metadata["event_type"] = event }
            entry["flukedeploy_metadata"] = metadata
        }
        return entry
    }

    /// Publishes entries straight onto `FLUKE_LOGS` as deploy-tracker does (as the admin user),
    /// each on `fluke.logs.<tenant>.<app>`, with its id as the message id unless `messageIDs` says otherwise.
    /// Each publish is retried for up to `patience` (a nats-server restarting).
    static func publish(_ nats: NATSClient, tenant: String, _ entries: [[String: Any]], messageIDs: [String]? = nil,
                        patience: Duration = .zero) async throws {
        for (index, entry) in entries.enumerated() {
            let app = ((entry["flukedeploy_metadata"] as? [String: Any])?["app_name"] as? String) ?? "_"
            let payload = try JSONSerialization.data(withJSONObject: entry, options: [.sortedKeys])
            let deadline = ContinuousClock.now + patience
            while true {
                do {
                    _ = try await nats.jetStreamPublish("fluke.logs.\(tenant.lowercased()).\(app)", payload: payload,
                                                        messageID: messageIDs?[index] ?? entry["id"] as? String)
                    break
                } catch where ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(200))
                }
            }
        }
    }

    func environment(_ overrides: [String: String] = [:]) -> [String: String] {
        fleet.environment(for: .logStreamer, overrides)
    }
}

extension JSONClient {
    /// `POST /api/v1/logs` with a JSON array of `entries`.
    func postLogs(_ token: String, _ entries: [[String: Any]]) async throws -> JSONReply {
        try await call(.post, "/api/v1/logs", token: token, json: entries)
    }

    /// The ids `GET /api/v1/logs?<query>` lists, in its order; fails the test unless 200.
    func logIDs(_ token: String, _ query: String = "") async throws -> [String] {
        let reply = try await call(.get, "/api/v1/logs" + (query.isEmpty ? "" : "?" + query), token: token)
        try #require(reply.status == 200, "GET /api/v1/logs?\(query): \(reply.status) \(reply.json)")
        return reply.items.compactMap { $0["id"] as? String }
    }
}
