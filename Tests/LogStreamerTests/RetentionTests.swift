import FlukePostgres
import FlukeModels
import FlukeTestSupport
import Foundation
import LogStreamer
import Testing

@Suite("log-streamer retention: whole days dropped, one replica at a time", .needsPostgresAndNATS)
struct RetentionTests {
    @Test("a round drops the day partitions older than LOGS_RETENTION_DAYS and keeps today's, with their entries; while another replica holds the round's lock it does nothing; the service's role cannot drop a partition itself")
    func dropsOldPartitions() async throws {
        let h = try await LogsHarness()
        try await h.withProjectManager { pm in
            let world = try await LogsHarness.world(pm)
            try await h.withLogStreamer(["LOGS_RETENTION_DAYS": "2"]) { api, parts in
                let now = Date()
                let old = now.addingTimeInterval(-36 * 3600)
                #expect(try await api.postLogs(world.token, [LogsHarness.entry("old", at: old), LogsHarness.entry("new", at: now)])
                    .status == 202)
                try await eventually(timeout: .seconds(30), "both entries are stored") {
                    try await api.logIDs(world.token, "since_minutes=4000") == ["new", "old"]
                }
                let oldDay = "entries_" + Self.day(old), today = "entries_" + Self.day(now)
                #expect(try await Self.partitions(h).isSuperset(of: [oldDay, today]))

                // Another replica's round is under way: this one skips.
                try await h.database.withAdminClient { admin in
                    try await admin.withTransaction { tx in
                        try await tx.query("SELECT pg_advisory_xact_lock(hashtext('fluke.logs.partitions'))")
                        #expect(try await parts.keeper.runOnce(asOf: now.addingTimeInterval(2 * 86_400)) == nil)
                    }
                }
                #expect(try await Self.partitions(h).contains(oldDay))

                // Two days on, the old entry's day is past the two days kept; today is not.
                let dropped = try #require(try await parts.keeper.runOnce(asOf: now.addingTimeInterval(2 * 86_400)))
                #expect(dropped.contains(oldDay) && !dropped.contains(today), "\(dropped)")
                let left = try await Self.partitions(h)
                #expect(!left.contains(oldDay) && left.contains(today))
                #expect(try await api.logIDs(world.token, "since_minutes=4000") == ["new"])
                // Made ahead for the days to come, as of that round.
                #expect(left.contains("entries_" + Self.day(now.addingTimeInterval(5 * 86_400))))
            }
            let service = PostgresClient(configuration: .init(url: h.database.url(role: "fluke_logs"), applicationName: "drop-test"),
                                         logger: TestEnvironment.logger)
            let today = "entries_" + Self.day(Date())
            await #expect(throws: PostgresError.self) {
                try await service.query("DROP TABLE \(identifier: "logs").\(identifier: today)")
            }
            await service.shutdown()
        }
    }

    /// `YYYYMMDD` of `date` in UTC, as partitions are named.
    static func day(_ date: Date) -> String {
        String(RFC3339.format(date).prefix(10).filter { $0 != "-" })
    }

    static func partitions(_ h: LogsHarness) async throws -> Set<String> {
        try await h.database.withAdminClient { admin in
            Set(try await admin.query("""
                SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                WHERE i.inhparent = 'logs.entries'::regclass
                """).map { try $0.decode(String.self, at: 0) })
        }
    }
}
