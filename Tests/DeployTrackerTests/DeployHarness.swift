import ContextAPI
import DeployTracker
import FleetTestServices
import FlukeModels
import FlukeRuntime
import FlukeTestSupport
import Foundation
import Logging
import LogStreamer
import ProjectManager
import WebhookDispatcher
import Testing

/// project-manager and deploy-tracker (and context-api, webhook-dispatcher or log-streamer where a test needs it) against one
/// database and one nats-server, as in production.
struct DeployHarness: ServiceHarnessWrapping {
    var fleet: ServiceHarness

    init() async throws {
        fleet = try await ServiceHarness(
            migrating: [PMMigrations.migrator, ContextMigrations.migrator, WebhookMigrations.migrator, DeployMigrations.migrator,
                        LogsMigrations.migrator],
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

    typealias World = TenantWorld

    static func world(_ pm: JSONClient, scopes: [String] = ["deploy:write", "context:read"]) async throws -> World {
        try await TenantWorld.make(pm, scopes: scopes, tokenName: "deploys")
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
