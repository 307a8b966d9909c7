import FlukeModels
import FlukeNATS
import FlukeRuntime
import Foundation
import Logging
import Prometheus
import ServiceLifecycle

/// Keeps federation's catalog statuses (``FleetStatusStore/recordCatalog(_:)``) from its
/// `federation.project.*` events: a durable JetStream consumer, so the statuses catch up after
/// any downtime. A later change always wins, so redeliveries and reordering are harmless.
final class CatalogStatusConsumer: Service, Sendable {
    static let durable = "project_manager_federation"
    let nats: NATSClient
    let store: FleetStatusStore
    let logger: Logger
    let deadLetters: DeadLetters
    /// When the catalog statuses were last caught up with the stream.
    let progress = ConsumerProgress()

    init(nats: NATSClient, store: FleetStatusStore, registry: PrometheusCollectorRegistry, maxDeliveries: Int, logger: Logger) {
        deadLetters = DeadLetters(schema: "pm", consumer: Self.durable, maxDeliveries: maxDeliveries,
                                  postgres: store.db.postgres, registry: registry, logger: logger)
        self.nats = nats
        self.store = store
        self.logger = logger
    }

    func run() async throws {
        let configuration = JetStreamWorker.Configuration(durable: Self.durable,
                                                          filterSubject: EventType.subjectPrefix + "federation.project.>")
        let worker = JetStreamWorker(nats: nats, configuration: configuration, deadLetters: deadLetters, logger: logger,
                                     progress: progress) { [self] message in
            try await apply(try message.cloudEvent())
        }
        try await worker.run()
    }

    /// Applies one event; one that is not a catalog status change is a dead letter at once.
    func apply(_ event: CloudEvent) async throws {
        guard FederationProjectStatusPayload.eventTypes.contains(EventType(rawValue: event.type)) else { return }
        let payload: FederationProjectStatusPayload
        do {
            payload = try event.payload(as: FederationProjectStatusPayload.self)
        } catch {
            throw JetStreamRejection(.malformed, "\(event.type) \(event.id): \(error)")
        }
        guard ["ONLINE", "OFFLINE"].contains(payload.status), (1...200).contains(payload.slug.utf8.count),
              payload.name.utf8.count <= 1000, (payload.projectID?.utf8.count ?? 0) <= 200 else {
            throw JetStreamRejection(.malformed, "\(event.type) \(event.id): status, slug, name or project_id out of bounds")
        }
        try await store.recordCatalog(payload)
    }
}
