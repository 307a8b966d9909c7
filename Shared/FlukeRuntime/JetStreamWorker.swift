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
    let nats: NATSClient
    let deadLetters: DeadLetters
    let logger: Logger
    let handler: Handler
    let mayFetch: FetchGate?
    /// When the worker last had nothing left to handle.
    public let progress: ConsumerProgress

    /// A worker that handles messages one at a time, in stream order.
    public convenience init(nats: NATSClient, configuration: Configuration, deadLetters: DeadLetters, logger: Logger,
                            mayFetch: FetchGate? = nil, progress: ConsumerProgress = ConsumerProgress(),
                            handle: @escaping MessageHandler) {
        self.init(nats: nats, configuration: configuration, deadLetters: deadLetters, logger: logger,
                  mayFetch: mayFetch, progress: progress, handler: .each(handle))
    }

    /// A worker that hands each fetched batch to `handleBatch` at once.
    public convenience init(nats: NATSClient, configuration: Configuration, deadLetters: DeadLetters, logger: Logger,
                            mayFetch: FetchGate? = nil, handleBatch: @escaping BatchHandler) {
        self.init(nats: nats, configuration: configuration, deadLetters: deadLetters, logger: logger,
                  mayFetch: mayFetch, progress: ConsumerProgress(), handler: .batch(handleBatch))
    }

    init(nats: NATSClient, configuration: Configuration, deadLetters: DeadLetters, logger: Logger,
         mayFetch: FetchGate?, progress: ConsumerProgress, handler: Handler) {
        self.configuration = configuration
        self.nats = nats
        consumer = nats.pullConsumer(stream: configuration.stream, durable: configuration.durable,
                                     filterSubject: configuration.filterSubject, ackWait: configuration.ackWait,
                                     maxAckPending: configuration.maxAckPending)
        self.deadLetters = deadLetters
        self.logger = logger
        self.handler = handler
        self.mayFetch = mayFetch
        self.progress = progress
    }

    /// Fetches and handles until graceful shutdown or cancellation. Never throws: a NATS outage
    /// only pauses it.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            // Batch handlers run as child tasks, at most `concurrentBatches` at once (one, and message
            // handlers: each batch is handled before the next is fetched); the group waits for them.
            var concurrency = 1
            if case .batch = self.handler { concurrency = self.configuration.concurrentBatches }
            await withTaskGroup(of: Void.self) { handlers in
                var running = 0
                while !Task.isCancelled {
                    if running == concurrency {
                        await handlers.next()
                        running -= 1
                    }
                    guard let (batch, fetchedAt) = await self.nextBatch() else { continue }
                    if concurrency == 1 {
                        await self.handle(batch)
                        // A partial batch held everything published before the fetch began.
                        if batch.count < self.configuration.batchSize { self.progress.markCaughtUp(fetchedAt) }
                    } else {
                        handlers.addTask { await self.handle(batch) }
                        running += 1
                    }
                    if batch.count < self.configuration.batchSize, self.configuration.linger > .zero {
                        try? await Task.sleep(for: self.configuration.linger)
                    }
                }
            }
        }
    }

    /// The next non-empty batch; nil after a timeout, a shut gate or a failed fetch (after a pause).
    private func nextBatch() async -> ([JetStreamMessage], Date)? {
        do {
            if let mayFetch, try await !mayFetch() {
                try await Task.sleep(for: configuration.pause)
                return nil
            }
            let fetchedAt = Date()
            let generation = nats.generation
            let batch = try await consumer.fetch(batch: configuration.batchSize, timeout: configuration.fetchTimeout)
            // While libnats reconnects, a fetch's pull request sits in its reconnect buffer and
            // the fetch times out empty: that says nothing about the stream.
            let heard = nats.state == .connected && nats.generation == generation
            guard !batch.isEmpty else {
                if heard { progress.markCaughtUp(fetchedAt) }
                return nil
            }
            return (batch, heard ? fetchedAt : .distantPast)
        } catch is CancellationError {
            return nil
        } catch {
            // NATS down or reconnecting: the pull subscription is made again on the next fetch.
            logger.debug("fetch failed; retrying", metadata: ["durable": "\(configuration.durable)", "error": "\(error)"])
            try? await Task.sleep(for: configuration.pause)
            return nil
        }
    }

    func handle(_ batch: [JetStreamMessage]) async {
        switch handler {
        case .each(let handle):
            // Settled one by one, so that a message is acknowledged as soon as it is handled.
            for message in batch { await settle(message, await Outcome(handling: message, with: handle)) }
        case .batch(let handle):
            let outcomes = await handle(batch)
            var done: [JetStreamMessage] = []
            done.reserveCapacity(batch.count)
            for (index, message) in batch.enumerated() {
                let outcome = index < outcomes.count ? outcomes[index] : .retry(reason: "the handler gave no outcome")
                if case .done = outcome { done.append(message) } else { await settle(message, outcome) }
            }
            // One trip to the NATS thread pool for the whole batch: a hop per message cost more
            // than the acknowledgements. Unacknowledged (NATS gone), they come back after the
            // ack wait.
            try? await JetStreamMessage.ack(done)
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
