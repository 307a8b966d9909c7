import FlukeModels
import FlukePostgres
import FlukeRuntime
import Foundation
import Hummingbird

/// federation's catalog as a tenant sees it: the entries naming one of its projects (the
/// catalog is the operator's; an entry of no project, or of another tenant's, is not theirs).
extension FleetStatusReader {
    func catalog(_ principal: Principal) async throws -> [TenantCatalogEntryView] {
        let rows = try await db.read(principal, """
            SELECT \(sql: Self.catalogColumns) FROM pm.catalog_status
            WHERE project_id IN (SELECT id::text FROM pm.projects
                                 WHERE tenant_id = \(principal.tenantID) AND (\(principal.projectID)::uuid IS NULL OR id = \(principal.projectID)::uuid))
            ORDER BY slug LIMIT \(Self.overviewLimit)
            """)
        return try rows[0].map { try TenantCatalogEntryView(row: $0, history: nil) }
    }

    /// One entry with its status changes, newest first.
    func catalogEntry(_ slug: String, _ principal: Principal) async throws -> TenantCatalogEntryView {
        let rows = try await db.read(principal, """
            SELECT \(sql: Self.catalogColumns) FROM pm.catalog_status
            WHERE slug = \(slug) AND project_id IN (
                SELECT id::text FROM pm.projects
                WHERE tenant_id = \(principal.tenantID) AND (\(principal.projectID)::uuid IS NULL OR id = \(principal.projectID)::uuid))
            """, """
            SELECT status, previous_status, changed_at FROM pm.catalog_history WHERE slug = \(slug)
            ORDER BY changed_at DESC LIMIT \(FleetStatusStore.historyLimit)
            """)
        guard let row = rows[0].first else { throw PMError.notFound("catalog entry") }
        return try TenantCatalogEntryView(row: row, history: rows[1].map {
            CatalogChangeView(status: try $0.decode(String.self, at: 0), previousStatus: try $0.decode(String.self, at: 1),
                              changedAt: try $0.decode(Date.self, at: 2))
        })
    }
}

/// A catalog entry of one of the tenant's projects.
struct TenantCatalogEntryView: Codable, Sendable, ResponseEncodable {
    var slug: String
    var name: String
    var projectID: UUID?
    var status: String
    var changedAt: Date
    var lastHeartbeatAt: Date?
    var updatedAt: Date
    /// Only for one entry: its status changes, newest first.
    var history: [CatalogChangeView]?

    enum CodingKeys: String, CodingKey {
        case slug, name, status, history
        case projectID = "project_id", changedAt = "changed_at", lastHeartbeatAt = "last_heartbeat_at", updatedAt = "updated_at"
    }

    init(row: PostgresRow, history: [CatalogChangeView]?) throws {
        slug = try row.decode(String.self, "slug")
        name = try row.decode(String.self, "name")
        projectID = try row.decode(String?.self, "project_id").flatMap(UUID.init(uuidString:))
        status = try row.decode(String.self, "status")
        changedAt = try row.decode(Date.self, "changed_at")
        lastHeartbeatAt = try row.decode(Date?.self, "last_heartbeat_at")
        updatedAt = try row.decode(Date.self, "updated_at")
        self.history = history
    }
}

struct CatalogChangeView: Codable, Sendable {
    var status: String
    var previousStatus: String
    var changedAt: Date
    enum CodingKeys: String, CodingKey { case status, previousStatus = "previous_status", changedAt = "changed_at" }
}
