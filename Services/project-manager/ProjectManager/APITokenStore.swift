import FlukeCrypto
import FlukeModels
import FlukePostgres
import FlukeRuntime
import Foundation
import Logging

/// `fbk_` API tokens: minted once, stored only as a SHA-256 hash (they carry 256 random bits,
/// so a slow hash adds nothing), listed without secrets, revoked with a `token.revoked` event.
///
/// It is also project-manager's own ``APITokenResolver``: the same lookup answers
/// `fluke.rpc.identity.verify` and this service's bearer authentication.
final class APITokenStore: APITokenResolver, Sendable {
    let db: TenantDatabase
    let cache: TokenCache
    let generation: @Sendable () -> Int

    init(db: TenantDatabase, cache: TokenCache, generation: @escaping @Sendable () -> Int) {
        self.db = db
        self.cache = cache
        self.generation = generation
    }

    static let columns: StaticString = """
        id, name, prefix, project_id, user_id, scopes, created_at, expires_at, last_used_at, revoked_at, parent_token_id
        """

    static func view(_ row: PostgresRow) throws -> APITokenView {
        APITokenView(id: try row.decode(UUID.self, "id"), name: try row.decode(String.self, "name"),
                     prefix: try row.decode(String.self, "prefix"), projectID: try row.decode(UUID?.self, "project_id"),
                     userID: try row.decode(UUID.self, "user_id"),
                     scopes: try row.decode([String].self, "scopes").compactMap(Scope.init(rawValue:)),
                     createdAt: try row.decode(Date.self, "created_at"), expiresAt: try row.decode(Date?.self, "expires_at"),
                     lastUsedAt: try row.decode(Date?.self, "last_used_at"), revokedAt: try row.decode(Date?.self, "revoked_at"),
                     parentTokenID: try row.decode(UUID?.self, "parent_token_id"))
    }

    /// Mints a token holding at most the caller's own scopes, bound to the caller's project if
    /// the caller is itself bound to one. A token minted by a token is its child: it expires no
    /// later than its parent (an expiry asked beyond that, or none, becomes the parent's) and is
    /// revoked with it (``revoke(_:by:requestID:)``).
    func create(by principal: Principal, name: String, projectID: UUID?, scopes: [Scope], expiresInDays: Int?,
                requestID: String) async throws -> APITokenView {
        let missing = Set(scopes).subtracting(principal.scopes)
        guard missing.isEmpty else {
            throw PMError.forbidden("you cannot grant scopes you do not hold: \(missing.sorted().map(\.rawValue).joined(separator: ", "))")
        }
        if let bound = principal.projectID, projectID != bound {
            throw PMError.forbidden("a token bound to a project can only create tokens for that project")
        }
        let secret = APITokenFormat.prefix + Base62.encode(Crypto.randomBytes(32))
        let id = UUID()
        let asked = expiresInDays.map { Date().addingTimeInterval(Double($0) * 86_400) }
        let prefix = String(secret.prefix(APITokenFormat.prefix.count + 6))
        let scopeNames = Array(Set(scopes)).sorted().map(\.rawValue)
        var view = try await db.inTenant(of: principal) { tx in
            let expires = try await Self.lifetime(asked, mintedBy: principal, on: tx)
            if let projectID {
                guard try await !tx.query("SELECT 1 FROM pm.projects WHERE id = \(projectID) AND tenant_id = \(principal.tenantID)").isEmpty else {
                    throw PMError.invalid(field: "project_id", "no such project")
                }
            }
            let row = try await tx.query("""
                INSERT INTO pm.api_tokens (id, tenant_id, user_id, project_id, name, prefix, token_hash, scopes, expires_at,
                                           parent_token_id)
                VALUES (\(id), \(principal.tenantID), \(principal.userID), \(projectID), \(name), \(prefix),
                        \(Crypto.sha256Hex(secret)), \(scopeNames)::text[], \(expires), \(principal.tokenID))
                RETURNING \(sql: Self.columns)
                """).first!
            try await Change(principal: principal, requestID: requestID, outbox: db.outbox)
                .record(on: tx, AuditRecord(action: "token.created", objectType: "api_token", objectID: id.lowercased,
                                            details: .object(["scopes": .array(scopeNames.map { .string($0) })])))
            return try Self.view(row)
        }
        view.token = secret
        return view
    }

