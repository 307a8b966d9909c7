import FlukeModels
import FlukePostgres
import FlukeRuntime
import Foundation
import Hummingbird

public struct AIProvider: Codable, Sendable {
    public var name: String
    public var displayName: String
    public var tools: [String]
    public var docsURL: String
    public var lastAudit: Date?
    public var status: String
    public var detail: String?
    /// `fleet`: seeded for every tenant, read-only to them; `tenant`: the caller's tenant's own
    /// entry (new, or overriding the fleet entry of that name for this tenant only).
    public var scope: String
    enum CodingKeys: String, CodingKey {
        case name, tools, status, detail, scope
        case displayName = "display_name", docsURL = "docs_url", lastAudit = "last_audit"
    }
}

/// Why a registry change was refused; HTTP appears only in ``problem``.
enum ProviderError: Error, ProblemConvertible {
    case notFound(String)
    case fleetEntry(String)

    var problem: Problem {
        switch self {
        case .notFound(let name): Problem.notFound("no provider named \(name)")
        case .fleetEntry(let name):
            Problem(.forbidden, "Fleet-wide provider",
                    detail: "\(name) is a fleet-wide entry and read-only; PUT one of your tenant's own to override it")
        }
    }
}

/// The AI provider registry: fleet-wide entries (seeded by migrations, `tenant_id` NULL) that
/// every tenant reads and none may change, and each tenant's own entries, which add to them or
/// override one of the same name for that tenant only. Also the record of each entry's last
/// documentation audit (see ``ProviderAuditor``). A tenant's reads and writes run in its tenant
/// (row-level security lets it read the fleet's entries but write only its own); the audit's, over
/// every tenant's entries and the fleet's, run as the fleet.
struct ProviderStore: Sendable {
    let db: TenantDatabase

    /// What `tenant` sees: its own entries, and the fleet's where it has none of that name.
    func all(for tenant: UUID) async throws -> [AIProvider] {
        try await db.read(tenant: tenant, ["""
            SELECT DISTINCT ON (name) name, display_name, tools, docs_url, last_audit, last_audit_status, last_audit_detail,
                   tenant_id IS NOT NULL AS own
            FROM context.ai_providers WHERE tenant_id IS NULL OR tenant_id = \(tenant)
            ORDER BY name, tenant_id NULLS LAST
            """])[0].map {
            AIProvider(name: try $0.decode(String.self, at: 0), displayName: try $0.decode(String.self, at: 1),
                       tools: try $0.decode([String].self, at: 2), docsURL: try $0.decode(String.self, at: 3),
                       lastAudit: try $0.decode(Date?.self, at: 4), status: try $0.decode(String.self, at: 5),
                       detail: try $0.decode(String?.self, at: 6), scope: try $0.decode(Bool.self, at: 7) ? "tenant" : "fleet")
        }
    }

    /// Creates or replaces the tenant's own entry; a fleet entry of that name is left untouched.
    func upsert(tenant: UUID, name: String, displayName: String, tools: [String], docsURL: String)
        async throws -> (AIProvider, created: Bool) {
        let created = try await db.read(tenant: tenant, ["""
            INSERT INTO context.ai_providers (tenant_id, name, display_name, tools, docs_url)
            VALUES (\(tenant), \(name), \(displayName), \(tools)::text[], \(docsURL))
            ON CONFLICT (tenant_id, name) WHERE tenant_id IS NOT NULL DO UPDATE SET
                display_name = EXCLUDED.display_name, tools = EXCLUDED.tools, docs_url = EXCLUDED.docs_url, updated_at = now(),
                last_audit_status = CASE WHEN context.ai_providers.docs_url = EXCLUDED.docs_url
                                         THEN context.ai_providers.last_audit_status ELSE 'pending' END
            RETURNING (xmax = 0)
            """])[0].first!.decode(Bool.self, at: 0)
        return (try await all(for: tenant).first { $0.name == name }!, created)
    }

    /// Deletes the tenant's own entry (the fleet's, if any, shows again).
    func delete(tenant: UUID, name: String) async throws {
        let rows = try await db.read(tenant: tenant, [
            "DELETE FROM context.ai_providers WHERE tenant_id = \(tenant) AND name = \(name)",
            "SELECT 1 FROM context.ai_providers WHERE tenant_id IS NULL AND name = \(name)",
        ])
        guard rows[0].affectedRows == 0 else { return }
        throw rows[1].rows.isEmpty ? ProviderError.notFound(name) : ProviderError.fleetEntry(name)
    }

    // MARK: the audit's records

    /// One registry row to audit: the fleet's (`tenant` nil) or a tenant's.
    struct Target: Sendable {
        var tenant: UUID?
        var name: String
        var docsURL: String
    }

    /// Every row (`tenant` nil), or the fleet's and `tenant`'s.
    func targets(tenant: UUID?) async throws -> [Target] {
        try await db.readAsSystem("""
            SELECT tenant_id, name, docs_url FROM context.ai_providers
            WHERE \(tenant)::uuid IS NULL OR tenant_id IS NULL OR tenant_id = \(tenant)::uuid
            ORDER BY name, tenant_id NULLS FIRST
            """)[0].map { Target(tenant: try $0.decode(UUID?.self, at: 0), name: try $0.decode(String.self, at: 1),
                              docsURL: try $0.decode(String.self, at: 2)) }
    }

    func record(_ target: Target, ok: Bool, detail: String) async throws {
        _ = try await db.readAsSystem("""
            UPDATE context.ai_providers SET last_audit = now(), last_audit_status = \(ok ? "ok" : "failed"),
                last_audit_detail = \(detail)
            WHERE name = \(target.name) AND tenant_id IS NOT DISTINCT FROM \(target.tenant)::uuid AND docs_url = \(target.docsURL)
            """)
    }

    /// Takes (or renews) the one audit lease for `holder`; false while another holds it.
    func lease(_ holder: UUID, for duration: Duration) async throws -> Bool {
        // The lease table is the fleet's own, outside row-level security.
        try await !db.postgres.query("""
            UPDATE context.provider_audit_lease SET holder = \(holder),
                leased_until = now() + \(duration.secondsValue)::float8 * interval '1 second'
            WHERE id = 1 AND (leased_until < now() OR holder = \(holder))
            RETURNING 1
            """).rows.isEmpty
    }

    func release(_ holder: UUID) async throws {
        try await db.postgres.query("""
            UPDATE context.provider_audit_lease SET holder = NULL, leased_until = '-infinity' WHERE id = 1 AND holder = \(holder)
            """)
    }
}

extension AIProvider: ResponseEncodable {}
