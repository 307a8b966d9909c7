import FlukeModels
import FlukePostgres
import Foundation
import Logging
import Prometheus
import ServiceLifecycle

/// One kind of row that ages out: `DELETE FROM <table> WHERE <condition>` in batches, where the
/// condition compares a timestamp column with `now() - <keep>`.
public struct RetentionRule: Sendable {
    /// `schema.table`, also the metric's label.
    public var table: String
    /// The timestamp column that says how old a row is.
    public var column: String
    /// How long rows are kept.
    public var keep: Duration
    /// Further SQL that must hold for a row to go (e.g. `status <> 'pending'`).
    public var extraCondition: StaticString?

    public init(table: String, column: String, keep: Duration, extraCondition: StaticString? = nil) {
        precondition(table.split(separator: ".").count == 2 && table.split(separator: ".").allSatisfy { PostgresIdentifier.isValid(String($0)) }
                     && PostgresIdentifier.isValid(column), "invalid retention rule \(table).\(column)")
        self.table = table
        self.column = column
        self.keep = keep
        self.extraCondition = extraCondition
    }
}

/// Deletes what has outlived its retention, every `interval`, in batches of `batchSize` rows so
/// that no statement holds locks for long; one replica at a time (a session advisory lock per
/// schema), the others skip the round. The rows deleted are counted in
/// `retention_deleted_rows_total{table}`.
///
/// Sets `app.system = on` (see ``TenantDatabase``) and `app.retention = on` in each batch's
/// transaction: tables under row-level security let the job see the aged-out rows without a tenant
/// (project-manager's refresh tokens through a narrower policy that admits only expired ones).
public final class RetentionJob: Service, Sendable {
    let schema: String
    let rules: [RetentionRule]
    let interval: Duration
    let batchSize: Int
    let postgres: PostgresClient
    let deleted: [String: Counter]
    let logger: Logger

    public init(schema: String, rules: [RetentionRule], interval: Duration, batchSize: Int = 5_000,
                postgres: PostgresClient, registry: PrometheusCollectorRegistry, logger: Logger) {
        self.schema = schema
        self.rules = rules
        self.interval = interval
        self.batchSize = batchSize
        self.postgres = postgres
        self.logger = logger
        deleted = Dictionary(uniqueKeysWithValues: rules.map {
            ($0.table, registry.makeCounter(name: "retention_deleted_rows_total", labels: [("table", $0.table)]))
        })
    }

    /// The job for `schema`, with `rules` plus the schema's dead letters (if it has any), on the
    /// runtime's pool and registry.
    public convenience init(runtime: FleetRuntime, rules: [RetentionRule], deadLetters: Bool) {
        let schema = runtime.relay.schema
        var all = rules
        if deadLetters {
            all.append(RetentionRule(table: schema + ".dead_letters", column: "failed_at", keep: runtime.config.deadLetterRetention))
        }
        self.init(schema: schema, rules: all, interval: runtime.config.retentionInterval, postgres: runtime.postgres,
                  registry: runtime.registry, logger: runtime.logger)
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await self.runOnceLogged()
                try? await Task.sleep(for: self.interval)
            }
        }
    }

    private func runOnceLogged() async {
        do {
            try await runOnce()
        } catch {
            logger.warning("retention round failed; next round will try again", metadata: ["error": "\(error)"])
        }
    }

    /// One round: every rule until it finds nothing more to delete. Returns the rows deleted by table.
    @discardableResult
    public func runOnce() async throws -> [String: Int] {
        try await postgres.withConnection { conn in
            let lock = "fluke.retention." + schema
            guard try await conn.query("SELECT pg_try_advisory_lock(hashtext(\(lock)))").first?.decode(Bool.self, at: 0) == true
            else { return [:] }
            var totals: [String: Int] = [:]
            do {
                for rule in rules {
                    totals[rule.table] = try await purge(rule, on: conn)
                }
                try await conn.query("SELECT pg_advisory_unlock(hashtext(\(lock)))")
            } catch {
                _ = try? await conn.query("ROLLBACK")
                _ = try? await conn.query("SELECT pg_advisory_unlock(hashtext(\(lock)))")
                throw error
            }
            return totals
        }
    }

    private func purge(_ rule: RetentionRule, on conn: PostgresHandle) async throws -> Int {
        let parts = rule.table.split(separator: ".").map(String.init)
        let (schema, table, column) = (parts[0], parts[1], rule.column)
        let seconds = rule.keep.secondsValue
        var total = 0
        while true {
            try await conn.query("BEGIN")
            // app.system: the fleet's own work over every tenant's rows (TenantDatabase's policies);
            // app.retention: project-manager's narrower policy for expired tokens.
            try await conn.query("SELECT set_config('app.retention', 'on', true), set_config('app.system', 'on', true)")
            let rows: Int
            if let extra = rule.extraCondition {
                rows = try await conn.query("""
                    DELETE FROM \(identifier: schema).\(identifier: table) WHERE ctid IN (
                        SELECT ctid FROM \(identifier: schema).\(identifier: table)
                        WHERE \(identifier: column) < now() - make_interval(secs => \(seconds)) AND (\(sql: extra))
                        LIMIT \(batchSize))
                    """).affectedRows
            } else {
                rows = try await conn.query("""
                    DELETE FROM \(identifier: schema).\(identifier: table) WHERE ctid IN (
                        SELECT ctid FROM \(identifier: schema).\(identifier: table)
                        WHERE \(identifier: column) < now() - make_interval(secs => \(seconds)) LIMIT \(batchSize))
                    """).affectedRows
            }
            try await conn.query("COMMIT")
            total += rows
            if rows > 0 { deleted[rule.table]?.increment(by: Int64(rows)) }
            if rows < batchSize { break }
        }
        if total > 0 {
            logger.info("retention", metadata: ["table": "\(rule.table)", "deleted": "\(total)"])
        }
        return total
    }
}
