import DeployExecutors
import FlukeModels
import FlukeRuntime
import Foundation
import Hummingbird

/// The REST API of deploy-tracker: apps and releases (`Deploy+Routes+Apps.swift`), deployments
/// (`Deploy+Routes+Deployments.swift`).
struct DeployRoutes: Sendable {
    let apps: AppStore
    let deployments: DeploymentStore
    let executors: ExecutorSet
    let sources: SourceStore
    let maxUploadBytes: Int
    /// Wakes this replica's driver when a deployment is queued.
    let wake: @Sendable () -> Void

    func register(_ routes: inout RouteRecorder) {
        registerApps(&routes)
        registerAppActions(&routes)
        registerDeployments(&routes)
    }

    /// The app named by the `{app_name}` path parameter, or 404.
    func app(_ context: FleetRequestContext, principal: Principal) async throws -> App {
        let name = try context.parameters.require("app_name")
        guard name.wholeMatch(of: AppSpecReader.appName) != nil else { throw DeployError.notFound("app") }
        return try await apps.get(name, principal: principal)
    }

    /// The app with its live state (url, replicas) from its executor; a platform that does not
    /// answer leaves them out rather than failing the read.
    func live(_ app: App) async -> App {
        var app = app
        guard let executor = executors[app.executor] else { return app }
        let (tenant, name) = (app.tenantID, app.name)
        app.url = await executor.url(tenantID: tenant, app: name)
        app.replicas = try? await withTimeout(.seconds(3)) { try await executor.replicas(tenantID: tenant, app: name) }
        return app
    }

    /// A limit query parameter (`?limit=`) between 1 and `max`.
    static func limit(_ request: Request, default value: Int, max: Int) throws -> Int {
        guard let raw = request.uri.queryParameters["limit"] else { return value }
        guard let limit = Int(raw), (1...max).contains(limit) else { throw Problem.invalid("limit", "must be between 1 and \(max)") }
        return limit
    }
}
