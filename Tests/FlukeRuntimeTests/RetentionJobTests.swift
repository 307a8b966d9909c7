import FlukePostgres
import FlukeRuntime
import FlukeTestSupport
import Foundation
import Prometheus
import Testing

@Suite("RetentionJob", .needsPostgresAndNATS)
struct RetentionJobTests {
    @Test("rows past their retention go in batches, the rest stay, extra conditions hold, one replica at a time")
    func purges() async throws {
        let database = try await TestDatabase.create()
        try await database.migrate(PostgresMigrator(schema: "logs", migrations: [PostgresMigration("0001", """
            CREATE TABLE logs.entries (id int PRIMARY KEY, at timestamptz NOT NULL, status text NOT NULL);
            """)]))
        try await database.withAdminClient { admin in
            // 25 old and finished, 3 old but pending, 4 recent.
            try await admin.query("""
                INSERT INTO logs.entries SELECT g, now() - interval '10 days', 'done' FROM generate_series(1, 25) g
                """)
            try await admin.query("""
                INSERT INTO logs.entries SELECT g, now() - interval '10 days', 'pending' FROM generate_series(26, 28) g
                """)
            try await admin.query("INSERT INTO logs.entries SELECT g, now(), 'done' FROM generate_series(29, 32) g")
        }
        let service = PostgresClient(configuration: .init(url: database.url(role: "fluke_logs"), applicationName: "retention",
                                                          maxConnections: 2), logger: TestEnvironment.logger)
        let registry = PrometheusCollectorRegistry()
        let job = RetentionJob(schema: "logs", rules: [
            RetentionRule(table: "logs.entries", column: "at", keep: .seconds(7 * 86_400), extraCondition: "status <> 'pending'"),
        ], interval: .seconds(3600), batchSize: 10, postgres: service, registry: registry, logger: TestEnvironment.logger)

        // Another replica holds the round: this one does nothing.
        let other = PostgresClient(configuration: .init(url: database.url(role: "fluke_logs"), applicationName: "other",
                                                        maxConnections: 1), logger: TestEnvironment.logger)
        try await other.withConnection { conn in
            try await conn.query("SELECT pg_advisory_lock(hashtext('fluke.retention.logs'))")
            #expect(try await job.runOnce().isEmpty)
            try await conn.query("SELECT pg_advisory_unlock(hashtext('fluke.retention.logs'))")
        }
        #expect(try await job.runOnce() == ["logs.entries": 25])
        let left = try await service.query("SELECT id FROM logs.entries ORDER BY id").map { try $0.decode(Int.self, at: 0) }
        #expect(left == Array(26...32))
        #expect(try await job.runOnce() == ["logs.entries": 0])
        let text = registry.emitToString()
        #expect(text.contains(#"retention_deleted_rows_total{table="logs.entries"} 25"#))
        await other.shutdown()
        await service.shutdown()
    }
}
