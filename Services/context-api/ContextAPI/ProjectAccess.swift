import FlukeModels
import FlukePostgres
import FlukeRuntime
import Foundation

/// Which project a request is about, and whether the caller may touch it: the project must be in
/// the replica, in the caller's tenant, not deleted, and the token's own project when the token
/// is bound to one. Anything else is 404, so another tenant's or project's ids reveal nothing.
struct ProjectAccess: Sendable {
    let db: TenantDatabase

    func project(_ id: UUID, for principal: Principal) async throws -> ProjectInfo {
        guard principal.canSee(project: id), let row = try await db.read(principal, """
            SELECT id, tenant_id, name, description, stage, repository_url FROM context.projects
            WHERE id = \(id) AND tenant_id = \(principal.tenantID) AND NOT deleted
            """)[0].first else { throw ContextError.notFound("project") }
        return ProjectInfo(id: try row.decode(UUID.self, at: 0), tenantID: try row.decode(UUID.self, at: 1),
                           name: try row.decode(String.self, at: 2), description: try row.decode(String.self, at: 3),
                           stage: try row.decode(String.self, at: 4), repositoryURL: try row.decode(String?.self, at: 5))
    }

    /// The flukebase_connect routes work on the token's project; a session (or an unbound token)
    /// names it with `?project_id=` (a bound token naming another project gets 404).
    func connectProject(_ request: Hummingbird.Request, for principal: Principal) async throws -> ProjectInfo {
        try await project(try connectProjectID(request, for: principal), for: principal)
    }

    /// The id ``connectProject(_:for:)`` resolves, without looking it up.
    func connectProjectID(_ request: Hummingbird.Request, for principal: Principal) throws -> UUID {
        if let id = try Parameters.uuidQuery(request, "project_id") { return id }
        guard let bound = principal.projectID else {
            throw ContextError.invalid(field: "project_id", "is required unless the token is bound to a project")
        }
        return bound
    }
}

import Hummingbird

/// Appends to `context.changes` inside the caller's transaction, after taking the project's
/// transaction-scoped advisory lock (see the table's comment in the migration).
enum ChangeLog {
    static func lock(_ project: UUID, on tx: PostgresHandle) async throws {
        try await tx.query("SELECT pg_advisory_xact_lock(hashtext(\("fluke.context.changes." + project.uuidString.lowercased())))")
    }

    static func append(_ project: UUID, tenant: UUID, entity: String, id: String, op: String, data: JSONValue,
                       on tx: PostgresHandle) async throws {
        let json = String(decoding: try FleetJSON.encoder.encode(data), as: UTF8.self)
        try await tx.query("""
            INSERT INTO context.changes (project_id, tenant_id, entity, entity_id, op, data)
            VALUES (\(project), \(tenant), \(entity), \(id), \(op), \(json)::jsonb)
            """)
    }
}
