import FlukeModels
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// What a ``PostgresListener`` reports.
public enum PostgresNotification: Sendable, Equatable {
    /// A `NOTIFY` on one of the listened channels.
    case notification(channel: String, payload: String)
    /// The listening connection was (re)established: notifications sent while it was down are
    /// lost, so a consumer should look for work it may have missed.
    case connected
}

/// `LISTEN` on a dedicated connection and thread (libpq blocks while it waits), reconnecting
/// forever; notifications arrive as an `AsyncStream`.
///
/// Run it as a `Service`; graceful shutdown stops the thread and closes the connection.
public final class PostgresListener: Service, Sendable {
    public let channels: [String]
    public let notifications: AsyncStream<PostgresNotification>
    private let continuation: AsyncStream<PostgresNotification>.Continuation
    private let url: String
    private let logger: Logger
    private let stopped = Atomic<Bool>(false)
    private let reconnectDelay: Duration

    public init(url: String, channels: [String], reconnectDelay: Duration = .seconds(1), logger: Logger) {
        precondition(channels.allSatisfy(PostgresIdentifier.isValid), "channel names must be plain identifiers")
        self.url = url
        self.channels = channels
        self.logger = logger
        self.reconnectDelay = reconnectDelay
        (notifications, continuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(10_000))
    }

    public func run() async throws {
        let thread = Thread { [self] in loop() }
        thread.name = "pg-listen"
        thread.start()
        try? await gracefulShutdown()
        stop()
    }

    /// Stops listening (idempotent); the stream finishes.
    public func stop() {
        stopped.store(true, ordering: .relaxed)
    }

    private func loop() {
        defer { continuation.finish() }
        while !stopped.load(ordering: .relaxed) {
            do {
                let connection = try PostgresConnection(url: url, applicationName: "listener")
                defer { connection.close() }
                for channel in channels { _ = try connection.execute(PostgresQuery(stringLiteral: "LISTEN \"\(channel)\"")) }
                continuation.yield(.connected)
                while !stopped.load(ordering: .relaxed) {
                    for (channel, payload) in try connection.waitForNotifications(timeoutMilliseconds: 200) {
                        continuation.yield(.notification(channel: channel, payload: payload))
                    }
                }
            } catch {
                logger.warning("postgres listener lost its connection; reconnecting", metadata: ["error": "\(error)"])
                Thread.sleep(forTimeInterval: reconnectDelay.secondsValue)
            }
        }
    }
}
