import FlukeModels

extension JetStreamWorker {
    /// Which durable consumer a worker reads, and how much at a time.
    public struct Configuration: Sendable {
        /// The durable consumer's name: unique per service, shared by its replicas.
        public var durable: String
        /// The subjects it takes, as one NATS wildcard subject (libnats 3.4.1 consumers have one filter).
        public var filterSubject: String
        public var stream: String
        /// The most messages one fetch returns.
        public var batchSize: Int
        /// How long a fetch waits for messages before it returns what it has.
        public var fetchTimeout: Duration
        /// How long the server waits for an acknowledgement before it redelivers.
        public var ackWait: Duration
        /// The most unacknowledged messages the server hands this consumer.
        public var maxAckPending: Int
        /// How long a failed message waits before it is redelivered.
        public var retryDelay: Duration
        /// The wait after a failed fetch, or while the fetch gate is shut.
        public var pause: Duration
        /// For a batch handler: how many batches it may handle at once (each fetched while the
        /// others are handled), so that fetching and the handler's own waits (a database
        /// round trip) overlap. Only for handlers that do not need stream order across batches.
        /// A failed fetch makes a new pull subscription while the others' messages still
        /// acknowledge through the old one, which lives until the last of them is gone.
        public var concurrentBatches: Int
        /// How long the worker waits before fetching again after a batch smaller than
        /// `batchSize`: a steady trickle of messages is then handled in fewer, larger batches
        /// (fewer fetches, statements and commits) for at most this much more delay. After an
        /// empty fetch it does not wait: the first message after a quiet spell is taken at once.
        public var linger: Duration

        /// Every fleet event by default (`fluke.events.>` in `FLUKE_EVENTS`).
        public init(durable: String, filterSubject: String = EventType.subjectPrefix + ">",
                    stream: String = EventType.streamName, batchSize: Int = 128,
                    fetchTimeout: Duration = .milliseconds(500), ackWait: Duration = .seconds(30),
                    maxAckPending: Int = 10_000, retryDelay: Duration = .seconds(1),
                    pause: Duration = .milliseconds(500), concurrentBatches: Int = 1, linger: Duration = .zero) {
            self.durable = durable
            self.filterSubject = filterSubject
            self.stream = stream
            self.batchSize = batchSize
            self.fetchTimeout = fetchTimeout
            self.ackWait = ackWait
            self.maxAckPending = maxAckPending
            self.retryDelay = retryDelay
            self.pause = pause
            self.concurrentBatches = max(1, concurrentBatches)
            self.linger = linger
        }
    }
}
