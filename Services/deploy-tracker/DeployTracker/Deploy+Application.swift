import DeployExecutors
import FlukeModels
import FlukeNATS
import FlukeRuntime
import Foundation
import Hummingbird
import Logging

/// What a deploy-tracker process runs, for tests that reach inside.
public struct DeployParts: Sendable {
    public let runtime: FleetRuntime
    /// The routes served, as the OpenAPI document must list them.
    public let routes: RouteTable
    /// This replica's name in deployment leases.
    public let replica: String
}

/// Builds deploy-tracker: connects, checks its migrations, makes sure `FLUKE_LOGS` exists, and
/// assembles the deployment driver, the executors and the routes.
public func buildApplication(config: DeployConfig, logger: Logger,
                             onParts: @Sendable (DeployParts) -> Void = { _ in }) async throws -> some ApplicationProtocol {
    try FileManager.default.createDirectory(at: config.dataDirectory, withIntermediateDirectories: true)
    let runtime = try await FleetRuntime.start(config: config.common, migrator: DeployMigrations.migrator, logger: logger)
    do {
        try await runtime.nats.ensureStream(config.logStream.config(replicas: config.common.eventsReplicas))
    } catch {
        await runtime.nats.shutdown()
        await runtime.postgres.shutdown()
        throw error
    }
    let (identity, authenticator) = config.auth.authentication(nats: runtime.nats, logger: logger)
    let replica = "\(ProcessInfo.processInfo.hostName)/\(ProcessInfo.processInfo.processIdentifier)/\(UUID().lowercased.prefix(8))"
    let db = TenantDatabase(postgres: runtime.postgres, outbox: runtime.outbox)
    let cache = DeploymentCache(nats: runtime.nats, maxBytes: config.deploymentCacheMaxBytes, logger: logger)
    let deployments = DeploymentStore(db: db, queueLimit: config.queueLimit, cache: cache)
    let sources = SourceStore(root: config.dataDirectory)
    let executors = try makeExecutors(config: config, logger: logger)
    let driver = DeploymentDriver(
        store: deployments, executors: executors, env: ContextEnvClient(nats: runtime.nats, timeout: config.contextTimeout),
        sources: sources, keepReleases: config.keepReleases, concurrency: config.concurrency, lease: config.lease,
        owner: replica, logger: logger)
    let pump = AppLogPump(db: db, nats: runtime.nats, executors: executors, owner: replica, lease: config.lease,
                          registry: runtime.registry, logger: logger)
    let routes = DeployRoutes(apps: AppStore(db: db), deployments: deployments, executors: executors, sources: sources,
                              maxUploadBytes: config.maxUploadBytes, wake: { driver.wake.signal() })
    let register = { (recorder: inout RouteRecorder) in routes.register(&recorder) }
    onParts(DeployParts(
        runtime: runtime,
        routes: FleetApplication.record(runtime: runtime, openAPI: openAPIDocument, routes: register).table,
        replica: replica))
    return FleetApplication.build(runtime: runtime, openAPI: openAPIDocument,
                                  workers: [identity, cache] + executors.workers + [driver, pump, config.retention.job(runtime)],
                                  authenticator: authenticator,
                                  bodyLimits: ["/api/v1/apps/{app_name}/deployments": config.maxUploadBytes],
                                  routes: register)
}

/// The OpenAPI document served at `/openapi.json`: `openapi.json` in this folder, completed with
/// the parts every service shares.
let openAPIDocument = OpenAPIDocument.merged(PackageResources.openapi_json)
