import FlukeModels
import FlukeNATS
import Foundation
import Logging
import ServiceLifecycle

/// A durable JetStream pull consumer run as a service: fetch a batch, hand it to the service's
/// handler, then acknowledge each message, retry it after a delay, or set it aside as a dead
/// letter (``DeadLetters``, after `FLUKE_CONSUMER_MAX_DELIVERIES` attempts or at once for a
/// ``JetStreamRejection``).
///
/// Durable, so a service catches up after any downtime, its own or the producer's. Fetches run on
/// the NATS layer's thread pool; the pull subscription is made again after every reconnect
/// (libnats 3.4.1 does not restore it) and after a failed fetch. Handlers must be idempotent: a
/// message is delivered at least once.
///
/// ```swift
/// let worker = JetStreamWorker(nats: nats, configuration: .init(durable: "deploy_tracker"),
///                              deadLetters: deadLetters, logger: logger) { message in
///     let event = try message.cloudEvent()
///     try await apply(event)
/// }
/// ```
public final class JetStreamWorker: Service, Sendable {
    /// Handles one message; returning acknowledges it. Throwing ``JetStreamRejection`` makes it a
    /// dead letter at once; any other error redelivers it after ``Configuration/retryDelay``
    /// (a dead letter once it has had its attempts).
    public typealias MessageHandler = @Sendable (JetStreamMessage) async throws -> Void
    /// Handles a whole batch (e.g. in one transaction) and says what became of each message, in
    /// the batch's order.
    public typealias BatchHandler = @Sendable ([JetStreamMessage]) async -> [Outcome]
    /// Asked before every fetch: false skips fetching for a while (e.g. while another replica
    /// holds a lease). Throwing counts as a failed fetch.
    public typealias FetchGate = @Sendable () async throws -> Bool

    enum Handler: Sendable {
        case each(MessageHandler)
        case batch(BatchHandler)
    }

    public let configuration: Configuration
    let consumer: JetStreamPullConsumer
    let deadLetters: DeadLetters
    let logger: Logger
    let handler: Handler
    let mayFetch: FetchGate?

    /// A worker that handles messages one at a time, in stream order.
    public convenience init(nats: NATSClient, configuration: Configuration, deadLetters: DeadLetters, logger: Logger,
                            mayFetch: FetchGate? = nil, handle: @escaping MessageHandler) {
        self.init(nats: nats, configuration: configuration, deadLetters: deadLetters, logger: logger,
                  mayFetch: mayFetch, handler: .each(handle))
    }

    /// A worker that hands each fetched batch to `handleBatch` at once.
    public convenience init(nats: NATSClient, configuration: Configuration, deadLetters: DeadLetters, logger: Logger,
                            mayFetch: FetchGate? = nil, handleBatch: @escaping BatchHandler) {
        self.init(nats: nats, configuration: configuration, deadLetters: deadLetters, logger: logger,
                  mayFetch: mayFetch, handler: .batch(handleBatch))
    }

    init(nats: NATSClient, configuration: Configuration, deadLetters: DeadLetters, logger: Logger,
         mayFetch: FetchGate?, handler: Handler) {
        self.configuration = configuration
        consumer = nats.pullConsumer(stream: configuration.stream, durable: configuration.durable,
                                     filterSubject: configuration.filterSubject, ackWait: configuration.ackWait,
                                     maxAckPending: configuration.maxAckPending)
        self.deadLetters = deadLetters
        self.logger = logger
        self.handler = handler
        self.mayFetch = mayFetch
    }

    /// Fetches and handles until graceful shutdown or cancellation. Never throws: a NATS outage
    /// only pauses it.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    if let mayFetch = self.mayFetch, try await !mayFetch() {
                        try await Task.sleep(for: self.configuration.pause)
                        continue
                    }
                    let batch = try await self.consumer.fetch(batch: self.configuration.batchSize,
                                                              timeout: self.configuration.fetchTimeout)
                    if !batch.isEmpty { await self.handle(batch) }
                } catch is CancellationError {
                    return
                } catch {
                    // NATS down or reconnecting: the pull subscription is made again on the next fetch.
                    self.logger.debug("fetch failed; retrying", metadata: [
                        "durable": "\(self.configuration.durable)", "error": "\(error)"])
                    try? await Task.sleep(for: self.configuration.pause)
                }
            }
        }
    }

    func handle(_ batch: [JetStreamMessage]) async {
        switch handler {
        case .each(let handle):
            // Settled one by one, so that a message is acknowledged as soon as it is handled.
            for message in batch { await settle(message, await Outcome(handling: message, with: handle)) }
        case .batch(let handle):
            let outcomes = await handle(batch)
            for (index, message) in batch.enumerated() {
                let outcome = index < outcomes.count ? outcomes[index] : .retry(reason: "the handler gave no outcome")
                await settle(message, outcome)
            }
        }
    }

    func settle(_ message: JetStreamMessage, _ outcome: Outcome) async {
        switch outcome {
        case .done:
            // Unacknowledged (NATS gone), it comes back after the ack wait: handlers are idempotent.
            try? await message.ack()
        case .retry(let reason):
            // The last attempt's failure is logged by the dead letter it becomes.
            if message.deliveryCount < deadLetters.maxDeliveries {
                logger.warning("could not handle a message; it will be retried", metadata: [
                    "durable": "\(configuration.durable)", "subject": "\(message.message.subject)",
                    "stream_sequence": "\(message.streamSequence)", "attempt": "\(message.deliveryCount)",
                    "error": "\(reason)"])
            }
            await deadLetters.failed(message, reason: reason, delay: configuration.retryDelay)
        case .reject(let rejection):
            await deadLetters.bury(message, reason: rejection.description)
        }
    }
}
