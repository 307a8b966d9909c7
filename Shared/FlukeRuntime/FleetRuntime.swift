import FlukeModels
import FlukeNATS
import FlukePostgres
import Foundation
import Logging
import Prometheus

/// The connections and registries a service is built on, opened in the order startup needs:
/// Postgres (waited for, its schema checked to be migrated), NATS (waited for), then the
/// `FLUKE_EVENTS` stream.
public struct FleetRuntime: Sendable {
    public let config: FleetConfig
    public let logger: Logger
    public let postgres: PostgresClient
    public let nats: NATSClient
    public let registry: PrometheusCollectorRegistry
    /// The service's outbox relay; services pass its ``Outbox`` to whatever writes events.
    public let relay: OutboxRelay
    public var outbox: Outbox { Outbox(schema: relay.schema, relay: relay) }

    /// How long the stream every domain event is kept in holds them: 7 days.
    public static let eventRetention: Duration = .seconds(7 * 86_400)

    /// The stream every domain event is kept in: `fluke.events.>`, on disk, for
    /// ``eventRetention`` and at most `maxBytes` (`FLUKE_EVENTS_MAX_BYTES`), oldest dropped first,
    /// in `replicas` copies (`FLUKE_EVENTS_REPLICAS`), each on its own server of a NATS cluster.
    public static func eventStream(maxBytes: Int64, replicas: Int = 1) -> JetStreamStreamConfig {
        JetStreamStreamConfig(name: EventType.streamName, subjects: [EventType.subjectPrefix + ">"], maxAge: eventRetention,
                              duplicateWindow: .seconds(120), fileStorage: true, maxBytes: maxBytes, replicas: replicas)
    }

    /// Creates or updates `FLUKE_EVENTS` as ``eventStream(maxBytes:replicas:)`` from `config`: what
    /// every service does at startup. Retried like the connections (`STARTUP_ATTEMPTS`, `STARTUP_RETRY_DELAY`):
    /// a NATS cluster starting alongside the services may answer before all its servers have
    /// joined ("no suitable peers"). Copies that nats-server still cannot place then (replicas on
    /// a single server at once, more than the cluster's servers after the attempts) are a
    /// configuration error naming `FLUKE_EVENTS_REPLICAS`.
    public static func ensureEventStream(_ nats: NATSClient, config: FleetConfig, logger: Logger) async throws {
        let stream = eventStream(maxBytes: config.eventsMaxBytes, replicas: config.eventsReplicas)
        var attempt = 1
        while true {
            do {
                try await nats.ensureStream(stream)
                return
            } catch let error as NATSError where error.isReplicaPlacement && config.eventsReplicas > 1
                && (attempt >= config.startupAttempts || error.isReplicasOnSingleServer) {
                throw ConfigError("FLUKE_EVENTS_REPLICAS", "is \(config.eventsReplicas), more copies than the NATS servers can hold (\(error.message)): set it to at most the number of servers in the cluster")
            } catch {
                guard attempt < config.startupAttempts else { throw error }
                logger.warning("waiting for NATS to take stream FLUKE_EVENTS", metadata: [
                    "attempt": "\(attempt)", "of": "\(config.startupAttempts)", "replicas": "\(config.eventsReplicas)",
                    "error": "\(error)"])
                attempt += 1
                try await Task.sleep(for: config.startupDelay)
            }
        }
    }

