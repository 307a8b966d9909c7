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
        var events: [(message: JetStreamMessage, event: DeliveryQueue.IncomingEvent?)] = []
        let decoder = CloudEvent.decoder()
        for message in batch {
            guard let event = try? decoder.decode(CloudEvent.self, from: message.message.payload),
                  let id = UUID(uuidString: event.id) else {
                await deadLetters.bury(message, reason: "not a CloudEvent with a UUID id")
                continue
            }
            // Subscriptions belong to a tenant's project: events without both reach nobody.
            guard let tenant = event.tenantid.flatMap(UUID.init(uuidString:)),
                  let project = event.projectid.flatMap(UUID.init(uuidString:)),
                  let body = try? DeliveryQueue.body(type: event.type, time: event.time, project: project, data: event.data)
            else {
                events.append((message, nil))
                continue
            }
            events.append((message, .init(id: id, type: event.type, tenant: tenant, project: project, time: event.time,
                                          body: body)))
        }
        metrics.eventsReceived.increment(by: Int64(batch.count))
        do {
            try await record(events.compactMap(\.event))
            for entry in events { try? await entry.message.ack() }
        } catch {
            // One bad event must not hold back the batch: each is tried alone, and the one that
            // keeps failing becomes a dead letter after its attempts.
            logger.warning("could not record a batch of deliveries; recording its events one by one",
                           metadata: ["events": "\(events.count)", "error": "\(error)"])
            for entry in events {
                do {
                    if let event = entry.event { try await record([event]) }
                    try? await entry.message.ack()
                } catch {
                    await deadLetters.failed(entry.message, reason: "\(error)")
                }
            }
        }
    }

    private func record(_ events: [DeliveryQueue.IncomingEvent]) async throws {
        guard !events.isEmpty else { return }
        let created = try await queue.record(events)
        metrics.deliveriesCreated.increment(by: Int64(created))
    }
}
