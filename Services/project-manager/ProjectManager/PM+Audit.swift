import FlukeModels
import FlukePostgres
import FlukeRuntime
import Foundation

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

    /// A change without an event.
    func record(on tx: PostgresHandle, _ audit: AuditRecord) async throws {
        try await audit.write(on: tx, tenant: principal.tenantID, actor: principal, requestID: requestID)
    }

    func record(on tx: PostgresHandle, _ audit: AuditRecord, event: EventType, projectID: UUID?,
                payload: some EventPayload) async throws {
        try await record(on: tx, audit)
        try await outbox.enqueue(CloudEvent(source: "project-manager", type: event, tenantID: principal.tenantID.lowercased,
                                            projectID: projectID?.lowercased, payload: payload), on: tx)
    }
}
