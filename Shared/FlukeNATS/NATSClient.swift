import CNats
import FlukeModels
import Foundation
import Logging
import NIOPosix
import ServiceLifecycle
import Synchronization

/// The async face of libnats: publish, subscribe as an `AsyncSequence`, request/reply and
/// JetStream, with every potentially blocking call on a dedicated thread pool.
///
/// Run it as a `Service`: on graceful shutdown it closes its subscriptions, then the connection.
public final class NATSClient: Service, Sendable {
    public struct Configuration: Sendable {
        public var url: String
        /// Shown in the server's connection list (`connz`).
        public var name: String
        public var reconnectWait: Duration
        public var reconnectJitter: Duration
        /// Threads for blocking calls (requests, JetStream publishes and fetches).
        public var threads: Int
        /// Write each publish to the socket at once instead of after libnats' 1 ms flusher delay:
        /// lower latency for request/reply and JetStream acks, lower throughput for bulk publishing.
        public var sendAsap: Bool
        /// Who this client is; `nil` connects anonymously (refused by the fleet's nats-server).
        public var credentials: NATSCredentials?
        /// Verify the server's TLS certificate against this CA (and require TLS).
        public var tls: NATSTLS?
        /// Where replies to this client's requests arrive (`_INBOX` when `nil`). Services use
        /// `_INBOX.<service>`, the only inbox their NATS user may subscribe to.
        public var inboxPrefix: String?

        public init(url: String, name: String, credentials: NATSCredentials? = nil, tls: NATSTLS? = nil,
                    inboxPrefix: String? = nil, reconnectWait: Duration = .milliseconds(500),
                    reconnectJitter: Duration = .milliseconds(250), threads: Int = 4, sendAsap: Bool = false) {
            self.url = url
            self.name = name
            self.credentials = credentials
            self.tls = tls
            self.inboxPrefix = inboxPrefix
            self.reconnectWait = reconnectWait
            self.reconnectJitter = reconnectJitter
            self.threads = threads
            self.sendAsap = sendAsap
        }
    }

    let connection: NATSConnection
    let threadPool: NIOThreadPool
    let publisher: NATSPublisher
    let logger: Logger
    private let subscriptions = Mutex<[ObjectIdentifier: NATSSubscriptionCore]>([:])
    let requests: NATSRequestMux

    /// Connects once; see ``connect(_:logger:attempts:delay:onStateChange:)`` for retries.
    public init(configuration: Configuration, logger: Logger,
                onStateChange: @escaping @Sendable (NATSConnectionState) -> Void = { _ in }) throws {
        self.logger = logger
        let log = logger
        let events = NATSConnectionEvents(onChange: { state in
            log.info("nats connection state changed", metadata: ["state": "\(state.rawValue)"])
            onStateChange(state)
        }, onError: { message in
            log.error("nats error", metadata: ["error": "\(message)"])
        })
        connection = try NATSConnection(url: configuration.url, name: configuration.name,
                                        credentials: configuration.credentials, tls: configuration.tls,
                                        inboxPrefix: configuration.inboxPrefix,
                                        reconnectWait: configuration.reconnectWait,
                                        reconnectJitter: configuration.reconnectJitter,
                                        sendAsap: configuration.sendAsap, events: events)
        requests = NATSRequestMux(inboxPrefix: configuration.inboxPrefix ?? "_INBOX")
        threadPool = NIOThreadPool(numberOfThreads: configuration.threads)
        threadPool.start()
        publisher = NATSPublisher(connection: connection)
    }

    /// Connects, retrying `attempts` times `delay` apart (the server may still be starting).
    public static func connect(_ configuration: Configuration, logger: Logger, attempts: Int = 10,
                               delay: Duration = .seconds(1),
                               onStateChange: @escaping @Sendable (NATSConnectionState) -> Void = { _ in })
        async throws -> NATSClient {
        var attempt = 1
        while true {
            do {
                return try await NIOThreadPool.singleton.runIfActive {
                    try NATSClient(configuration: configuration, logger: logger, onStateChange: onStateChange)
                }
            } catch {
                guard attempt < attempts else { throw error }
                logger.warning("waiting for NATS", metadata: [
                    "attempt": "\(attempt)", "of": "\(attempts)", "error": "\(error)"])
                attempt += 1
                try await Task.sleep(for: delay)
            }
        }
    }

    /// Connected, reconnecting or closed.
    public var state: NATSConnectionState { connection.events.state.withLock { $0 } }

    /// What libnats last reported going wrong (an authorization or permissions violation, a lost
    /// server), cleared when the connection is up again.
    public var lastError: String? { connection.events.lastError.withLock { $0 } }

    /// Counts (re)connections: whatever a subscriber may have missed while disconnected happened before it changed.
    public var generation: Int { connection.events.generation.load(ordering: .relaxed) }

    public func run() async throws {
        try? await gracefulShutdown()
        await shutdown()
    }

