import FlukeModels
import FlukeNATS
import FlukeRuntime
import Foundation
import Logging
import Prometheus
import ServiceLifecycle

/// Keeps a WeDo task per deployment from deploy-tracker's `deploy.*` events: a durable JetStream
/// consumer (``JetStreamWorker``), so tasks catch up after any downtime. Each event moves its
/// deployment's task forward only (``DeploymentTaskUpdate``), which makes redeliveries and
/// reordering harmless. Each event also keeps its app's latest deployment for the project's
/// status (``FleetStatusStore/recordDeployment(_:_:at:tenant:project:)``).
final class DeploymentTaskConsumer: Service, Sendable {
    static let durable = "project_manager_deploy"
    let nats: NATSClient
    let work: WorkStore
    let status: FleetStatusStore
    /// When the deployments were last caught up with the stream.
    let progress = ConsumerProgress()
    let logger: Logger
    let deadLetters: DeadLetters
    let applied: Counter
    let skipped: Counter

    init(nats: NATSClient, work: WorkStore, status: FleetStatusStore, registry: PrometheusCollectorRegistry, maxDeliveries: Int, logger: Logger) {
        deadLetters = DeadLetters(schema: "pm", consumer: Self.durable, maxDeliveries: maxDeliveries,
                                  postgres: work.db.postgres, registry: registry, logger: logger)
        self.nats = nats
        self.work = work
        self.status = status
        self.logger = logger
        applied = registry.makeCounter(name: "pm_deployment_task_events_applied_total")
        skipped = registry.makeCounter(name: "pm_deployment_task_events_skipped_total")
    }

    func run() async throws {
        let configuration = JetStreamWorker.Configuration(durable: Self.durable,
                                                          filterSubject: EventType.subjectPrefix + "deploy.>")
        let worker = JetStreamWorker(nats: nats, configuration: configuration, deadLetters: deadLetters,
                                     logger: logger, progress: progress) { [self] message in
            try await apply(try message.cloudEvent())
        }
        try await worker.run()
    }

    /// Applies one event. A `deploy.*` event without a tenant, a project or its type's payload is
    /// a dead letter at once; an unknown project is acknowledged and skipped (it will not appear
    /// by retrying).
    func apply(_ event: CloudEvent) async throws {
        let type = EventType(rawValue: event.type)
        guard DeploymentPayload.eventTypes.contains(type) else { return }
        guard let tenant = event.tenantid.flatMap(UUID.init(uuidString:)),
              let project = event.projectid.flatMap(UUID.init(uuidString:)) else {
            throw JetStreamRejection(.malformed, "\(event.type) \(event.id) names no tenant and project")
        }
        let payload: DeploymentPayload
        do {
            payload = try event.payload(as: DeploymentPayload.self)
        } catch {
            throw JetStreamRejection(.malformed, "\(event.type) \(event.id): \(error)")
        }
        try await status.recordDeployment(type, payload, at: event.time, tenant: tenant, project: project)
        guard let update = DeploymentTaskUpdate(type, payload) else { return }
        let metadata: Logger.Metadata = [
            "type": "\(event.type)", "event_id": "\(event.id)", "tenant_id": "\(tenant.lowercased)",
            "project_id": "\(project.lowercased)", "deployment_id": "\(payload.deploymentID.lowercased)",
        ]
        switch try await work.applyDeployment(update, tenant: tenant, project: project) {
        case .created, .updated:
            applied.increment()
        case .unchanged:
            logger.debug("deployment event changes nothing in its task", metadata: metadata)
        case .unknownProject:
            skipped.increment()
            logger.warning("deployment event for a project this tenant does not have; skipped", metadata: metadata)
        }
    }
}
