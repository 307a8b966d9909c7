import ContextAPI
import FleetTestServices
import FlukeTestSupport
import Foundation
import ProjectManager
import Testing

/// project-manager and context-api served live, a tenant with a project, and the environment
/// the built `fluke` binary reaches them with.
struct FlukeHarness: Sendable {
    let fleet: ServiceHarness

    init() async throws {
        fleet = try await ServiceHarness(migrating: [PMMigrations.migrator, ContextMigrations.migrator],
                                         fleetSettings: ["FLUKE_JWT_PUBLIC_KEYS": TestKeys.jwtPublicKeys])
    }

    struct Fleet: Sendable {
        var pm: JSONClient
        var world: TenantWorld
        var environment: [String: String]

        /// `fluke`'s environment with another token.
        func environment(token: String) -> [String: String] {
            environment.merging(["FLUKE_TOKEN": token]) { _, new in new }
        }
    }

    /// Runs both services while `body` runs; `fluke` is pointed at them by FLUKE_*_URL only (no
    /// fleet.env: the working directory has none), with a token bound to the project.
    func withFleet<T: Sendable>(scopes: [String] = ["context:read", "context:write", "memories:write"],
                                _ body: @escaping @Sendable (Fleet) async throws -> T) async throws -> T {
        try await fleet.run(.projectManager) { pmClient, _ in
            let pm = JSONClient(client: pmClient)
            let world = try await TenantWorld.make(pm, scopes: scopes)
            return try await fleet.run(.contextAPI) { contextClient, _ in
                let environment = [
                    "FLUKE_PROJECT_MANAGER_URL": "http://127.0.0.1:\(pmClient.port!)",
                    "FLUKE_CONTEXT_API_URL": "http://127.0.0.1:\(contextClient.port!)",
                    "FLUKE_TOKEN": world.token,
                    // Nothing stored by an earlier login on this machine is read.
                    "XDG_CONFIG_HOME": TestEnvironment.workDir + "/fluke-config-\(UUID().uuidString.prefix(8))",
                ]
                return try await body(Fleet(pm: pm, world: world, environment: environment))
            }
        }
    }

    static var fluke: String { TestEnvironment.binDir + "/fluke" }

    /// `fluke arguments…` run as a process in the work directory.
    static func fluke(_ arguments: [String], _ environment: [String: String]) async throws -> CommandRun {
        try await CommandRun.run(fluke, arguments, environment: environment)
    }
}
