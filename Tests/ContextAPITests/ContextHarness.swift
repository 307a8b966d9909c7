@testable import ContextAPI
import FlukeModels
import FlukeNATS
import FlukeRuntime
import FlukeTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import ProjectManager
import Synchronization
import Testing

/// project-manager and context-api against one database and one nats-server, as in production.
struct ContextHarness {
    static let encryptionKey = "k1:" + Data((0..<32).map { UInt8($0) }).base64EncodedString()
    let database: TestDatabase
    let nats: NATSServer
    var common: [String: String]
    /// Added to (or replacing) context-api's environment.
    var contextOverrides: [String: String] = [:]

    init() async throws {
        database = try await TestDatabase.create()
        try await database.migrate(PMMigrations.migrator, ContextMigrations.migrator)
        nats = try NATSServer()
        common = ["NATS_URL": nats.url, "HTTP_PORT": "0", "FLUKE_JWT_PUBLIC_KEYS": TestKeys.jwtPublicKeys,
                  "STARTUP_ATTEMPTS": "3", "STARTUP_RETRY_DELAY": "0.2"]
    }

    var pmEnvironment: [String: String] {
        common.merging(TestEnvironment.natsUser("project-manager")) { _, b in b }.merging(["DATABASE_URL": database.url(role: "fluke_pm"), "PM_JWT_PRIVATE_KEYS": TestKeys.jwtPrivateKeys, "PM_SIGNUP_ENABLED": "true", "PM_SCRYPT_LOG_N": "10"]) { _, b in b }
    }

    var contextEnvironment: [String: String] {
        common.merging(TestEnvironment.natsUser("context-api")) { _, b in b }.merging(["DATABASE_URL": database.url(role: "fluke_context"), "FLUKE_ENCRYPTION_KEY": Self.encryptionKey,
                        "FLUKE_IDENTITY_CACHE_TTL": "30",
                        // Test documentation servers listen on loopback, over http.
                        "CONTEXT_PROVIDER_AUDIT_ALLOW_HTTP": "true", "CONTEXT_PROVIDER_AUDIT_ALLOWED_HOSTS": "127.0.0.1"]) { _, b in b }
            .merging(contextOverrides) { _, b in b }
    }

    /// Runs project-manager while `body` runs.
    func withProjectManager<T: Sendable>(_ body: @escaping @Sendable (Client) async throws -> T) async throws -> T {
        let config = try PMConfig(reader: ConfigReader(environment: pmEnvironment, variables: PMConfig.variables))
        let app = try await ProjectManager.buildApplication(config: config, logger: TestEnvironment.logger)
        return try await app.test(.live) { client in try await body(Client(client: client)) }
    }

    /// Runs context-api while `body` runs.
    func withContextAPI<T: Sendable>(_ overrides: [String: String] = [:],
                                     _ body: @escaping @Sendable (Client, ContextParts) async throws -> T) async throws -> T {
        let environment = contextEnvironment.merging(overrides) { _, b in b }
        let config = try ContextConfig(reader: ConfigReader(environment: environment, variables: ContextConfig.variables))
        let parts = Mutex<ContextParts?>(nil)
        let app = try await ContextAPI.buildApplication(config: config, logger: TestEnvironment.logger) { p in parts.withLock { $0 = p } }
        let captured = parts.withLock { $0 }!
        return try await app.test(.live) { client in try await body(Client(client: client), captured) }
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
        let email = "owner-\(UUID().uuidString.prefix(8).lowercased())@example.com"
        let signup = try await pm.call(.post, "/auth/signup", json: ["email": email, "password": "long password",
                                                                     "name": "Owner", "tenant_name": tenant])
        try #require(signup.status == 201, "\(signup.json)")
        let login = try await pm.call(.post, "/auth/login", json: ["email": email, "password": "long password"])
        let owner = try #require(login.string("access_token"))
        let project = try await pm.call(.post, "/api/v1/projects", token: owner,
                                        json: ["name": "Northstar", "description": "AI context", "stage": "mvp"])
        let projectID = try #require(project.string("id"))
        let memberEmail = "dev-\(UUID().uuidString.prefix(8).lowercased())@example.com"
        let user = try await pm.call(.post, "/api/v1/users", token: owner,
                                     json: ["email": memberEmail, "name": "Dev", "password": "long password", "role": "member"])
        let memberID = try #require(user.string("id"))
        _ = try await pm.call(.post, "/api/v1/projects/\(projectID)/members", token: owner, json: ["user_id": memberID, "role": "lead"])
        let milestone = try await pm.call(.post, "/api/v1/projects/\(projectID)/milestones", token: owner,
                                          json: ["title": "Beta", "status": "in_progress", "due_date": "2027-01-01"])
        let token = try await pm.call(.post, "/api/v1/tokens", token: owner,
                                      json: ["name": "connect", "scopes": scopes, "project_id": projectID])
        return World(tenantID: (signup["tenant"] as? [String: Any])?["id"] as? String ?? "", ownerToken: owner,
                     projectID: projectID, token: try #require(token.string("token")), memberID: memberID,
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