    /// Unsubscribes everything, flushes, and closes the connection. Idempotent.
    public func shutdown() async {
        let subs = subscriptions.withLock { subs in
            defer { subs.removeAll() }
            return Array(subs.values)
        }
        for sub in subs { sub.cancel() }
        requests.cancelAll()
        let connection = self.connection
        let publisher = self.publisher
        _ = try? await threadPool.runIfActive {
            // Whatever was queued goes out before the connection closes.
            publisher.stop()
            _ = natsConnection_FlushTimeout(connection.nc, 2000)
            connection.close()
        }
        try? await threadPool.shutdownGracefully()
    }

    // MARK: Core NATS

    /// Publishes a message: queued for the publisher thread, then buffered by libnats, and
    /// delivered at most once (core NATS). Waits only when the queue is full.
    public func publish(_ subject: String, payload: Data, headers: [String: String] = [:]) async throws {
        try await enqueue(.message(NATSMessage(subject: subject, headers: headers, payload: payload)))
    }

    /// Queues a message without waiting, from any thread (libnats' delivery threads included):
    /// `false` when the queue is full or the client is shut down.
    public func publishNow(_ subject: String, payload: Data) -> Bool {
        if case .queued = publisher.enqueue(.message(NATSMessage(subject: subject, payload: payload))) { return true }
        return false
    }

    /// Publishes on the calling thread, for handlers running on libnats' delivery thread (see
    /// ``NATSHandlerSubscription``): a reply leaves without a hop to the publisher thread. Never
    /// call it from Swift concurrency's threads (use ``publish(_:payload:headers:)``).
    public func publishOnDeliveryThread(_ subject: String, payload: Data) -> Bool {
        let nc = connection.nc
        return payload.withUnsafeBytes { raw in
            natsConnection_Publish(nc, subject, raw.baseAddress, Int32(raw.count)) == NATS_OK
        }
    }

    /// Publishes many messages, in order.
    public func publish(batch messages: [NATSMessage]) async throws {
        try await enqueue(.messages(messages))
    }

    private func enqueue(_ item: NATSPublisher.Item) async throws {
        while true {
            switch publisher.enqueue(item) {
            case .queued: return
            case .full: try await Task.sleep(for: .microseconds(200))
            case .stopped:
                throw NATSError(status: NATS_CONNECTION_CLOSED.rawValue, message: "the client is shut down")
            }
        }
    }

    /// Messages the publisher thread could not hand to libnats (connection closed, too large).
    public var failedPublishes: Int { publisher.failures.load(ordering: .relaxed) }

    /// Publishes a message that carries headers or a reply subject (a `natsMsg` is needed);
    /// plain messages take the publisher thread's direct path.
    static func publishWithHeaders(_ nc: OpaquePointer, _ message: borrowing NATSMessage) throws {
        let msg = try message.makeNatsMsg()
        defer { natsMsg_Destroy(msg) }
        try natsCheck(natsConnection_PublishMsg(nc, msg), "publishing on \(message.subject)")
    }

    /// Waits until the server has processed everything published so far.
    public func flush(timeout: Duration = .seconds(5)) async throws {
        try await withCheckedThrowingContinuation { continuation in
            _ = publisher.enqueue(.flush(timeout, continuation))
        }
    }

    /// Subscribes to `subject` (wildcards allowed), optionally in a queue group so that replicas
    /// share the messages. At most `bufferLimit` messages wait in Swift (see ``NATSSubscription``).
    public func subscribe(_ subject: String, queue: String? = nil, bufferLimit: Int = 4096)
        throws -> NATSSubscription {
        let sub = try NATSSubscription(nc: connection.nc, subject: subject, queue: queue, bufferLimit: bufferLimit)
        track(sub.core)
        return sub
    }

    /// Subscribes with a handler run on libnats' delivery thread (see ``NATSHandlerSubscription``).
    public func subscribe(_ subject: String, queue: String? = nil,
                          handler: @escaping @Sendable (NATSMessageView) -> Void) throws -> NATSHandlerSubscription {
        let sub = try NATSHandlerSubscription(nc: connection.nc, subject: subject, queue: queue, handler: handler)
        track(sub.core)
        return sub
    }

    /// Shutdown cancels what is still subscribed.
    func track(_ core: NATSSubscriptionCore) {
        let id = ObjectIdentifier(core)
        subscriptions.withLock { $0[id] = core }
        core.onCancel = { [weak self] in
            _ = self?.subscriptions.withLock { $0.removeValue(forKey: id) }
        }
    }

    /// Answers a request received on a subscription.
    public func respond(to request: NATSMessage, payload: Data, headers: [String: String] = [:]) async throws {
        guard let reply = request.reply else { return }
        try await publish(reply, payload: payload, headers: headers)
    }
}

extension NATSClient {
    /// Releases libnats' global resources (`nats_CloseAndWait`). Call once, at process exit,
    /// after every client has shut down.
    public static func releaseLibrary(timeout: Duration = .seconds(2)) {
        _ = nats_CloseAndWait(timeout.wholeMilliseconds)
    }
}
