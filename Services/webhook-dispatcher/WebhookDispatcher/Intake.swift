import FlukeModels
import FlukeNATS
import FlukePostgres
import FlukeRuntime
import Foundation
import Logging
import ServiceLifecycle

/// Turns every fleet event into deliveries: a durable JetStream pull consumer on
/// `fluke.events.>`; each fetched batch is recorded in one transaction, then acknowledged. A
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
    let logger: Logger

    init(nats: NATSClient, queue: DeliveryQueue, metrics: WebhookMetrics, logger: Logger) {
        self.nats = nats
        self.queue = queue
        self.metrics = metrics
        self.logger = logger
    }

    func run() async throws {
        let consumer = nats.pullConsumer(stream: EventType.streamName, durable: Self.durable,
                                         filterSubject: EventType.subjectPrefix + ">", ackWait: .seconds(30),
                                         maxAckPending: Self.batch)
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    guard try await self.holdLease() else {
                        try await Task.sleep(for: .milliseconds(500))
                        continue
                    }
                    let batch = try await consumer.fetch(batch: Self.batch, timeout: .milliseconds(500))
                    if !batch.isEmpty { await self.handle(batch) }
                } catch is CancellationError {
                    return
                } catch {
                    // NATS down or reconnecting: the pull subscription is made again on the next fetch.
                    self.logger.debug("intake fetch failed; retrying", metadata: ["error": "\(error)"])
                    try? await Task.sleep(for: .milliseconds(500))
                }
            }
        }
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

    private func handle(_ batch: [JetStreamMessage]) async {
        var events: [DeliveryQueue.IncomingEvent] = []
        var undecodable: [JetStreamMessage] = []
        let decoder = CloudEvent.decoder()
        for message in batch {
            guard let event = try? decoder.decode(CloudEvent.self, from: message.message.payload),
                  let id = UUID(uuidString: event.id) else {
                undecodable.append(message)
                continue
            }
            // Subscriptions belong to a tenant's project: events without both reach nobody.
            guard let tenant = event.tenantid.flatMap(UUID.init(uuidString:)),
                  let project = event.projectid.flatMap(UUID.init(uuidString:)),
                  let body = try? DeliveryQueue.body(type: event.type, time: event.time, project: project, data: event.data)
            else { continue }
            events.append(.init(id: id, type: event.type, tenant: tenant, project: project, time: event.time, body: body))
        }
        for message in undecodable {
            logger.warning("dropping an undecodable event", metadata: ["subject": "\(message.message.subject)"])
            try? await message.term()
        }
        do {
            let created = try await queue.record(events)
            metrics.eventsReceived.increment(by: Int64(batch.count))
            metrics.deliveriesCreated.increment(by: Int64(created))
            for message in batch where !undecodable.contains(where: { $0 === message }) { try? await message.ack() }
        } catch {
            logger.warning("could not record deliveries; the events will be redelivered", metadata: ["error": "\(error)"])
            for message in batch where !undecodable.contains(where: { $0 === message }) {
                try? await message.nak(delay: .seconds(1))
            }
        }
    }
}
