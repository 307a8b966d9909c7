import FlukeModels
import FlukePostgres
import FlukeRuntime
import Foundation

extension APITokenStore {
    /// Revokes a token of the caller's (or, for admins, of the tenant's), and every token minted
    /// from it, at any depth: a token handed to a tool must not survive the one it came from.
    /// Each revoked token gets its own `token.revoked`, so every service's cache drops it.
    func revoke(_ id: UUID, by principal: Principal, requestID: String) async throws {
        let admin = principal.scopes.contains(.admin) && principal.projectID == nil
        let revoked = try await db.inTenant(of: principal) { tx -> [UUID] in
            guard let row = try await tx.query("""
                SELECT user_id, project_id FROM pm.api_tokens WHERE id = \(id) AND tenant_id = \(principal.tenantID)
                """).first else { throw PMError.notFound("token") }
            let owner = try row.decode(UUID.self, at: 0)
            let project = try row.decode(UUID?.self, at: 1)
            // A caller bound to a project reaches only that project's tokens.
            guard admin || owner == principal.userID, principal.projectID == nil || project == principal.projectID else {
                throw PMError.notFound("token")
            }
            // Its own statement first: the row lock waits for a child being minted from it (which
            // holds the row FOR SHARE) to commit, and the descendants' statement below, with a
            // snapshot taken after that, sees the child. Later mints wait for this transaction
            // and then find the parent revoked.
            let own = try await tx.query("""
                UPDATE pm.api_tokens SET revoked_at = now() WHERE id = \(id) AND tenant_id = \(principal.tenantID)
                  AND revoked_at IS NULL
                RETURNING id, user_id, project_id
                """)
            // Through revoked descendants too: an earlier revocation may predate their children.
            let descendants = try await tx.query("""
                WITH RECURSIVE tree AS (
                    SELECT id FROM pm.api_tokens WHERE parent_token_id = \(id) AND tenant_id = \(principal.tenantID)
                    UNION
                    SELECT c.id FROM pm.api_tokens c JOIN tree ON c.parent_token_id = tree.id
                    WHERE c.tenant_id = \(principal.tenantID)
                )
                UPDATE pm.api_tokens SET revoked_at = now()
                WHERE id IN (SELECT id FROM tree) AND tenant_id = \(principal.tenantID) AND revoked_at IS NULL
                RETURNING id, user_id, project_id
                """)
            var ids: [UUID] = []
            for (i, row) in (own.rows + descendants.rows).enumerated() {
                let token = try row.decode(UUID.self, at: 0)
                let user = try row.decode(UUID.self, at: 1)
                let tokenProject = try row.decode(UUID?.self, at: 2)
                var details: [String: JSONValue] = [:]
                if i > 0 || own.rows.isEmpty { details["revoked_with"] = .string(id.lowercased) }
                try await Change(principal: principal, requestID: requestID, outbox: db.outbox)
                    .record(on: tx, AuditRecord(action: "token.revoked", objectType: "api_token", objectID: token.lowercased,
                                                details: .object(details)),
                            event: .tokenRevoked, projectID: tokenProject,
                            payload: TokenRevokedPayload(tokenID: token, userID: user, projectID: tokenProject))
                ids.append(token)
            }
            return ids
        }
        // This replica forgets them now; the others when `token.revoked` reaches them.
        for token in revoked { cache.revoke(tokenID: token) }
    }
}
