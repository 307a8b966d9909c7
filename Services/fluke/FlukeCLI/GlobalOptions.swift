import ArgumentParser
import FlukeClient
import FlukeModels
import Foundation

/// What every command takes: where the fleet is, who calls it, how to print.
struct GlobalOptions: ParsableArguments {
    @Option(name: .customLong("fleet-env"), help: "A fleet.env to read (default: .run/fleet.env here or above).")
    var fleetEnv: String?

    @Option(help: "The bearer token (fbk_… or an access token); overrides FLUKE_TOKEN and the stored login.")
    var token: String?

    @Flag(help: "Print the API's JSON, for scripts.")
    var json = false

    /// The configured client; a stored refresh token is exchanged for an access token first.
    func client() async throws -> FlukeClient {
        let environment = ProcessInfo.processInfo.environment
        let stored = StoredLogin.read(environment: environment)
        var endpoints = try FleetEndpoints.load(environment: environment, fleetEnv: fleetEnv, storedLogin: stored)
        if let token {
            endpoints.token = token
        } else if environment["FLUKE_TOKEN"]?.isEmpty ?? true, let refresh = stored?.refreshToken {
            let client = FlukeClient(endpoints: endpoints)
            let pair = try await client.refresh(refresh)
            try? await client.shutdown()
            endpoints.token = pair.accessToken
            // Refresh tokens rotate: keep the new one.
            var updated = stored ?? StoredLogin()
            updated.refreshToken = pair.refreshToken
            try? updated.write(environment: environment)
        }
        return FlukeClient(endpoints: endpoints)
    }
}

/// Which project a command is about: `--project`, else `FLUKE_PROJECT_ID`, else the one a bound
/// token reaches (the services default to it).
struct ProjectOption: ParsableArguments {
    @Option(name: [.customShort("p"), .long], help: "The project's id (default: FLUKE_PROJECT_ID, or the token's project).")
    var project: String?

    var resolved: String? {
        project ?? ProcessInfo.processInfo.environment["FLUKE_PROJECT_ID"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The project, asked of project-manager (`/api/v1/me`) when neither names one.
    func required(_ client: FlukeClient) async throws -> String {
        if let resolved { return resolved }
        if let bound = try await client.me().projectID { return bound.lowercased }
        throw ValidationError("name a project with --project (or FLUKE_PROJECT_ID); this token reaches several")
    }
}

/// Runs `body` with the configured client; see ``withClient(_:json:_:)``.
func withClient(_ options: GlobalOptions, _ body: (FlukeClient) async throws -> Void) async throws {
    let client: FlukeClient
    do {
        client = try await options.client()
    } catch let error as FlukeClientError {
        // A bad configuration (an unreadable file, a URL that is not one) or an expired login.
        Output.error("fluke: \(error)")
        throw ExitCode(exitStatus(error))
    }
    try await withClient(client, json: options.json, body)
}

/// 1 refused, 3 unreachable, 4 the server failed, 64 the configuration is wrong.
func exitStatus(_ error: FlukeClientError) -> Int32 {
    if error.status == 0 { return error.service == nil ? 64 : 3 }
    return error.status >= 500 ? 4 : 1
}

/// Runs `body` with `client` and shuts it down; prints a fleet error as one line naming the
/// field (the problem document with `--json`) and exits non-zero.
func withClient(_ client: FlukeClient, json: Bool, _ body: (FlukeClient) async throws -> Void) async throws {
    do {
        try await body(client)
        try? await client.shutdown()
    } catch let error as FlukeClientError {
        try? await client.shutdown()
        if json, error.problem != .null {
            Output.printJSON(error.problem, to: .standardError)
        } else {
            Output.error("fluke: \(error)")
        }
        throw ExitCode(exitStatus(error))
    } catch {
        try? await client.shutdown()
        throw error
    }
}
