import FlukeModels
import FlukeNATS
import FlukePostgres
import FlukeRuntime
import Foundation
import Logging
import ServiceLifecycle

/// Turns every fleet event into deliveries: a durable JetStream consumer on `fluke.events.>`
/// (``JetStreamWorker``); each fetched batch is recorded in one transaction, then acknowledged. A
/// crash before the acknowledgement means redelivery, which the queue's uniqueness on
/// (event id, subscription) turns into nothing new.
///
/// One replica at a time takes events in (a lease in `webhooks.intake_lease`, renewed with every
/// fetch, taken over when it lapses): batches are then recorded in stream order, so the queue's
/// order is the events' order. Around a takeover, events the old holder fetched but did not
/// acknowledge come back after the ack wait, behind newer ones.
final class Intake: Service, Sendable {
    static let durable = "webhook_dispatcher"
    static let batch = 256
    let nats: NATSClient
    let queue: DeliveryQueue
    let metrics: WebhookMetrics
    let deadLetters: DeadLetters
    let logger: Logger

    init(nats: NATSClient, queue: DeliveryQueue, metrics: WebhookMetrics, deadLetters: DeadLetters, logger: Logger) {
        self.deadLetters = deadLetters
        self.nats = nats
        self.queue = queue
        self.metrics = metrics
        self.logger = logger
    }

    func run() async throws {
        let worker = JetStreamWorker(nats: nats,
                                     configuration: .init(durable: Self.durable, batchSize: Self.batch,
                                                          maxAckPending: Self.batch),
                                     deadLetters: deadLetters, logger: logger,
                                     mayFetch: { [self] in try await holdLease() },
                                     handleBatch: { [self] batch in await handle(batch) })
        try await worker.run()
        // Another replica (or this one's successor) takes over at once, not when the lease lapses.
        try? await queue.postgres.query("DELETE FROM webhooks.intake_lease WHERE owner = \(queue.replica)")
    }

    /// Takes or renews the intake lease; false while another replica holds it.
    private func holdLease() async throws -> Bool {
        try await queue.postgres.query("""
            INSERT INTO webhooks.intake_lease (id, owner, until) VALUES (1, \(queue.replica), now() + interval '10 seconds')
            ON CONFLICT (id) DO UPDATE SET owner = EXCLUDED.owner, until = EXCLUDED.until
                WHERE webhooks.intake_lease.owner = EXCLUDED.owner OR webhooks.intake_lease.until < now()
            RETURNING id
            """).first != nil
    }

    /// Records the batch's deliveries; a message that is no event with a UUID id is rejected.
    private func handle(_ batch: [JetStreamMessage]) async -> [JetStreamWorker.Outcome] {
        var outcomes: [JetStreamWorker.Outcome] = []
        var events: [(index: Int, event: DeliveryQueue.IncomingEvent)] = []
        for (index, message) in batch.enumerated() {
            switch Self.incoming(message) {
            case .failure(let rejection):
                outcomes.append(.reject(rejection))
            case .success(let event):
                outcomes.append(.done)
                if let event { events.append((index, event)) }
            }
        }
        metrics.eventsReceived.increment(by: Int64(batch.count))
        do {
            try await record(events.map(\.event))
        } catch {
            // One bad event must not hold back the batch: each is tried alone, and the one that
            // keeps failing becomes a dead letter after its attempts.
            logger.warning("could not record a batch of deliveries; recording its events one by one",
                           metadata: ["events": "\(events.count)", "error": "\(error)"])
            for (index, event) in events {
                do {
                    try await record([event])
                } catch {
                    outcomes[index] = .retry(reason: "\(error)")
                }
            }
        }
        return outcomes
    }

    /// The event `message` carries, nil when it reaches no subscription.
    private static func incoming(_ message: JetStreamMessage) -> Result<DeliveryQueue.IncomingEvent?, JetStreamRejection> {
        guard let event = try? message.cloudEvent(), let id = UUID(uuidString: event.id) else {
            return .failure(JetStreamRejection(.malformed, "not a CloudEvent with a UUID id"))
        }
        // Subscriptions belong to a tenant's project: events without both reach nobody.
        guard let tenant = event.tenantid.flatMap(UUID.init(uuidString:)),
              let project = event.projectid.flatMap(UUID.init(uuidString:)),
              let body = try? DeliveryQueue.body(type: event.type, time: event.time, project: project, data: event.data)
        else { return .success(nil) }
        return .success(.init(id: id, type: event.type, tenant: tenant, project: project, time: event.time, body: body))
    }

    private func record(_ events: [DeliveryQueue.IncomingEvent]) async throws {
        guard !events.isEmpty else { return }
        let created = try await queue.record(events)
        metrics.deliveriesCreated.increment(by: Int64(created))
    }
}
