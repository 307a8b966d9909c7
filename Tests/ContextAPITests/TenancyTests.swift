@testable import ContextAPI
import FlukePostgres
import FlukeRuntime
import FlukeTestSupport
import Foundation
import HTTPTypes
import Testing

@Suite("context-api tenancy: enforced by Postgres row-level security", .needsPostgresAndNATS)
struct ContextTenancyTests {
    /// One row of every kind context-api keeps for a tenant, made through the API: the replica
    /// (project, team, milestone), an env var and its access log entry, a memory with a conflict,
    /// an MCP configuration and a preset, a provider of the tenant's own, usage; the changes feed
    /// follows from them.
    static func populate(_ api: Client, _ w: ContextHarness.World) async throws {
        _ = try await api.context(w.token)
        #expect(try await api.call(.put, "/api/v1/projects/\(w.projectID)/env/API_KEY", token: w.token,
                                   json: ["value": "secret-\(w.tenantID)", "secret": true]).status == 201)
        // The token holds secrets:read, so this fetch reveals the secret and logs the read.
        #expect(try await api.call(.get, "/api/v1/flukebase_connect/context", token: w.token).status == 200)
        let memory = try await api.call(.post, "/api/v1/flukebase_connect/memories", token: w.token,
                                        json: ["external_id": UUID().uuidString, "memory_type": "fact", "content": "one"])
        let uri = "/api/v1/flukebase_connect/memories/\(try #require(memory.string("id")))"
        #expect(try await api.call(.put, uri, token: w.token, json: ["content": "two"], headers: [.ifMatch: "\"1\""]).status == 200)
        // Based on a stale version and older than the server's copy: a conflict the server wins.
        let stale = try await api.call(.put, uri, token: w.token,
                                       json: ["content": "offline", "version": 1, "updated_at": "2020-01-01T00:00:00Z"])
        #expect(stale.headers[HTTPField.Name("Fluke-Conflict")!]?.hasPrefix("server-won") == true)
        #expect(try await api.call(.put, "/api/v1/projects/\(w.projectID)/mcp_configuration", token: w.token, json: [
            "enabled_plugins": ["flukebase-connect"], "context_level": "full",
            "plugin_settings": ["flukebase-connect": ["auto_sync": true]],
        ]).status == 200)
        #expect(try await api.call(.post, "/api/v1/mcp/presets", token: w.ownerToken, json: [
            "name": "backend", "enabled_plugins": ["sentry"], "context_level": "minimal",
            "plugin_settings": ["sentry": ["organization": "acme"]],
        ]).status == 201)
        #expect(try await api.call(.put, "/api/v1/ai_providers/acme", token: w.ownerToken, json: [
            "display_name": "Acme AI", "tools": ["acme-cli"], "docs_url": "http://127.0.0.1:9/docs",
        ]).status == 201)
    }

    @Test("as fluke_context with no tenant set, every table of schema context with a tenant_id shows zero tenant rows; with tenant A set, only A's")
    func rowLevelSecurity() async throws {
        let h = try await ContextHarness()
        try await h.withProjectManager { pm in
            let a = try await ContextHarness.world(pm, tenant: "A")
            let b = try await ContextHarness.world(pm, tenant: "B")
            let tenantA = try #require(UUID(uuidString: a.tenantID))
            try await h.withContextAPI { api, parts in
                try await Self.populate(api, a)
                try await Self.populate(api, b)
                // From the catalog, so that a table added later is covered without editing this test.
                let tables = try await h.database.withAdminClient { db in
                    try await db.query("""
                        SELECT table_name FROM information_schema.columns
                        WHERE table_schema = 'context' AND column_name = 'tenant_id' ORDER BY table_name
                        """).map { try $0.decode(String.self, at: 0) }
                }
                #expect(tables.count >= 13, "\(tables)")
                // Ground truth, as the superuser: every such table holds rows of both tenants
                // (replication and the usage flush are asynchronous), else zero rows proves nothing.
                try await eventually(timeout: .seconds(15), "every tenant table holds both tenants' rows") {
                    try await parts.usage.flush()
                    return try await h.database.withAdminClient { db in
                        for table in tables {
                            let n = try await db.query("""
                                SELECT count(DISTINCT tenant_id) FROM \(identifier: "context").\(identifier: table)
                                """).first!.decode(Int.self, at: 0)
                            if n != 2 { return false }
                        }
                        return true
                    }
                }
                let service = PostgresClient(configuration: .init(url: h.database.url(role: "fluke_context"),
                                                                  applicationName: "rls-test"),
                                             logger: TestEnvironment.logger)
                // No setting: nothing of any tenant. Only ai_providers' fleet-wide entries
                // (tenant_id NULL), which every tenant reads, may show.
                for table in tables {
                    let row = try await service.query("""
                        SELECT count(*), count(*) FILTER (WHERE tenant_id IS NOT NULL)
                        FROM \(identifier: "context").\(identifier: table)
                        """).first!
                    #expect(try row.decode(Int.self, at: 1) == 0, "context.\(table) without a tenant")
                    if table != "ai_providers" { #expect(try row.decode(Int.self, at: 0) == 0, "context.\(table) without a tenant") }
                }
                // Every one of them enables and forces row-level security, and the login role can
                // neither bypass it nor owns a table (so FORCE is not what holds it back alone).
                let flags = try await service.query("""
                    SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity FROM pg_class c
                    JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE n.nspname = 'context' AND c.relkind = 'r' AND c.relname = ANY(\(tables)::text[])
                    """).map { (try $0.decode(String.self, at: 0), try $0.decode(Bool.self, at: 1), try $0.decode(Bool.self, at: 2)) }
                #expect(flags.count == tables.count)
                for (table, enabled, forced) in flags { #expect(enabled && forced, "context.\(table)") }
                let role = try await service.query("""
                    SELECT (SELECT rolbypassrls FROM pg_roles WHERE rolname = current_user),
                           (SELECT count(*) FROM pg_tables WHERE schemaname = 'context' AND tableowner = current_user)
                    """).first!
                #expect(try role.decode(Bool.self, at: 0) == false && role.decode(Int.self, at: 1) == 0)
                // Tenant A set: A's rows, all of them, and no one else's.
                for table in tables {
                    let expected = try await h.database.withAdminClient { db in
                        try await db.query("""
                            SELECT count(*) FROM \(identifier: "context").\(identifier: table) WHERE tenant_id = \(tenantA)
                            """).first!.decode(Int.self, at: 0)
                    }
                    let seen = try await service.withTransaction { tx in
                        try await tx.setLocal("app.tenant_id", a.tenantID)
                        return try await tx.query("""
                            SELECT count(*) FILTER (WHERE tenant_id = \(tenantA)),
                                   count(*) FILTER (WHERE tenant_id <> \(tenantA))
                            FROM \(identifier: "context").\(identifier: table)
                            """).first!
                    }
                    #expect(try seen.decode(Int.self, at: 0) == expected && expected > 0, "context.\(table) in A")
                    #expect(try seen.decode(Int.self, at: 1) == 0, "context.\(table) in A shows another tenant's rows")
                }
                // Writes: A cannot write into B's tenant, nor a fleet-wide provider entry.
                let tenantB = try #require(UUID(uuidString: b.tenantID))
                await #expect(throws: PostgresError.self) {
                    try await service.withTransaction { tx in
                        try await tx.setLocal("app.tenant_id", a.tenantID)
                        try await tx.query("""
                            INSERT INTO context.mcp_presets (id, tenant_id, name) VALUES (\(UUID()), \(tenantB), 'intruder')
                            """)
                    }
                }
                await #expect(throws: PostgresError.self) {
                    try await service.withTransaction { tx in
                        try await tx.setLocal("app.tenant_id", a.tenantID)
                        try await tx.query("""
                            INSERT INTO context.ai_providers (tenant_id, name, display_name, docs_url)
                            VALUES (NULL, 'fleet-intruder', 'x', 'https://example.com')
                            """)
                    }
                }
                let touched = try await service.withTransaction { tx in
                    try await tx.setLocal("app.tenant_id", a.tenantID)
                    return try await tx.query("""
                        UPDATE context.ai_providers SET display_name = 'hijacked' WHERE tenant_id IS NULL
                        """).affectedRows
                }
                #expect(touched == 0)
                await service.shutdown()
            }
        }
    }
}
