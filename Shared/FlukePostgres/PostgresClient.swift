import FlukeModels
import Foundation
import Logging
import NIOPosix
import ServiceLifecycle

/// The async face of libpq: a bounded pool of connections whose blocking calls run on a dedicated
/// thread pool, never on Swift concurrency's threads.
///
/// Run it as a `Service` so that graceful shutdown closes every connection.
public final class PostgresClient: Service, Sendable {
    /// How the pool connects and how big it may grow.
    public struct Configuration: Sendable {
        public var url: String
        public var applicationName: String
        public var maxConnections: Int
        public var acquireTimeout: Duration
        public var connectTimeoutSeconds: Int
        /// `statement_timeout` of every connection: a statement running longer is cancelled
        /// (SQLSTATE 57014). `nil` leaves the server's setting. Defaults to `nil`.
        public var statementTimeout: Duration?
        /// `idle_in_transaction_session_timeout`: a session idle inside a transaction that long is
        /// ended, so a stuck caller cannot hold locks forever. `nil` leaves the server's setting.
        public var idleInTransactionTimeout: Duration?

        public init(url: String, applicationName: String, maxConnections: Int = 10,
                    acquireTimeout: Duration = .seconds(10), connectTimeoutSeconds: Int = 5,
                    statementTimeout: Duration? = nil, idleInTransactionTimeout: Duration? = nil) {
            self.statementTimeout = statementTimeout
            self.idleInTransactionTimeout = idleInTransactionTimeout
            self.url = url
            self.applicationName = applicationName
            self.maxConnections = max(1, maxConnections)
            self.acquireTimeout = acquireTimeout
            self.connectTimeoutSeconds = connectTimeoutSeconds
        }
    }

    public let configuration: Configuration
    let pool: ConnectionPool
    let threadPool: NIOThreadPool
    let logger: Logger

    public init(configuration: Configuration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        // One thread per connection: a blocked libpq call never waits for a thread.
        self.threadPool = NIOThreadPool(numberOfThreads: configuration.maxConnections)
        self.threadPool.start()
        self.pool = ConnectionPool(configuration: configuration, threadPool: threadPool, logger: logger)
    }

    /// Waits for graceful shutdown, then closes every connection and the thread pool.
    public func run() async throws {
        try? await gracefulShutdown()
        await shutdown()
    }

    /// Closes the pool now. Idempotent.
    public func shutdown() async {
        pool.close()
        try? await threadPool.shutdownGracefully()
    }

    /// Runs one statement on a pooled connection.
    @discardableResult
    public func query(_ query: PostgresQuery) async throws -> PostgresRows {
        // Fast path: an idle connection, taken, used and returned in a single thread-pool hop.
        if let connection = pool.tryAcquireIdle() {
            let pool = self.pool
            do {
                let rows = try await threadPool.runIfActive { try connection.execute(query) }
                pool.release(connection)
                return rows
            } catch {
                pool.release(connection, failure: error)
                throw error
            }
        }
        return try await withConnection { try await $0.query(query) }
    }

    /// Lends a connection for several statements. Do not keep it beyond `body`.
    public func withConnection<T: Sendable>(_ body: (PostgresHandle) async throws -> T) async throws -> T {
        let connection = try await pool.acquire()
        let handle = PostgresHandle(connection: connection, threadPool: threadPool)
        do {
            let value = try await body(handle)
            pool.release(connection)
            return value
        } catch {
            pool.release(connection, failure: error)
            throw error
        }
    }

    /// Runs `body` inside `BEGIN … COMMIT`; any error rolls back.
    ///
    /// Per-request settings belong here, never on the session:
    /// `try await tx.setLocal("app.tenant_id", tenantID)`.
    public func withTransaction<T: Sendable>(_ body: (PostgresHandle) async throws -> T) async throws -> T {
        try await withConnection { conn in
            try await conn.query("BEGIN")
            do {
                let value = try await body(conn)
                try await conn.query("COMMIT")
                return value
            } catch {
                _ = try? await conn.query("ROLLBACK")
                throw error
            }
        }
    }

    /// Runs `statements` in one transaction, in one hop to the pool's threads and one round trip
    /// to the server (a libpq pipeline), returning each statement's rows: for short requests whose
    /// statements do not depend on each other's results (a tenant setting, then a read).
    public func transaction(_ statements: [PostgresQuery]) async throws -> [PostgresRows] {
        let connection: PostgresConnection
        if let idle = pool.tryAcquireIdle() { connection = idle } else { connection = try await pool.acquire() }
        do {
            let rows = try await threadPool.runIfActive { () throws -> [PostgresRows] in
                do {
                    let rows = try connection.executePipeline(["BEGIN"] + statements + ["COMMIT"])
                    return Array(rows.dropFirst().dropLast())
                } catch {
                    if connection.isHealthy && !connection.isIdle { _ = try? connection.execute("ROLLBACK") }
                    throw error
                }
            }
            pool.release(connection)
            return rows
        } catch {
            pool.release(connection, failure: error)
            throw error
        }
    }

    /// `SELECT 1` on a connection, for readiness probes.
    public func ping() async throws {
        try await query("SELECT 1")
    }

    /// Connections open now (idle and lent), for metrics.
    public var openConnections: Int { pool.total }
}

/// A connection lent by the pool. Each call hops to the pool's thread pool.
public struct PostgresHandle: Sendable {
    let connection: PostgresConnection
    let threadPool: NIOThreadPool

    /// Runs one parameterized statement.
    @discardableResult
    public func query(_ query: PostgresQuery) async throws -> PostgresRows {
        let connection = self.connection
        return try await threadPool.runIfActive { try connection.execute(query) }
    }

    /// Sets a configuration parameter for the current transaction only (`set_config(…, true)`).
    public func setLocal(_ name: String, _ value: String) async throws {
        try await query("SELECT set_config(\(name), \(value), true)")
    }

    /// Runs a multi-statement script without parameters (migrations).
    public func executeScript(_ sql: String) async throws {
        let connection = self.connection
        try await threadPool.runIfActive { try connection.executeScript(sql) }
    }
}

extension PostgresClient.Configuration {
    /// The server settings every connection of the pool starts with.
    var sessionSettings: [String: String] {
        var settings: [String: String] = [:]
        if let statementTimeout { settings["statement_timeout"] = "\(statementTimeout.wholeMilliseconds)" }
        if let idleInTransactionTimeout {
            settings["idle_in_transaction_session_timeout"] = "\(idleInTransactionTimeout.wholeMilliseconds)"
        }
        return settings
    }
}
