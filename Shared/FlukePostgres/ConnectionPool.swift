import Logging
import NIOPosix

/// The pool's bookkeeping: idle connections, a bound on open ones, and a FIFO of waiters.
///
/// A connection that failed at the connection level is closed instead of returned, and so is every
/// idle connection opened before that failure: after a Postgres restart they are all dead, and
/// dropping them at once spares each caller a failed first query.
actor ConnectionPool {
    private let configuration: PostgresClient.Configuration
    private let threadPool: NIOThreadPool
    private let logger: Logger
    private var idle: [PostgresConnection] = []
    private(set) var total = 0
    private var waiters: [(id: Int, continuation: CheckedContinuation<PostgresConnection, any Error>)] = []
    private var nextWaiterID = 0
    private var closed = false

    init(configuration: PostgresClient.Configuration, threadPool: NIOThreadPool, logger: Logger) {
        self.configuration = configuration
        self.threadPool = threadPool
        self.logger = logger
    }

    func acquire() async throws -> PostgresConnection {
        if closed { throw PostgresError(.poolClosed, "the connection pool is closed") }
        while let connection = idle.popLast() {
            if connection.isHealthy { return connection }
            discard(connection)
        }
        if total < configuration.maxConnections {
            total += 1
            do {
                return try await open()
            } catch {
                total -= 1
                wakeWaiterWithNewConnection()
                throw error
            }
        }
        let id = nextWaiterID
        nextWaiterID += 1
        let timeout = configuration.acquireTimeout
        let timer = Task { [weak self] in
            try await Task.sleep(for: timeout)
            await self?.timeOut(waiter: id)
        }
        defer { timer.cancel() }
        return try await withCheckedThrowingContinuation { continuation in
            waiters.append((id, continuation))
        }
    }

    func release(_ connection: PostgresConnection, failure: (any Error)? = nil) {
        if let error = failure as? PostgresError, error.isConnectionFailure || !connection.isHealthy {
            logger.warning("postgres connection lost; dropping idle connections", metadata: ["error": "\(error)"])
            discard(connection)
            let stale = idle
            idle.removeAll()
            stale.forEach(discard)
            wakeWaiterWithNewConnection()
            return
        }
        guard !closed, connection.isHealthy, connection.isIdle else {
            discard(connection)
            wakeWaiterWithNewConnection()
            return
        }
        if !waiters.isEmpty {
            waiters.removeFirst().continuation.resume(returning: connection)
        } else {
            idle.append(connection)
        }
    }

    func close() {
        closed = true
        let connections = idle
        idle.removeAll()
        connections.forEach(discard)
        let pending = waiters
        waiters.removeAll()
        for waiter in pending {
            waiter.continuation.resume(throwing: PostgresError(.poolClosed, "the connection pool is closed"))
        }
    }

    private func open() async throws -> PostgresConnection {
        let configuration = self.configuration
        return try await threadPool.runIfActive {
            try PostgresConnection(url: configuration.url, applicationName: configuration.applicationName,
                                   connectTimeout: configuration.connectTimeoutSeconds)
        }
    }

    private func discard(_ connection: PostgresConnection) {
        total -= 1
        // PQfinish may block on the socket: do it on the pool's threads.
        _ = threadPool.runIfActive(eventLoop: MultiThreadedEventLoopGroup.singleton.any()) { connection.close() }
    }

    /// A slot freed up: open a connection for the longest waiter, if any.
    private func wakeWaiterWithNewConnection() {
        guard !waiters.isEmpty, total < configuration.maxConnections, !closed else { return }
        let waiter = waiters.removeFirst()
        total += 1
        Task {
            do {
                let connection = try await open()
                waiter.continuation.resume(returning: connection)
            } catch {
                total -= 1
                waiter.continuation.resume(throwing: error)
            }
        }
    }

    private func timeOut(waiter id: Int) {
        guard let index = waiters.firstIndex(where: { $0.id == id }) else { return }
        let waiter = waiters.remove(at: index)
        waiter.continuation.resume(throwing: PostgresError(
            .poolTimeout, "no database connection became free within \(configuration.acquireTimeout)"))
    }
}
