import FlukePostgres
import FlukeRuntime
import Foundation
import Hummingbird
import Logging

/// Everything a federation process runs, for tests that need to reach inside.
public struct FederationParts: Sendable {
    public let runtime: FleetRuntime
    public let catalog: CatalogStore
    /// The routes served, as the OpenAPI document must list them.
    public let routes: RouteTable
    let processor: HeartbeatProcessor
    let checker: StaleChecker
}

/// Builds federation: validates the catalog (an invalid one stops startup), connects, migrates,
/// syncs the catalog, and assembles HTTP routes and workers.
public func buildApplication(
    config: FederationConfig, logger: Logger,
    onParts: @Sendable (FederationParts) -> Void = { _ in }
) async throws -> some ApplicationProtocol {
    // The catalog first: a bad file must stop the process before it touches anything.
    let projects = try CatalogLoader.load(path: config.catalogPath)
    let runtime = try await FleetRuntime.start(
        config: config.common, migrator: FederationMigrations.migrator,
        logger: logger)
    let metrics = FederationMetrics(registry: runtime.registry)
    let repository = StatusStore(db: runtime.postgres, outbox: runtime.outbox)
    try await repository.syncCatalog(projects)
    let catalog = CatalogStore(path: config.catalogPath, initial: projects, repository: repository, metrics: metrics,
                               logger: logger)
    let view = LiveStatusView(repository: repository, ttl: config.heartbeatTTL, interval: config.flushInterval,
                              logger: logger)
    try await view.refresh()
    let processor = HeartbeatProcessor(nats: runtime.nats, repository: repository, catalog: catalog, view: view,
                                       metrics: metrics, flushInterval: config.flushInterval, logger: logger)
    try await processor.listen()
    let checker = StaleChecker(repository: repository, processor: processor, view: view, metrics: metrics,
                               ttl: config.heartbeatTTL, interval: config.checkInterval, logger: logger)
    let routes = FederationRoutes(repository: repository, catalog: catalog, view: view, apiKeys: APIKeySet(config.apiKeys), ttl: config.heartbeatTTL)
    let register = { (recorder: inout RouteRecorder) in routes.register(&recorder) }
    onParts(FederationParts(
        runtime: runtime, catalog: catalog,
        routes: FleetApplication.record(runtime: runtime, openAPI: openAPIDocument, routes: register).table,
        processor: processor, checker: checker))
    return FleetApplication.build(runtime: runtime, openAPI: openAPIDocument,
                                  workers: [view, CatalogReloader(store: catalog), checker, processor], routes: register)
}

/// The OpenAPI document served at `/openapi.json`: `openapi.json` in this folder, completed with
/// the parts every service shares.
let openAPIDocument = OpenAPIDocument.merged(PackageResources.openapi_json)
