import FlukeModels
import FlukeNATS
import FlukeRuntime
import FleetTestServices
import FlukeTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
@testable import ProjectManager
import Testing

/// A project-manager instance against its own database and nats-server.
struct PMHarness: ServiceHarnessWrapping {
    var fleet: ServiceHarness
    /// Added to (or replacing) project-manager's settings.
    var overrides: [String: String]

    init(_ overrides: [String: String] = [:]) async throws {
        fleet = try await ServiceHarness(migrating: [PMMigrations.migrator])
        self.overrides = overrides
    }

    var environment: [String: String] { fleet.environment(for: .projectManager, overrides) }
    func config() throws -> PMConfig { try fleet.config(for: .projectManager, overrides) }

    func run<T: Sendable>(_ body: @escaping @Sendable (PMClient, ProjectManagerParts) async throws -> T) async throws -> T {
        try await fleet.run(.projectManager, overrides) { client, parts in try await body(PMClient(client: client), parts) }
    }
}

typealias Reply = JSONReply
typealias PMClient = JSONClient

/// project-manager helpers: accounts, users, projects, tokens.
extension JSONClient {
    /// A tenant with its owner, signed in.
    struct Account: Sendable {
        var tenantID: String
        var userID: String
        var email: String
        var password: String
        var accessToken: String
        var refreshToken: String
    }

    func signup(_ email: String = "owner-\(UUID().uuidString.prefix(8))@example.com", tenant: String = "Acme",
                password: String = "correct horse battery") async throws -> Account {
        let r = try await call(.post, "/auth/signup", json: ["email": email, "password": password, "name": "Owner",
                                                             "tenant_name": tenant])
        try #require(r.status == 201, "signup: \(r.status) \(r.json)")
        let tenantID = (r["tenant"] as? [String: Any])?["id"] as? String ?? ""
        let userID = (r["user"] as? [String: Any])?["id"] as? String ?? ""
        let login = try await self.login(email, password)
        try #require(login.status == 200, "login: \(login.status) \(login.json)")
        return Account(tenantID: tenantID, userID: userID, email: email.lowercased(), password: password,
                       accessToken: login.string("access_token")!, refreshToken: login.string("refresh_token")!)
    }

    func login(_ email: String, _ password: String, headers: HTTPFields = [:]) async throws -> Reply {
        try await call(.post, "/auth/login", json: ["email": email, "password": password], headers: headers)
    }

    /// Creates a user of `role` in the account's tenant and signs them in.
    func addUser(to owner: Account, role: String) async throws -> Account {
        let email = "\(role)-\(UUID().uuidString.prefix(8).lowercased())@example.com"
        let r = try await call(.post, "/api/v1/users", token: owner.accessToken,
                               json: ["email": email, "name": role.capitalized, "password": "password-\(role)", "role": role])
        try #require(r.status == 201, "add user: \(r.status) \(r.json)")
        let login = try await self.login(email, "password-\(role)")
        try #require(login.status == 200)
        return Account(tenantID: owner.tenantID, userID: r.string("id")!, email: email, password: "password-\(role)",
                       accessToken: login.string("access_token")!, refreshToken: login.string("refresh_token")!)
    }

    func createProject(_ token: String, name: String = "Project \(UUID().uuidString.prefix(4))") async throws -> String {
        let r = try await call(.post, "/api/v1/projects", token: token,
                               json: ["name": name, "description": "d", "stage": "mvp",
                                      "repository_url": "https://github.com/acme/app"])
        try #require(r.status == 201, "create project: \(r.status) \(r.json)")
        return r.string("id")!
    }

    func createToken(_ token: String, scopes: [String], projectID: String? = nil) async throws -> Reply {
        var body: [String: Any] = ["name": "tool", "scopes": scopes]
        if let projectID { body["project_id"] = projectID }
        return try await call(.post, "/api/v1/tokens", token: token, json: body)
    }
}
