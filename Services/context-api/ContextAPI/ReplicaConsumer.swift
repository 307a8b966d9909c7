import FlukeModels
import FlukeNATS
import FlukePostgres
import FlukeRuntime
import Foundation
import Logging
import Prometheus
import ServiceLifecycle

/// Keeps the `context` replica of projects, team and milestones from project-manager's events:
/// a durable JetStream pull consumer (so it catches up after any downtime, its own or
/// project-manager's), each event applied once (its id recorded in the same transaction) and
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
        let consumer = nats.pullConsumer(stream: EventType.streamName, durable: Self.durable,
                                         filterSubject: EventType.subjectPrefix + ">", ackWait: .seconds(30))
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    let batch = try await consumer.fetch(batch: 128, timeout: .milliseconds(500))
                    for message in batch { await self.handle(message) }
                } catch is CancellationError {
                    return
                } catch {
                    // NATS down or reconnecting: the consumer is re-created on the next fetch.
                    self.logger.debug("replica fetch failed; retrying", metadata: ["error": "\(error)"])
                    try? await Task.sleep(for: .milliseconds(500))
                }
            }
        }
    }

    private func handle(_ message: JetStreamMessage) async {
        let event: CloudEvent
        do {
            event = try CloudEvent.decoder().decode(CloudEvent.self, from: message.message.payload)
        } catch {
            await deadLetters.bury(message, reason: "not a CloudEvent: \(error)")
            return
        }
        do {
            try await apply(event)
            try await message.ack()
            applied.increment()
        } catch {
            failed.increment()
            logger.warning("could not apply an event", metadata: [
                "type": "\(event.type)", "id": "\(event.id)", "attempt": "\(message.deliveryCount)", "error": "\(error)"])
            await deadLetters.failed(message, reason: "\(error)")
        }
    }

    static let handled: Set<String> = [
        EventType.projectCreated.rawValue, EventType.projectUpdated.rawValue, EventType.projectDeleted.rawValue,
        EventType.memberAdded.rawValue, EventType.memberRemoved.rawValue, EventType.milestoneUpdated.rawValue,
    ]

    /// Applies one event; a no-op for types the replica does not keep and for events seen before.
    func apply(_ event: CloudEvent) async throws {
        guard Self.handled.contains(event.type), let eventID = UUID(uuidString: event.id),
              let tenant = event.tenantid.flatMap(UUID.init(uuidString:)),
              let project = event.projectid.flatMap(UUID.init(uuidString:)) else { return }
        let d = event.data
        defer { cache.announce(project) }
        // As the fleet: the consumer applies every tenant's events, and an event's tenant is
        // project-manager's word, written into the row it applies.
        try await db.asSystem { tx in
            guard try await tx.query("""
                INSERT INTO context.processed_events (event_id) VALUES (\(eventID)) ON CONFLICT DO NOTHING
                """).affectedRows == 1 else { return }
            try await ChangeLog.lock(project, on: tx)
            let at = event.time
            switch event.type {
            case EventType.projectCreated.rawValue, EventType.projectUpdated.rawValue:
                let changed = try await tx.query("""
                    INSERT INTO context.projects (id, tenant_id, name, description, stage, repository_url, source_time)
                    VALUES (\(project), \(tenant), \(d.string("name") ?? ""), \(d.string("description") ?? ""),
                            \(d.string("stage") ?? "idea"), \(d.string("repository_url")), \(at))
                    ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, description = EXCLUDED.description,
                        stage = EXCLUDED.stage, repository_url = EXCLUDED.repository_url, source_time = EXCLUDED.source_time,
                        updated_at = now()
                    WHERE context.projects.source_time <= EXCLUDED.source_time AND NOT context.projects.deleted
                    """).affectedRows
                if changed == 1 {
                    try await ChangeLog.append(project, tenant: tenant, entity: "project", id: project.lowercased, op: "upsert",
                                               data: .object(["id": .string(project.lowercased), "name": d["name"] ?? .null,
                                                              "description": d["description"] ?? .null,
                                                              "stage": d["stage"] ?? .null]), on: tx)
                }
            case EventType.projectDeleted.rawValue:
                try await tx.query("""
                    INSERT INTO context.projects (id, tenant_id, name, stage, deleted, source_time)
                    VALUES (\(project), \(tenant), '', 'idea', true, \(at))
                    ON CONFLICT (id) DO UPDATE SET deleted = true, source_time = EXCLUDED.source_time, updated_at = now()
                    """)
                try await ChangeLog.append(project, tenant: tenant, entity: "project", id: project.lowercased, op: "delete",
                                           data: .object(["id": .string(project.lowercased)]), on: tx)
            case EventType.memberAdded.rawValue:
                guard let user = d.string("user_id").flatMap(UUID.init(uuidString:)) else { return }
                let changed = try await tx.query("""
                    INSERT INTO context.team_members (project_id, user_id, tenant_id, name, email, role, source_time)
                    VALUES (\(project), \(user), \(tenant), \(d.string("name") ?? ""), \(d.string("email") ?? ""),
                            \(d.string("role") ?? "developer"), \(at))
                    ON CONFLICT (project_id, user_id) DO UPDATE SET name = EXCLUDED.name, email = EXCLUDED.email,
                        role = EXCLUDED.role, source_time = EXCLUDED.source_time
                    WHERE context.team_members.source_time <= EXCLUDED.source_time
                    """).affectedRows
                if changed == 1 {
                    try await ChangeLog.append(project, tenant: tenant, entity: "team_member", id: user.lowercased, op: "upsert",
                                               data: .object(["user_id": .string(user.lowercased), "name": d["name"] ?? .null,
                                                              "email": d["email"] ?? .null, "role": d["role"] ?? .null]), on: tx)
                }
            case EventType.memberRemoved.rawValue:
                guard let user = d.string("user_id").flatMap(UUID.init(uuidString:)) else { return }
                let removed = try await tx.query("""
                    DELETE FROM context.team_members WHERE project_id = \(project) AND user_id = \(user) AND source_time <= \(at)
                    """).affectedRows
                if removed == 1 {
                    try await ChangeLog.append(project, tenant: tenant, entity: "team_member", id: user.lowercased, op: "delete",
                                               data: .object(["user_id": .string(user.lowercased)]), on: tx)
                }
            case EventType.milestoneUpdated.rawValue:
                guard let id = d.string("id").flatMap(UUID.init(uuidString:)) else { return }
                let deleted = d["deleted"] == .bool(true)
                let changed = try await tx.query("""
                    INSERT INTO context.milestones (id, project_id, tenant_id, title, description, due_date, status, deleted, source_time)
                    VALUES (\(id), \(project), \(tenant), \(d.string("title") ?? ""), \(d.string("description") ?? ""),
                            \(d.string("due_date")), \(d.string("status") ?? "planned"), \(deleted), \(at))
                    ON CONFLICT (id) DO UPDATE SET title = EXCLUDED.title, description = EXCLUDED.description,
                        due_date = EXCLUDED.due_date, status = EXCLUDED.status, deleted = EXCLUDED.deleted,
                        source_time = EXCLUDED.source_time
                    WHERE context.milestones.source_time <= EXCLUDED.source_time AND NOT context.milestones.deleted
                    """).affectedRows
                if changed == 1 {
                    var data: [String: JSONValue] = ["id": .string(id.lowercased)]
                    if !deleted {
                        for k in ["title", "description", "due_date", "status"] { data[k] = d[k] ?? .null }
                    }
                    try await ChangeLog.append(project, tenant: tenant, entity: "milestone", id: id.lowercased,
                                               op: deleted ? "delete" : "upsert", data: .object(data), on: tx)
                }
            default:
                return
            }
        }
    }
}

extension JSONValue {
    func string(_ key: String) -> String? {
        if case .string(let s)? = self[key] { return s }
        return nil
    }
}
