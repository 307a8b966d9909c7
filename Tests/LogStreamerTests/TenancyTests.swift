import FlukeNATS
import FlukePostgres
import FlukeTestSupport
import Foundation
import LogStreamer
import Testing

@Suite("log-streamer tenancy: tenants and projects apart, enforced by row-level security", .needsPostgresAndNATS)
struct TenancyTests {
    @Test("two tenants writing at once over HTTP and NATS each list all of their own entries and none of the other's; a token bound to a project sees only that project (another project_id is 404); without a tenant the service's role sees no row")
    func isolation() async throws {
        let h = try await LogsHarness()
        let nats = try await h.natsClient()
        defer { Task { await nats.shutdown() } }
        try await h.withProjectManager { pm in
            let a = try await LogsHarness.world(pm, tenant: "Tenant A")
            let b = try await LogsHarness.world(pm, tenant: "Tenant B")
            let other = try await LogsHarness.otherProject(pm, of: a)
            try await h.withLogStreamer { api, _ in
                // Both tenants at once, each over HTTP (batches) and NATS.
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for world in [a, b] {
                        let tag = world.tenantID.prefix(8)
                        group.addTask {
                            for batch in 0..<5 {
                                let entries = (0..<40).map { LogsHarness.entry("\(tag)-http-\(batch)-\($0)") }
                                let reply = try await api.postLogs(world.token, entries)
                                try #require(reply.status == 202, "\(reply.json)")
                            }
                        }
                        group.addTask {
                            let entries = (0..<100).map { LogsHarness.entry("\(tag)-nats-\($0)", project: world.projectID) }
                            try await LogsHarness.publish(nats, tenant: world.tenantID, entries)
                        }
                    }
                    try await group.waitForAll()
                }
                #expect(try await api.postLogs(other.token, [LogsHarness.entry("a-other-0", project: a.projectID)]).status == 202)
                for world in [a, b] {
                    let tag = world.tenantID.prefix(8)
                    let expected = Set((0..<5).flatMap { batch in (0..<40).map { "\(tag)-http-\(batch)-\($0)" } }
                                       + (0..<100).map { "\(tag)-nats-\($0)" })
                    try await eventually(timeout: .seconds(60), "\(world.tenantID)'s 300 entries are stored") {
                        try await api.logIDs(world.token, "limit=10000").count >= 300
                    }
                    let listed = try await api.logIDs(world.token, "limit=10000")
                    #expect(listed.count == 300 && Set(listed) == expected, "\(world.tenantID): \(listed.count)")
                    // The owner (tenant-wide) sees the same plus nothing of the other tenant.
                    let owner = try await api.logIDs(world.ownerToken, "limit=10000")
                    #expect(owner.allSatisfy { $0.hasPrefix(tag) || $0 == "a-other-0" })
                }

                // Projects: a's first project never sees the other project's entry, even asking for it.
                try await eventually(timeout: .seconds(30), "the other project's entry is stored") {
                    try await api.logIDs(other.token) == ["a-other-0"]
                }
                #expect(!(try await api.logIDs(a.token, "limit=10000")).contains("a-other-0"))
                #expect(try await api.call(.get, "/api/v1/logs?project_id=\(other.project)", token: a.token).status == 404)
                #expect(try await api.logIDs(a.ownerToken, "project_id=\(other.project)") == ["a-other-0"])
                #expect(try await api.logIDs(b.ownerToken, "project_id=\(other.project)").isEmpty)
                #expect(try await api.logIDs(b.ownerToken, "limit=10000").count == 300)
            }
            // The service's own role with no tenant named: nothing, through the parent or a partition.
            let service = PostgresClient(configuration: .init(url: h.database.url(role: "fluke_logs"), applicationName: "rls-test"),
                                         logger: TestEnvironment.logger)
            do {
                let day = try await h.database.withAdminClient { admin in
                    try await admin.query("SELECT tableoid::regclass::text FROM logs.entries LIMIT 1").first!.decode(String.self, at: 0)
                }
                let total = try await h.database.withAdminClient { admin in
                    try await admin.query("SELECT count(*) FROM logs.entries").first!.decode(Int.self, at: 0)
                }
                #expect(total == 601)
                #expect(try await service.query("SELECT count(*) FROM logs.entries").first!.decode(Int.self, at: 0) == 0)
                #expect(try await service.query("SELECT count(*) FROM \(identifier: "logs").\(identifier: String(day.dropFirst(5)))")
                    .first!.decode(Int.self, at: 0) == 0)
                await service.shutdown()
            } catch {
                await service.shutdown()
                throw error
            }
        }
    }
}
