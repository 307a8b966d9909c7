@testable import ContextAPI
import FlukeModels
import FlukeNATS
import FlukeRuntime
import FleetTestServices
import FlukeTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import ProjectManager
import Testing

/// project-manager and context-api against one database and one nats-server, as in production.
struct ContextHarness: ServiceHarnessWrapping {
    var fleet: ServiceHarness
    /// Added to (or replacing) context-api's settings.
    var contextOverrides: [String: String] = [:]

    init() async throws {
        fleet = try await ServiceHarness(migrating: [PMMigrations.migrator, ContextMigrations.migrator],
                                         fleetSettings: ["FLUKE_JWT_PUBLIC_KEYS": TestKeys.jwtPublicKeys])
    }

    var contextEnvironment: [String: String] { fleet.environment(for: .contextAPI, contextOverrides) }

    /// Runs project-manager while `body` runs.
    func withProjectManager<T: Sendable>(_ body: @escaping @Sendable (Client) async throws -> T) async throws -> T {
        try await fleet.run(.projectManager) { client, _ in try await body(Client(client: client)) }
    }

    /// Runs context-api while `body` runs.
    func withContextAPI<T: Sendable>(_ overrides: [String: String] = [:],
                                     _ body: @escaping @Sendable (Client, ContextParts) async throws -> T) async throws -> T {
        try await fleet.run(.contextAPI, contextOverrides.merging(overrides) { _, new in new }) { client, parts in
            try await body(Client(client: client), parts)
        }
    }

    /// A tenant with an owner session, a project with a member and a milestone, and an `fbk_`
    /// token bound to the project with `scopes`.
    struct World: Sendable {
        var tenantID: String
        var ownerToken: String
        var projectID: String
        var token: String
        var memberID: String
        var milestoneID: String
    }

    static func world(_ pm: Client, scopes: [String] = ["context:read", "context:write", "secrets:read", "memories:write"],
                      tenant: String = "Acme") async throws -> World {
        let base = try await TenantWorld.make(pm, scopes: scopes, tenant: tenant,
                                              project: ["name": "Northstar", "description": "AI context", "stage": "mvp"],
                                              tokenName: "connect")
        let owner = base.ownerToken, projectID = base.projectID
        let memberEmail = "dev-\(UUID().uuidString.prefix(8).lowercased())@example.com"
        let user = try await pm.call(.post, "/api/v1/users", token: owner,
                                     json: ["email": memberEmail, "name": "Dev", "password": "long password", "role": "member"])
        let memberID = try #require(user.string("id"))
        _ = try await pm.call(.post, "/api/v1/projects/\(projectID)/members", token: owner, json: ["user_id": memberID, "role": "lead"])
        let milestone = try await pm.call(.post, "/api/v1/projects/\(projectID)/milestones", token: owner,
                                          json: ["title": "Beta", "status": "in_progress", "due_date": "2027-01-01"])
        return World(tenantID: base.tenantID, ownerToken: owner, projectID: projectID, token: base.token, memberID: memberID,
                     milestoneID: try #require(milestone.string("id")))
    }
}

typealias Reply = JSONReply
typealias Client = JSONClient

extension JSONClient {
    /// The context once the replica knows the project.
    func context(_ token: String, query: String = "") async throws -> Reply {
        var last: Reply?
        try await eventually(timeout: .seconds(10), "the replica has the project") {
            last = try await call(.get, "/api/v1/flukebase_connect/context\(query)", token: token)
            return last?.status == 200
        }
        return last!
    }
}
