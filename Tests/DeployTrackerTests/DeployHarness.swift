import ContextAPI
import DeployTracker
import FleetTestServices
import FlukeModels
import FlukeRuntime
import FlukeTestSupport
import Foundation
import Logging
import ProjectManager
import WebhookDispatcher
import Testing

/// project-manager and deploy-tracker (and context-api where a test needs it) against one
/// database and one nats-server, as in production.
struct DeployHarness: ServiceHarnessWrapping {
    var fleet: ServiceHarness

    init() async throws {
        fleet = try await ServiceHarness(
            migrating: [PMMigrations.migrator, ContextMigrations.migrator, WebhookMigrations.migrator, DeployMigrations.migrator],
            fleetSettings: ["FLUKE_JWT_PUBLIC_KEYS": TestKeys.jwtPublicKeys, "FLUKE_ENCRYPTION_KEY": ServiceSettings.encryptionKey])
    }

    func withProjectManager<T: Sendable>(_ body: @escaping @Sendable (JSONClient) async throws -> T) async throws -> T {
        try await fleet.run(.projectManager) { client, _ in try await body(JSONClient(client: client)) }
    }

    func withTracker<T: Sendable>(_ overrides: [String: String] = [:], logger: Logger = TestEnvironment.logger,
                                  _ body: @escaping @Sendable (JSONClient, DeployParts) async throws -> T) async throws -> T {
        try await fleet.run(.deployTracker, overrides, logger: logger) { client, parts in
            try await body(JSONClient(client: client), parts)
        }
    }

    /// Runs `service` (context-api, webhook-dispatcher) with the test settings while `body` runs.
    func with<Config, Parts, T: Sendable>(_ service: ServiceUnderTest<Config, Parts>, _ overrides: [String: String] = [:],
                                          _ body: @escaping @Sendable (JSONClient) async throws -> T) async throws -> T {
        try await fleet.run(service, overrides) { client, _ in try await body(JSONClient(client: client)) }
    }

    /// A tenant with an owner session, a project, and an `fbk_` token bound to it.
    struct World: Sendable {
        var tenantID: String
        var ownerToken: String
        var projectID: String
        var token: String
    }

    static func world(_ pm: JSONClient, scopes: [String] = ["deploy:write", "context:read"]) async throws -> World {
        let email = "owner-\(UUID().uuidString.prefix(8).lowercased())@example.com"
        let signup = try await pm.call(.post, "/auth/signup", json: ["email": email, "password": "long password",
                                                                     "name": "Owner", "tenant_name": "Acme"])
        try #require(signup.status == 201, "\(signup.json)")
        let login = try await pm.call(.post, "/auth/login", json: ["email": email, "password": "long password"])
        let owner = try #require(login.string("access_token"))
        let project = try await pm.call(.post, "/api/v1/projects", token: owner, json: ["name": "Apps", "stage": "mvp"])
        let projectID = try #require(project.string("id"))
        let token = try await pm.call(.post, "/api/v1/tokens", token: owner,
                                      json: ["name": "deploys", "scopes": scopes, "project_id": projectID])
        return World(tenantID: (signup["tenant"] as? [String: Any])?["id"] as? String ?? "", ownerToken: owner,
                     projectID: projectID, token: try #require(token.string("token")))
    }

    /// A git repository holding `files`, committed: a deployment source (`{"git": file://…}`).
    static func gitRepository(_ files: [String: String]) throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fluke-src-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for (name, content) in files {
            let file = directory.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try content.write(to: file, atomically: true, encoding: .utf8)
        }
        for arguments in [["init", "-q", "-b", "main"], ["add", "."],
                          ["-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-q", "-m", "source"]] {
            let git = Process()
            git.executableURL = URL(fileURLWithPath: "/usr/bin/git")
            git.arguments = ["-C", directory.path] + arguments
            try git.run()
            git.waitUntilExit()
            try #require(git.terminationStatus == 0, "git \(arguments)")
        }
        return directory
    }
}
