import FlukeModels
import FlukePostgres
import FlukeRuntime
import FlukeTestSupport
import Foundation
@testable import ProjectManager
import Testing

@Suite("project-manager retention", .needsPostgresAndNATS)
struct PMRetentionTests {
    @Test("the retention job deletes expired refresh tokens and stale login-failure counters through RLS, and nothing else")
    func expiredGo() async throws {
        let h = try await PMHarness(["PM_LOGIN_FAILURE_WINDOW": "60"])
        try await h.run { c, parts in
            let owner = try await c.signup()
            let count = { (sql: PostgresQuery) in
                try await h.database.withAdminClient { try await $0.query(sql).first!.decode(Int.self, at: 0) }
            }
            let live = try await count("SELECT count(*) FROM pm.refresh_tokens")
            #expect(live >= 1)
            // An expired token two days ago, and a failure counter from an hour ago.
            try await h.database.withAdminClient { admin in
                try await admin.query("""
                    INSERT INTO pm.refresh_tokens (id, tenant_id, user_id, family_id, token_hash, expires_at)
                    VALUES (\(UUID()), \(UUID(uuidString: owner.tenantID)!), \(UUID(uuidString: owner.userID)!), \(UUID()),
                            'expired-hash', now() - interval '2 days')
                    """)
                try await admin.query("""
                    INSERT INTO pm.login_failures (key, window_start, failures) VALUES
                        ('account:old', now() - interval '1 hour', 3), ('account:new', now(), 1)
                    """)
                // Catalog entries: OFFLINE for 31 days goes; ONLINE as long, or OFFLINE for a day, stays.
                try await admin.query("""
                    INSERT INTO pm.catalog_status (slug, name, status, changed_at) VALUES
                        ('gone', 'Gone', 'OFFLINE', now() - interval '31 days'),
                        ('steady', 'Steady', 'ONLINE', now() - interval '31 days'),
                        ('resting', 'Resting', 'OFFLINE', now() - interval '1 day')
                    """)
                // Catalog history: changes older than 30 days go, a recent one stays.
                try await admin.query("""
                    INSERT INTO pm.catalog_history (slug, status, previous_status, changed_at) VALUES
                        ('resting', 'ONLINE', 'UNKNOWN', now() - interval '40 days'),
                        ('resting', 'OFFLINE', 'ONLINE', now() - interval '1 day')
                    """)
                // Sign-ins with GitHub: one nobody came back from, one still under way.
                try await admin.query("""
                    INSERT INTO pm.oauth_states (state_hash, kek_id, wrapped_key, sealed, expires_at) VALUES
                        ('gone', 'k1', 'w', 's', now() - interval '1 minute'), ('pending', 'k1', 'w', 's', now() + interval '9 minutes')
                    """)
            }
            let deleted = try await h.config().retention.job(parts.runtime).runOnce()
            #expect(deleted == ["pm.refresh_tokens": 1, "pm.login_failures": 1, "pm.catalog_status": 1, "pm.oauth_states": 1,
                               "pm.catalog_history": 1, "pm.dead_letters": 0])
            #expect(try await count("SELECT count(*) FROM pm.catalog_history WHERE slug = 'resting'") == 1)
            #expect(try await count("SELECT count(*) FROM pm.oauth_states WHERE state_hash = 'pending'") == 1)
            #expect(try await count("SELECT count(*) FROM pm.catalog_status WHERE slug IN ('steady', 'resting')") == 2)
            #expect(try await count("SELECT count(*) FROM pm.refresh_tokens") == live)
            #expect(try await count("SELECT count(*) FROM pm.refresh_tokens WHERE token_hash = 'expired-hash'") == 0)
            #expect(try await count("SELECT count(*) FROM pm.login_failures WHERE key = 'account:new'") == 1)
        }
    }
}
