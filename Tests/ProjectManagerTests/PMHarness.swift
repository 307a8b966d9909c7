import FlukeModels
import FlukeNATS
import FlukeRuntime
import FlukeTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
@testable import ProjectManager
import Synchronization
import Testing

/// A project-manager instance against its own database and nats-server.
struct PMHarness {
    let database: TestDatabase
    let nats: NATSServer
    var environment: [String: String]

    init(_ overrides: [String: String] = [:]) async throws {
        database = try await TestDatabase.create()
        try await database.migrate(PMMigrations.migrator)
        nats = try NATSServer()
        environment = [
            "DATABASE_URL": database.url(role: "fluke_pm"),
            "NATS_URL": nats.url,
            "HTTP_PORT": "0",
            "PM_JWT_PRIVATE_KEYS": TestKeys.jwtPrivateKeys,
            "PM_SIGNUP_ENABLED": "true",
            // Cheap hashes keep the suite fast; the bench measures the production cost (2^15).
            "PM_SCRYPT_LOG_N": "10",
            "STARTUP_ATTEMPTS": "3",
            "STARTUP_RETRY_DELAY": "0.2",
        ].merging(TestEnvironment.natsUser("project-manager")) { _, b in b }
        environment.merge(overrides) { _, new in new }
    }

    func config() throws -> PMConfig {
        try PMConfig(reader: ConfigReader(environment: environment, variables: PMConfig.variables))
    }

    func run<T: Sendable>(_ body: @escaping @Sendable (PMClient, ProjectManagerParts) async throws -> T) async throws -> T {
        let parts = Mutex<ProjectManagerParts?>(nil)
        let app = try await buildApplication(config: try config(), logger: TestEnvironment.logger) { p in
            parts.withLock { $0 = p }
        }
        let captured = parts.withLock { $0 }!
        return try await app.test(.live) { client in try await body(PMClient(client: client), captured) }
    }

    func natsClient() async throws -> NATSClient {
        try await NATSClient.connect(.admin(url: nats.url, name: "test-client"), logger: TestEnvironment.logger)
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