    public static func start(config: FleetConfig, migrator: PostgresMigrator, logger: Logger) async throws -> FleetRuntime {
        let registry = PrometheusCollectorRegistry()
        let postgres = PostgresClient(configuration: .init(
            url: config.databaseURL, applicationName: config.serviceName, maxConnections: config.databasePoolSize,
            statementTimeout: config.databaseStatementTimeout,
            idleInTransactionTimeout: config.databaseIdleInTransactionTimeout),
            logger: logger)
        do {
            try await retrying(config.startupAttempts, delay: config.startupDelay, what: "Postgres", logger: logger) {
                try await postgres.ping()
            }
            try await requireMigrations(migrator, postgres: postgres, service: config.serviceName)
        } catch {
            await postgres.shutdown()
            throw error
        }
        let natsUp = registry.makeGauge(name: "nats_connection_status",
                                        help: "1 while connected to NATS, 0 while reconnecting or closed")
        let nats: NATSClient
        do {
            nats = try await NATSClient.connect(
                // Services favour latency: identity RPCs and outbox publishes wait for replies.
                config.natsClientConfiguration(sendAsap: true), logger: logger,
                attempts: config.startupAttempts, delay: config.startupDelay,
                onStateChange: { natsUp.set(Double($0 == .connected ? 1 : 0)) })
            natsUp.set(Double(1))
            try await ensureEventStream(nats, config: config, logger: logger)
        } catch {
            await postgres.shutdown()
            throw error
        }
        let relay = OutboxRelay(schema: migrator.schema, postgres: postgres, nats: nats, registry: registry,
                                logger: logger)
        return FleetRuntime(config: config, logger: logger, postgres: postgres, nats: nats, registry: registry,
                            relay: relay)
    }

    /// Throws when the schema lacks migrations this build needs: the service's own role cannot
    /// apply them (only the schema's owner can, through `<service> migrate`).
    public static func requireMigrations(_ migrator: PostgresMigrator, postgres: PostgresClient, service: String)
        async throws {
        let pending = try await migrator.pending(postgres)
        guard pending.isEmpty else {
            throw ConfigError("DATABASE_URL", "reaches schema \(migrator.schema), which lacks migrations \(pending.joined(separator: ", ")): run `\(service) migrate` with the schema owner's DATABASE_URL (role \(migrator.ownerRole)) first")
        }
    }

    /// `<service> migrate`: applies the schema's migrations, logged in with `DATABASE_URL` as the
    /// schema's owner. Needs nothing but Postgres.
    public static func migrate(_ migrator: PostgresMigrator, reader: ConfigReader, logger: Logger) async throws -> [String] {
        let url = try reader.postgresURL("DATABASE_URL")
        let postgres = PostgresClient(configuration: .init(url: url, applicationName: "migrate", maxConnections: 1),
                                      logger: logger)
        do {
            try await retrying(try reader.int("STARTUP_ATTEMPTS", in: 1...10_000), delay: try reader.seconds("STARTUP_RETRY_DELAY"),
                               what: "Postgres", logger: logger) { try await postgres.ping() }
            let applied = try await migrator.migrate(postgres, logger: logger)
            await postgres.shutdown()
            return applied
        } catch {
            await postgres.shutdown()
            throw error
        }
    }

    /// Postgres and NATS, each `nil` when healthy or a reason when not: what `/ready` reports.
    public func readiness() async -> [String: String] {
        var down: [String: String] = [:]
        if nats.state != .connected {
            // The reason matters most when it is ours to fix: "Authorization Violation" after a
            // password rotation reads very differently from a server that is down.
            down["nats"] = "nats is \(nats.state.rawValue)" + (nats.lastError.map { ": \($0)" } ?? "")
        }
        do {
            try await withTimeout(.seconds(2)) { [postgres] in try await postgres.ping() }
        } catch {
            down["postgres"] = "postgres is unreachable"
        }
        return down
    }
}

/// Runs `body` until it succeeds, `attempts` times `delay` apart, logging each failure.
public func retrying<T: Sendable>(_ attempts: Int, delay: Duration, what: String, logger: Logger,
                                  _ body: () async throws -> T) async throws -> T {
    var attempt = 1
    while true {
        do {
            return try await body()
        } catch {
            guard attempt < attempts else { throw error }
            logger.warning("waiting for \(what)", metadata: ["attempt": "\(attempt)", "of": "\(attempts)",
                                                             "error": "\(error)"])
            attempt += 1
            try await Task.sleep(for: delay)
        }
    }
}

/// The operation took longer than allowed.
public struct TimeoutError: Error, Sendable {}

/// Runs `body`, throwing ``TimeoutError`` once `timeout` passes.
public func withTimeout<T: Sendable>(_ timeout: Duration, _ body: @escaping @Sendable () async throws -> T)
    async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: timeout)
            throw TimeoutError()
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}
