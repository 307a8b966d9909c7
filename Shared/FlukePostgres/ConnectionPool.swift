import Logging
import NIOCore
import NIOPosix
import Synchronization

/// The pool's bookkeeping: idle connections, a bound on open ones, and a FIFO of waiters.
///
/// A lock, not an actor: taking an idle connection is a few instructions, and an actor would add
/// two executor hops to every query. A connection that failed at the connection level is closed
/// instead of returned, and so is every idle connection: after a Postgres restart they are all
/// dead, and dropping them at once spares each caller a failed first query.
final class ConnectionPool: Sendable {
    private struct State {
        var idle: [PostgresConnection] = []
        var total = 0
        var waiters: [(id: Int, continuation: CheckedContinuation<PostgresConnection, any Error>)] = []
        var nextWaiterID = 0
        var closed = false
    }

    private let configuration: PostgresClient.Configuration
    private let threadPool: NIOThreadPool
    private let logger: Logger
    private let state = Mutex(State())

    init(configuration: PostgresClient.Configuration, threadPool: NIOThreadPool, logger: Logger) {
        self.configuration = configuration
        self.threadPool = threadPool
        self.logger = logger
    }

    var total: Int { state.withLock { $0.total } }

    private enum Next { case ready(PostgresConnection), open, wait, closed }

    /// An idle healthy connection, if one is free right now.
    func tryAcquireIdle() -> PostgresConnection? {
        var stale: [PostgresConnection] = []
        let connection = state.withLock { s -> PostgresConnection? in
            while let c = s.idle.popLast() {
                if c.isHealthy { return c }
                s.total -= 1
                stale.append(c)
            }
            return nil
        }
        stale.forEach(close)
        return connection
    }

    func acquire() async throws -> PostgresConnection {
        if let connection = tryAcquireIdle() { return connection }
        let next = state.withLock { s -> Next in
            if s.closed { return .closed }
            if let c = s.idle.popLast() { return .ready(c) }
            if s.total < configuration.maxConnections {
                s.total += 1
                return .open
            }
            return .wait
        }
        switch next {
        case .ready(let connection):
            return connection
        case .closed:
            throw PostgresError(.poolClosed, "the connection pool is closed")
        case .open:
            do {
                return try await open()
            } catch {
                state.withLock { $0.total -= 1 }
                wakeWaiterWithNewConnection()
                throw error
            }
        case .wait:
            let timeout = configuration.acquireTimeout
            return try await withCheckedThrowingContinuation { continuation in
                let id = state.withLock { s -> Int in
                    s.nextWaiterID += 1
                    s.waiters.append((s.nextWaiterID, continuation))
                    return s.nextWaiterID
                }
                Task { [weak self] in
                    try? await Task.sleep(for: timeout)
                    self?.timeOut(waiter: id)
                }
            }
        }
    }

    func release(_ connection: PostgresConnection, failure: (any Error)? = nil) {
        if let error = failure as? PostgresError, error.isConnectionFailure || !connection.isHealthy {
            logger.warning("postgres connection lost; dropping idle connections", metadata: ["error": "\(error)"])
            let stale = state.withLock { s -> [PostgresConnection] in
                let stale = s.idle + [connection]
                s.idle.removeAll()
                s.total -= stale.count
                return stale
            }
            stale.forEach(close)
            wakeWaiterWithNewConnection()
            return
        }
        let keep = connection.isHealthy && connection.isIdle
        let waiter = state.withLock { s -> CheckedContinuation<PostgresConnection, any Error>? in
            guard !s.closed, keep else {
                s.total -= 1
                return nil
            }
            if !s.waiters.isEmpty { return s.waiters.removeFirst().continuation }
            s.idle.append(connection)
            return nil
        }
        if let waiter {
            waiter.resume(returning: connection)
        } else if !keep || state.withLock({ $0.closed }) {
            close(connection)
            wakeWaiterWithNewConnection()
        }
    }

    func close() {
        let (connections, waiters) = state.withLock { s in
            s.closed = true
            defer {
                s.total -= s.idle.count
                s.idle.removeAll()
                s.waiters.removeAll()
            }
            return (s.idle, s.waiters)
        }
        connections.forEach(close)
        for waiter in waiters {
            waiter.continuation.resume(throwing: PostgresError(.poolClosed, "the connection pool is closed"))
        }
    }

    private func open() async throws -> PostgresConnection {
        let configuration = self.configuration
        return try await threadPool.runIfActive {
            try PostgresConnection(url: configuration.url, applicationName: configuration.applicationName,
                                   connectTimeout: configuration.connectTimeoutSeconds,
                                   settings: configuration.sessionSettings)
        }
    }

    /// PQfinish may block on the socket: it runs on the pool's threads.
    private func close(_ connection: PostgresConnection) {
        _ = threadPool.runIfActive(eventLoop: MultiThreadedEventLoopGroup.singleton.any()) { connection.close() }
    }

    /// A slot freed up: open a connection for the longest waiter, if any.
    private func wakeWaiterWithNewConnection() {
        let waiter = state.withLock { s -> CheckedContinuation<PostgresConnection, any Error>? in
            guard !s.waiters.isEmpty, s.total < configuration.maxConnections, !s.closed else { return nil }
            s.total += 1
            return s.waiters.removeFirst().continuation
        }
        guard let waiter else { return }
        Task {
            do {
                waiter.resume(returning: try await open())
            } catch {
                state.withLock { $0.total -= 1 }
                waiter.resume(throwing: error)
            }
        }
    }

    private func timeOut(waiter id: Int) {
        let waiter = state.withLock { s -> CheckedContinuation<PostgresConnection, any Error>? in
            guard let index = s.waiters.firstIndex(where: { $0.id == id }) else { return nil }
            return s.waiters.remove(at: index).continuation
        }
        waiter?.resume(throwing: PostgresError(
            .poolTimeout, "no database connection became free within \(configuration.acquireTimeout)"))
    }
}
