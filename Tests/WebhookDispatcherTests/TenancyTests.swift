import FlukeModels
import FlukePostgres
import FlukeRuntime
import FlukeTestSupport
import Foundation
import Testing
@testable import WebhookDispatcher

@Suite("webhook-dispatcher tenancy: enforced by Postgres row-level security", .needsPostgresAndNATS)
struct WebhookTenancyTests {
    @Test("as fluke_webhooks with no tenant set, every table of schema webhooks with a tenant_id shows zero rows and changes none; with tenant A set, only A's rows")
    func rowLevelSecurity() async throws {
        let h = try await WebhookHarness()
        let receiver = Receiver()
        try await receiver.run { base in
            try await h.withProjectManager { pm in
                var a = try await WebhookHarness.world(pm)
                var b = try await WebhookHarness.world(pm)
                // As Postgres prints them.
                a.tenantID = a.tenantID.lowercased()
                b.tenantID = b.tenantID.lowercased()
                try #require(!a.tenantID.isEmpty && a.tenantID != b.tenantID)
                try await h.withDispatcher { [a, b] hooks, _ in
                    // Each tenant: a subscription (and its secret), two events delivered (deliveries
                    // and their attempts), all through the API and the intake as in production.
                    for world in [a, b] {
                        let sub = try await hooks.subscribe(world.token, project: world.projectID, url: base + "/\(world.tenantID)")
                        try #require(sub.status == 201, "\(sub.json)")
                        let id = try #require(sub.string("id"))
                        try await WebhookHarness.publish(h.nats, (0..<2).map { _ in WebhookHarness.event(.taskUpdated, world: world) })
                        try await eventually(timeout: .seconds(15), "both of \(world.tenantID)'s deliveries succeeded") {
                            let list = try await hooks.call(.get, "/api/v1/webhooks/subscriptions/\(id)/deliveries?status=succeeded",
                                                            token: world.token)
                            return list.items.count == 2
                        }
                    }

                    // Every table with a tenant_id, from the catalogue, so that a future one is covered.
                    let (tables, perTenant) = try await h.database.withAdminClient { admin in
                        let tables = try await admin.query("""
                            SELECT table_name FROM information_schema.columns
                            WHERE table_schema = 'webhooks' AND column_name = 'tenant_id' ORDER BY table_name
                            """).map { try $0.decode(String.self, at: 0) }
                        var perTenant: [String: [String: Int]] = [:]
                        for table in tables {
                            for row in try await admin.query("""
                                SELECT tenant_id::text, count(*) FROM \(identifier: "webhooks").\(identifier: table) GROUP BY tenant_id
                                """) {
                                perTenant[table, default: [:]][try row.decode(String.self, at: 0)] = try row.decode(Int.self, at: 1)
                            }
                        }
                        return (tables, perTenant)
                    }
                    #expect(tables == ["attempts", "deliveries", "secrets", "subscriptions"])
                    #expect(Set(tables.map { "webhooks." + $0 }) == Set(WebhookMigrations.tenantTables))
                    // Ground truth: both tenants have rows in every such table, so zero below means hidden.
                    for table in tables {
                        #expect((perTenant[table]?[a.tenantID] ?? 0) > 0 && (perTenant[table]?[b.tenantID] ?? 0) > 0,
                                "webhooks.\(table): \(perTenant[table] ?? [:])")
                    }

                    let service = PostgresClient(configuration: .init(url: h.database.url(role: "fluke_webhooks"),
                                                                      applicationName: "rls-test"), logger: TestEnvironment.logger)
                    do {
                        for table in tables {
                            let n = try await service.query("SELECT count(*) FROM \(identifier: "webhooks").\(identifier: table)")
                                .first!.decode(Int.self, at: 0)
                            #expect(n == 0, "webhooks.\(table) without a tenant shows \(n) rows")
                            // Nor can it change what it cannot see.
                            let changed = try await service.query("""
                                UPDATE \(identifier: "webhooks").\(identifier: table) SET tenant_id = tenant_id
                                """).affectedRows
                            #expect(changed == 0, "webhooks.\(table) without a tenant: \(changed) rows updated")
                            let flags = try await service.query("""
                                SELECT c.relrowsecurity, c.relforcerowsecurity FROM pg_class c
                                JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'webhooks' AND c.relname = \(table)
                                """).first!
                            #expect(try flags.decode(Bool.self, at: 0) && flags.decode(Bool.self, at: 1),
                                    "webhooks.\(table) must ENABLE and FORCE row level security")

                            // In tenant A: exactly A's rows.
                            let inA = try await service.transaction([
                                "SELECT set_config('app.tenant_id', \(a.tenantID), true)",
                                "SELECT tenant_id::text, count(*) FROM \(identifier: "webhooks").\(identifier: table) GROUP BY tenant_id",
                            ])[1].map { (try $0.decode(String.self, at: 0), try $0.decode(Int.self, at: 1)) }
                            #expect(inA.count == 1 && inA.first?.0 == a.tenantID && inA.first?.1 == perTenant[table]?[a.tenantID],
                                    "webhooks.\(table) in tenant A: \(inA)")
                        }
                        // The login role owns nothing and cannot bypass row-level security.
                        let role = try await service.query("""
                            SELECT (SELECT rolbypassrls FROM pg_roles WHERE rolname = current_user),
                                   (SELECT count(*) FROM pg_tables WHERE schemaname = 'webhooks' AND tableowner = current_user)
                            """).first!
                        #expect(try role.decode(Bool.self, at: 0) == false)
                        #expect(try role.decode(Int.self, at: 1) == 0)
                        // Writing into tenant B while in tenant A is refused by the policy's WITH CHECK.
                        await #expect(throws: PostgresError.self) {
                            _ = try await service.transaction([
                                "SELECT set_config('app.tenant_id', \(a.tenantID), true)",
                                """
                                INSERT INTO webhooks.subscriptions (id, tenant_id, project_id, events, callback_url)
                                VALUES (\(UUID()), \(UUID(uuidString: b.tenantID)!), \(UUID(uuidString: b.projectID)!), '{*}', 'http://127.0.0.1/x')
                                """,
                            ])
                        }
                        await service.shutdown()
                    } catch {
                        await service.shutdown()
                        throw error
                    }
                    // And through the API, tenant A's token finds nothing of B's.
                    let listA = try await hooks.call(.get, "/api/v1/webhooks/subscriptions", token: a.token)
                    #expect(listA.items.count == 1 && !String(decoding: listA.body, as: UTF8.self).contains(b.tenantID))
                }
            }
        }
    }
}
