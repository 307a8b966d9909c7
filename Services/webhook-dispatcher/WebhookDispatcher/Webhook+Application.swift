import FlukeModels
import FlukePostgres
import FlukeRuntime
import Foundation
import Hummingbird
import Logging

/// What a webhook-dispatcher process runs, for tests that reach inside.
public struct WebhookParts: Sendable {
    public let runtime: FleetRuntime
    public let routes: RouteTable
    /// This replica's name in the queue's leases.
    public let replica: String
}

/// Builds webhook-dispatcher: connects, migrates, and assembles the intake, the dispatcher, the
/// queue-depth sampler and the HTTP routes.
public func buildApplication(config: WebhookConfig, logger: Logger,
                             onParts: @Sendable (WebhookParts) -> Void = { _ in }) async throws -> some ApplicationProtocol {
    let runtime = try await FleetRuntime.start(
        config: config.common, migrator: WebhookMigrations.migrator, logger: logger)
    let (identity, authenticator) = config.auth.authentication(nats: runtime.nats, logger: logger)
    let replica = "\(ProcessInfo.processInfo.hostName)/\(ProcessInfo.processInfo.processIdentifier)/\(UUID().lowercased.prefix(8))"
    let metrics = WebhookMetrics(registry: runtime.registry)
    // Requests work in their caller's tenant, background work as the fleet (row-level security).
    let db = TenantDatabase(postgres: runtime.postgres, outbox: runtime.outbox)
    let queue = DeliveryQueue(db: db, settings: config.delivery, replica: replica)
    let store = SubscriptionStore(db: db, keyring: config.keyring, secretGrace: config.delivery.secretGrace,
                                  maxPerProject: config.maxSubscriptionsPerProject)
    let sender = WebhookSender(policy: config.urlPolicy, settings: config.delivery, logger: logger)
    let listener = PostgresListener(url: config.common.databaseURL, channels: [DeliveryQueue.channel], logger: logger)
    let dispatcher = Dispatcher(queue: queue, sender: sender, store: store, settings: config.delivery, listener: listener,
                                metrics: metrics, logger: logger)
    let intake = Intake(nats: runtime.nats, queue: queue, metrics: metrics,
                        deadLetters: DeadLetters(schema: "webhooks", consumer: Intake.durable,
                                                 maxDeliveries: config.common.consumerMaxDeliveries,
                                                 postgres: runtime.postgres, registry: runtime.registry, logger: logger),
                        logger: logger)
    let sampler = QueueDepthSampler(db: db, metrics: metrics, interval: .seconds(5))
    let routes = WebhookRoutes(subscriptions: store, deliveries: DeliveryStore(db: db), queue: queue,
                               resolver: sender)
    onParts(WebhookParts(
        runtime: runtime,
        routes: FleetApplication.record(runtime: runtime, openAPI: openAPIDocument, routes: routes.register).table,
        replica: replica))
    // Shutdown runs in reverse: the intake and dispatcher stop before the sender's pools close.
    return FleetApplication.build(runtime: runtime, openAPI: openAPIDocument,
                                  workers: [identity, ShutdownHook { await sender.shutdown() }, listener, sampler, dispatcher, intake,
                                            config.retention.job(runtime)],
                                  authenticator: authenticator, routes: routes.register)
}

/// The OpenAPI document served at `/openapi.json`: `openapi.json` in this folder, completed with
/// the parts every service shares.
let openAPIDocument = OpenAPIDocument.merged(PackageResources.openapi_json)
