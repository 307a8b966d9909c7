import FlukeModels
import FlukePostgres
import FlukeRuntime
import Foundation
import Hummingbird
import Logging

/// What a context-api process runs, for tests that reach inside.
public struct ContextParts: Sendable {
    public let runtime: FleetRuntime
    public let routes: RouteTable
    let replica: ReplicaConsumer
    let usage: UsageRecorder
}

/// Builds context-api: connects, migrates, and assembles the replica consumer, the identity
/// client and the HTTP routes.
public func buildApplication(config: ContextConfig, logger: Logger,
                             onParts: @Sendable (ContextParts) -> Void = { _ in }) async throws -> some ApplicationProtocol {
    let runtime = try await FleetRuntime.start(
        config: config.common, migrator: ContextMigrations.migrator, logger: logger)
    let (identity, authenticator) = config.auth.authentication(nats: runtime.nats, logger: logger)
    let cache = ContextCache(nats: runtime.nats, maxBytes: config.cacheMaxBytes, logger: logger)
    // Every tenant table is under row-level security: requests work through `db` in the caller's
    // tenant, background work (replica, usage flush, provider audit) as the fleet.
    let db = TenantDatabase(postgres: runtime.postgres, outbox: runtime.outbox)
    let env = EnvStore(db: db, keyring: config.keyring, cache: cache, maxPerProject: config.limits.envVarsPerProject)
    let memories = MemoryStore(db: db, cache: cache, maxPerProject: config.limits.memoriesPerProject)
    let mcp = MCPStore(db: db, cache: cache)
    let usage = UsageRecorder(db: db, maxInstallationsPerProject: config.limits.installationsPerProject,
                              logger: logger)
    let routes = ContextRoutes(access: ProjectAccess(db: db),
                               contexts: ContextStore(db: db, env: env), env: env,
                               memories: memories, usage: usage, cache: cache, maxMemoryBytes: config.maxMemoryBytes)
    let replica = ReplicaConsumer(nats: runtime.nats, db: db, registry: runtime.registry, cache: cache,
                                  maxDeliveries: config.common.consumerMaxDeliveries, logger: logger)
    let envResponder = EnvResponder(nats: runtime.nats, env: env, registry: runtime.registry, logger: logger)
    let providers = ProviderStore(db: db)
    let auditor = ProviderAuditor(store: providers, policy: config.providerAuditPolicy, interval: config.providerAuditInterval,
                                  timeout: config.providerAuditTimeout, maxBytes: config.providerAuditMaxBytes, logger: logger)
    let admin = ContextAdminRoutes(access: ProjectAccess(db: db),
                                   mcp: mcp,
                                   providers: providers, auditor: auditor, usage: usage)
    let register = { (recorder: inout RouteRecorder) in
        routes.register(&recorder)
        admin.register(&recorder)
    }
    onParts(ContextParts(
        runtime: runtime,
        routes: FleetApplication.record(runtime: runtime, openAPI: openAPIDocument, routes: register).table,
        replica: replica, usage: usage))
    let fastPath = ContextFastPath(authenticator: authenticator, cache: cache, usage: usage, registry: runtime.registry,
                                   logger: logger)
    return FleetApplication.build(runtime: runtime, openAPI: openAPIDocument, workers: [identity, replica, envResponder, usage, auditor, cache,
                                                                         config.retention.job(runtime)],
                                  authenticator: authenticator, channelHandlers: { [fastPath.handler()] }, routes: register)
}

/// The OpenAPI document served at `/openapi.json`: `openapi.json` in this folder, completed with
/// the parts every service shares.
let openAPIDocument = OpenAPIDocument.merged(PackageResources.openapi_json)
