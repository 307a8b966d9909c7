import FlukeModels
import FlukePostgres
import FlukeRuntime
import Foundation

/// Runs a request's statements in one transaction with its tenant (and user) set for the
/// row-level security policies: `set_config(…, true)` lasts exactly as long as the transaction,
/// so a pooled connection never carries a tenant into someone else's request.
struct TenantDatabase: Sendable {
    let postgres: PostgresClient
    let outbox: Outbox

    func inTenant<T: Sendable>(_ tenant: UUID, user: UUID? = nil, _ body: (PostgresHandle) async throws -> T)
        async throws -> T {
        try await outbox.notifyingAfter {
            try await postgres.withTransaction { tx in
            // One round trip for both settings.
            try await tx.query("""
                SELECT set_config('app.tenant_id', \(tenant.uuidString.lowercased()), true),
                       set_config('app.user_id', \(user?.uuidString.lowercased() ?? ""), true)
                """)
            return try await body(tx)
            }
        }
    }

    /// Reads in the principal's tenant: the setting and `statements` in one transaction and one
    /// hop to Postgres' threads (see ``PostgresClient/transaction(_:)``). Returns each statement's rows.
    func read(_ p: Principal, _ statements: PostgresQuery...) async throws -> [PostgresRows] {
        let setting: PostgresQuery = """
            SELECT set_config('app.tenant_id', \(p.tenantID.uuidString.lowercased()), true),
                   set_config('app.user_id', \(p.userID.uuidString.lowercased()), true)
            """
        return Array(try await postgres.transaction([setting] + statements).dropFirst())
    }

    func inTenant<T: Sendable>(of principal: Principal, _ body: (PostgresHandle) async throws -> T) async throws -> T {
        try await inTenant(principal.tenantID, user: principal.userID, body)
    }
}

/// Who did what, for `GET /api/v1/audit`: written in the same transaction as the change.
struct AuditRecord: Sendable {
    var action: String
    var objectType: String
    var objectID: String?
    var details: JSONValue = .object([:])

    func write(on tx: PostgresHandle, tenant: UUID, actor: Principal?, requestID: String?) async throws {
        let details = String(decoding: try FleetJSON.encoder.encode(self.details), as: UTF8.self)
        try await tx.query("""
            INSERT INTO pm.audit_log (tenant_id, actor_user_id, actor_token_id, action, object_type, object_id,
                                      request_id, details)
            VALUES (\(tenant), \(actor?.userID), \(actor?.tokenID), \(action), \(objectType), \(objectID),
                    \(requestID), \(details)::jsonb)
            """)
    }
}

/// A change, its audit row and its event, in one transaction.
struct Change: Sendable {
    let principal: Principal
    let requestID: String
    let outbox: Outbox

    func record(on tx: PostgresHandle, _ audit: AuditRecord, event: EventType?, projectID: UUID?, data: JSONValue)
        async throws {
        try await audit.write(on: tx, tenant: principal.tenantID, actor: principal, requestID: requestID)
        if let event {
            try await outbox.enqueue(CloudEvent(source: "project-manager", type: event,
                                                tenantID: principal.tenantID.uuidString.lowercased(),
                                                projectID: projectID?.uuidString.lowercased(), data: data), on: tx)
        }
    }
}