    /// The expiry of a token minted by `principal`: `asked`, but never past the minting token's
    /// own. The parent's row is locked `FOR SHARE` and read as committed now (not as the cache saw
    /// it), so a parent revoked a moment ago mints nothing, and a revocation waiting on this lock
    /// finds the child once it is committed.
    static func lifetime(_ asked: Date?, mintedBy principal: Principal, on tx: PostgresHandle) async throws -> Date? {
        guard let parent = principal.tokenID else { return asked }
        guard let row = try await tx.query("""
            SELECT expires_at, revoked_at IS NOT NULL AS revoked, expires_at IS NOT NULL AND expires_at <= now() AS expired
            FROM pm.api_tokens WHERE id = \(parent) AND tenant_id = \(principal.tenantID) FOR SHARE
            """).first else { throw AuthError.invalid("unknown token") }
        if try row.decode(Bool.self, "revoked") { throw AuthError.invalid("the token has been revoked") }
        if try row.decode(Bool.self, "expired") { throw AuthError.invalid("the token has expired") }
        guard let limit = try row.decode(Date?.self, "expires_at") else { return asked }
        return min(asked ?? limit, limit)
    }

    /// Admins see the tenant's tokens; everyone else their own; a token bound to a project only
    /// its user's tokens for that project (the others are beyond its project).
    func list(for principal: Principal, after: Int?, limit: Int) async throws -> (items: [APITokenView], last: Int?) {
        let admin = principal.scopes.contains(.admin) && principal.projectID == nil
        return try await db.inTenant(of: principal) { tx in
            let rows = try await tx.query("""
                SELECT \(sql: Self.columns), seq FROM pm.api_tokens
                WHERE tenant_id = \(principal.tenantID) AND (\(admin) OR user_id = \(principal.userID))
                  AND (\(principal.projectID)::uuid IS NULL OR project_id = \(principal.projectID)::uuid)
                  AND (\(after)::bigint IS NULL OR seq < \(after)::bigint)
                ORDER BY seq DESC LIMIT \(limit)
                """)
            return (try rows.map(Self.view), try rows.rows.last.map { try $0.decode(Int.self, "seq") })
        }
    }

    // MARK: Verification

    func resolve(apiToken: String) async throws -> IdentityRPC.Reply {
        let key = TokenCache.key(for: apiToken)
        let generation = generation()
        if let hit = cache.get(key, generation: generation) { return hit }
        let reply = try await lookup(apiToken, hash: key)
        cache.put(key, reply, generation: generation)
        return reply
    }

    /// The token's identity from Postgres: its own scopes narrowed to what its user's current
    /// role still allows (a user demoted or removed takes their tokens down with them).
    func lookup(_ token: String, hash: String) async throws -> IdentityRPC.Reply {
        guard APITokenFormat.looksLikeAPIToken(token), Base62.isBase62(token.dropFirst(APITokenFormat.prefix.count)) else {
            return .invalid("the token is not a FlukeBase API token")
        }
        return try await db.postgres.withTransaction { tx in
            try await tx.setLocal("app.token_hash", hash)
            guard let row = try await tx.query("""
                SELECT id, tenant_id, user_id, project_id, scopes, expires_at, revoked_at IS NOT NULL AS revoked,
                       expires_at IS NOT NULL AND expires_at <= now() AS expired,
                       last_used_at IS NULL OR last_used_at < now() - interval '1 minute' AS stale_use
                FROM pm.api_tokens WHERE token_hash = \(hash)
                """).first else { return .invalid("unknown token") }
            if try row.decode(Bool.self, "revoked") { return .invalid("the token has been revoked") }
            if try row.decode(Bool.self, "expired") { return .invalid("the token has expired") }
            let id = try row.decode(UUID.self, "id")
            let tenant = try row.decode(UUID.self, "tenant_id")
            let user = try row.decode(UUID.self, "user_id")
            try await tx.setLocal("app.tenant_id", tenant.lowercased)
            guard let role = try await tx.query("""
                SELECT role FROM pm.memberships WHERE tenant_id = \(tenant) AND user_id = \(user)
                """).first.flatMap({ TenantRole(rawValue: try $0.decode(String.self, at: 0)) }) else {
                return .invalid("the token's user is no longer in its tenant")
            }
            if try row.decode(Bool.self, "stale_use") {
                // Throttled to once a minute per token: verification is a read path.
                try await tx.query("UPDATE pm.api_tokens SET last_used_at = now() WHERE id = \(id) AND tenant_id = \(tenant)")
            }
            let scopes = Set(try row.decode([String].self, "scopes").compactMap(Scope.init(rawValue:))).intersection(role.scopes)
            return IdentityRPC.Reply(valid: true, tenantID: tenant, userID: user, projectID: try row.decode(UUID?.self, "project_id"),
                                     scopes: scopes.sorted(), expiresAt: try row.decode(Date?.self, "expires_at"),
                                     tokenID: id)
        }
    }
}
