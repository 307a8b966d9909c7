import FlukeModels
import FlukeNATS
import FlukePostgres
import FlukeRuntime
import Foundation
import Logging
import Prometheus
import ServiceLifecycle

/// Keeps the `context` replica of projects, team and milestones from project-manager's events:
/// a durable JetStream consumer (``JetStreamWorker``, so it catches up after any downtime, its own
/// or project-manager's), each event applied once (its id recorded in the same transaction) and
/// only when newer than what the row holds (redeliveries may come out of order).
final class ReplicaConsumer: Service, Sendable {
    static let durable = "context_api_replica"
    let nats: NATSClient
    let db: TenantDatabase
    let logger: Logger
    /// Told after each applied event, here and on the other replicas.
    let cache: ContextCache
    let applied: Counter
    let failed: Counter
    let deadLetters: DeadLetters

    init(nats: NATSClient, db: TenantDatabase, registry: PrometheusCollectorRegistry, cache: ContextCache,
         maxDeliveries: Int, logger: Logger) {
        deadLetters = DeadLetters(schema: "context", consumer: Self.durable, maxDeliveries: maxDeliveries,
                                  postgres: db.postgres, registry: registry, logger: logger)
        self.cache = cache
        self.nats = nats
        self.db = db
        self.logger = logger
        applied = registry.makeCounter(name: "context_replica_events_applied_total")
        failed = registry.makeCounter(name: "context_replica_events_failed_total")
    }

    func run() async throws {
        let worker = JetStreamWorker(nats: nats, configuration: .init(durable: Self.durable), deadLetters: deadLetters,
                                     logger: logger) { [self] message in
            let event = try message.cloudEvent()
            do {
                try await apply(event)
            } catch {
                failed.increment()
                throw error
            }
            applied.increment()
        }
        try await worker.run()
    }

    /// Where and when one of project-manager's events applies.
    struct Target: Sendable {
        let tenant: UUID
        let project: UUID
        /// The event's time: a row is only ever replaced by a newer event.
        let at: Date
    }

    /// Applies one event; a no-op for types the replica does not keep, for events seen before,
    /// and for events whose data is not their type's payload.
    func apply(_ event: CloudEvent) async throws {
        guard let eventID = UUID(uuidString: event.id), let tenant = event.tenantid.flatMap(UUID.init(uuidString:)),
              let project = event.projectid.flatMap(UUID.init(uuidString:)) else { return }
        let target = Target(tenant: tenant, project: project, at: event.time)
        let write: @Sendable (PostgresHandle) async throws -> Void
        do {
            guard let decoded = try Self.write(event, target) else { return }
            write = decoded
        } catch {
            logger.warning("ignoring an event whose data is not its type's payload",
                           metadata: ["type": "\(event.type)", "id": "\(event.id)", "error": "\(error)"])
            return
        }
        defer { cache.announce(project) }
        // As the fleet: the consumer applies every tenant's events, and an event's tenant is
        // project-manager's word, written into the row it applies.
        try await db.asSystem { tx in
            guard try await tx.query("""
                INSERT INTO context.processed_events (event_id) VALUES (\(eventID)) ON CONFLICT DO NOTHING
                """).affectedRows == 1 else { return }
            try await ChangeLog.lock(project, on: tx)
            try await write(tx)
        }
    }

    /// The write `event` makes to the replica; nil for types the replica does not keep.
    static func write(_ event: CloudEvent, _ target: Target) throws -> (@Sendable (PostgresHandle) async throws -> Void)? {
        switch EventType(rawValue: event.type) {
        case .projectCreated, .projectUpdated:
            let payload = try event.payload(as: ProjectPayload.self)
            return { try await upsertProject(payload, target, on: $0) }
        case .projectDeleted:
            return { try await deleteProject(target, on: $0) }
        case .memberAdded:
            let payload = try event.payload(as: MemberAddedPayload.self)
            return { try await upsertMember(payload, target, on: $0) }
        case .memberRemoved:
            let payload = try event.payload(as: MemberRemovedPayload.self)
            return { try await removeMember(payload, target, on: $0) }
        case .milestoneUpdated:
            let payload = try event.payload(as: MilestonePayload.self)
            return { try await upsertMilestone(payload, target, on: $0) }
        default:
            return nil
        }
    }
}
