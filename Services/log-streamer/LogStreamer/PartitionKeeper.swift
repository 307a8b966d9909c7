import FlukePostgres
import FlukeRuntime
import Foundation
import Logging
import Prometheus
import ServiceLifecycle

/// Keeps `logs.entries`' day partitions: at start and every `RETENTION_INTERVAL`, makes those of
/// the retention window and the next days, and drops those older than `LOGS_RETENTION_DAYS`
/// (`logs.ensure_partitions` / `logs.drop_partitions`, which run as the schema's owner).
///
/// One replica at a time: a round runs in one transaction under an advisory lock that the others
/// try and skip (dropping a partition locks the parent table; two replicas dropping the same day
/// would only wait on each other).
public final class PartitionKeeper: Service, Sendable {
    static let lock = "fluke.logs.partitions"
    /// Days made ahead of today, so that midnight never finds its partition missing.
    static let daysAhead = 3
    let postgres: PostgresClient
    let retentionDays: Int
    let interval: Duration
    let dropped: Counter
    let logger: Logger

    init(postgres: PostgresClient, retentionDays: Int, interval: Duration, registry: PrometheusCollectorRegistry,
         logger: Logger) {
        self.postgres = postgres
        self.retentionDays = retentionDays
        self.interval = interval
        self.logger = logger
        dropped = registry.makeCounter(name: "logs_partitions_dropped_total", help: "day partitions of logs.entries dropped")
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await self.runOnce()
                } catch {
                    self.logger.warning("partition round failed; the next round will try again", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: self.interval)
            }
        }
    }

    /// One round as of `now`: returns the partitions dropped, or `nil` when another replica holds
    /// the round's lock.
    @discardableResult
    public func runOnce(asOf now: Date = Date()) async throws -> [String]? {
        let dropped = try await postgres.withTransaction { tx -> [String]? in
            let locked = try await tx.query("SELECT pg_try_advisory_xact_lock(hashtext(\(Self.lock)))")
            guard try locked.first?.decode(Bool.self, at: 0) == true else { return nil }
            try await tx.query("""
                SELECT logs.ensure_partitions(\(retentionDays)::integer, \(Self.daysAhead)::integer, \(now)::timestamptz)
                """)
            return try await tx.query("SELECT logs.drop_partitions(\(retentionDays)::integer, \(now)::timestamptz)")
                .map { try $0.decode(String.self, at: 0) }
        }
        if let dropped, !dropped.isEmpty {
            self.dropped.increment(by: Int64(dropped.count))
            logger.info("retention: dropped log partitions", metadata: ["partitions": "\(dropped.joined(separator: ","))"])
        }
        return dropped
    }
}
