import FlukeModels
import FlukePostgres
import FlukeRuntime
import Hummingbird
import Foundation

/// A tenant's connection to GitHub or Coder as the API shows it: never its credential.
struct ConnectionView: Codable, Sendable, ResponseEncodable {
    var id: UUID
    var provider: String
    var kind: String
    var status: String
    var statusReason: String?
    /// Who the credential acts as (GitHub's `login`, Coder's `username`, …).
    var account: JSONValue
    /// A Coder deployment's base URL.
    var url: String?
    var createdAt: Date
    var checkedAt: Date

    enum CodingKeys: String, CodingKey {
        case id, provider, kind, status, account, url
        case statusReason = "status_reason", createdAt = "created_at", checkedAt = "checked_at"
    }
}

/// Connections and their sealed credentials (``SealedEnvelope``, associated data `tenant/id`).
struct ConnectionStore: Sendable {
    let db: TenantDatabase
    let keyring: Keyring?
    /// The most connections one tenant keeps.
    static let limit = 100

    static let columns: StaticString = "id, provider, kind, status, status_reason, account::text, base_url, created_at, checked_at"

    static func view(_ row: PostgresRow) throws -> ConnectionView {
        ConnectionView(id: try row.decode(UUID.self, "id"), provider: try row.decode(String.self, "provider"),
                       kind: try row.decode(String.self, "kind"), status: try row.decode(String.self, "status"),
                       statusReason: try row.decode(String?.self, "status_reason"),
                       account: try JSONValue(parsing: Data(try row.decode(String.self, "account").utf8)),
                       url: try row.decode(String?.self, "base_url"), createdAt: try row.decode(Date.self, "created_at"),
                       checkedAt: try row.decode(Date.self, "checked_at"))
    }

    static func context(tenant: UUID, id: UUID) -> String { "\(tenant.lowercased)/connection/\(id.lowercased)" }

    func create(by principal: Principal, requestID: String, provider: String, kind: String, account: JSONValue,
                url: String?, credential: String) async throws -> ConnectionView {
        guard let keyring else {
            throw PMError.unavailable("connections need FLUKE_ENCRYPTION_KEY on project-manager to seal their credentials")
        }
        let id = UUID()
        let envelope = try keyring.sealEnvelope(credential, context: Self.context(tenant: principal.tenantID, id: id))
        let accountText = account.jsonText
        return try await db.inTenant(of: principal) { tx in
            // Serialised per tenant, so that two connects at once cannot both pass the limit.
            try await tx.query("SELECT 1 FROM pm.tenants WHERE id = \(principal.tenantID) FOR UPDATE")
            let count = try await tx.query("SELECT count(*) FROM pm.connections").first!.decode(Int.self, at: 0)
            guard count < Self.limit else {
                throw PMError.conflict(field: "provider", "a tenant keeps at most \(Self.limit) connections; delete one first")
            }
            let row = try await tx.query("""
                INSERT INTO pm.connections (id, tenant_id, provider, kind, account, base_url, kek_id, wrapped_key, sealed, created_by)
                VALUES (\(id), \(principal.tenantID), \(provider), \(kind), \(accountText)::jsonb, \(url), \(envelope.kekID),
                        \(envelope.wrappedKey), \(envelope.sealed), \(principal.userID))
                RETURNING \(sql: Self.columns)
                """).first!
            try await Change(principal: principal, requestID: requestID, outbox: db.outbox)
                .record(on: tx, AuditRecord(action: "connection.created", objectType: "connection", objectID: id.lowercased,
                                            details: .object(["provider": .string(provider), "kind": .string(kind)])))
            return try Self.view(row)
        }
    }

    func list(_ principal: Principal) async throws -> [ConnectionView] {
        try await db.inTenant(of: principal) { tx in
            try await tx.query("SELECT \(sql: Self.columns) FROM pm.connections ORDER BY created_at, id LIMIT \(Self.limit)")
                .map(Self.view)
        }
    }

    func get(_ id: UUID, _ principal: Principal) async throws -> ConnectionView {
        try await db.inTenant(of: principal) { tx in
            guard let row = try await tx.query("SELECT \(sql: Self.columns) FROM pm.connections WHERE id = \(id)").first else {
                throw PMError.notFound("connection")
            }
            return try Self.view(row)
        }
    }

    func delete(_ id: UUID, _ principal: Principal, requestID: String) async throws {
        try await db.inTenant(of: principal) { tx in
            guard try await !tx.query("DELETE FROM pm.connections WHERE id = \(id) RETURNING id").isEmpty else {
                throw PMError.notFound("connection")
            }
            try await Change(principal: principal, requestID: requestID, outbox: db.outbox)
                .record(on: tx, AuditRecord(action: "connection.deleted", objectType: "connection", objectID: id.lowercased))
        }
    }
}

extension ConnectionStore {
    /// The Coder connection to act with (`id`, or the tenant's only one): its base URL and token, opened.
    func coderCredential(_ id: UUID?, tenant: UUID) async throws -> (id: UUID, url: String, token: String) {
        let found = try await credential("coder", id, tenant: tenant)
        return (found.id, found.url ?? "", found.secret)
    }

    /// An active connection of `provider` (`id`, or the tenant's only one): its kind, URL and credential, opened.
    func credential(_ provider: String, _ id: UUID?, tenant: UUID) async throws -> (id: UUID, kind: String, url: String?, secret: String) {
        let name = provider == "github" ? "GitHub" : "Coder"
        guard let keyring else {
            throw PMError.unavailable("connections need FLUKE_ENCRYPTION_KEY on project-manager to open their credentials")
        }
        let rows = try await db.inTenant(tenant) { tx in
            try await tx.query("""
                SELECT id, status, kek_id, wrapped_key, sealed, base_url, kind FROM pm.connections
                WHERE provider = \(provider) AND (\(id)::uuid IS NULL OR id = \(id)) ORDER BY created_at LIMIT 2
                """).map { row in
                (try row.decode(UUID.self, at: 0), try row.decode(String.self, at: 1),
                 SealedEnvelope(kekID: try row.decode(String.self, at: 2), wrappedKey: try row.decode(String.self, at: 3),
                                sealed: try row.decode(String.self, at: 4)), try row.decode(String?.self, at: 5),
                 try row.decode(String.self, at: 6))
            }
        }
        guard let first = rows.first else {
            throw id == nil ? PMError.invalid(field: "connection_id", "this tenant has no \(name) connection") : PMError.notFound("connection")
        }
        let (found, status, envelope, url, kind) = first
        guard id != nil || rows.count == 1 else {
            throw PMError.invalid(field: "connection_id", "this tenant has several \(name) connections: name one")
        }
        guard status == "active" else {
            throw PMError.conflict(field: "connection_id", "the connection is invalid (\(name) refused its token); connect again")
        }
        return (found, kind, url, try keyring.openEnvelope(envelope, context: Self.context(tenant: tenant, id: found)))
    }

    /// Keeps a user's GitHub grant (login with GitHub) as the tenant's `oauth` connection for that
    /// GitHub account: a new one, or the same one with the new grant. Without a keyring, or with
    /// the tenant's connections full, the login still stands and the grant is not kept.
    func keepGrant(tenant: UUID, user: UUID, account: JSONValue, credential: String, requestID: String) async throws {
        guard let keyring, let githubID = account["id"]?.jsonText else { return }
        try await db.inTenant(tenant, user: user) { tx in
            try await tx.query("SELECT 1 FROM pm.tenants WHERE id = \(tenant) FOR UPDATE")
            let existing = try await tx.query("""
                SELECT id FROM pm.connections WHERE provider = 'github' AND kind = 'oauth' AND account->>'id' = \(githubID) LIMIT 1
                """).first?.decode(UUID.self, at: 0)
            let id = existing ?? UUID()
            let envelope = try keyring.sealEnvelope(credential, context: Self.context(tenant: tenant, id: id))
            if existing != nil {
                try await tx.query("""
                    UPDATE pm.connections SET kek_id = \(envelope.kekID), wrapped_key = \(envelope.wrappedKey), sealed = \(envelope.sealed),
                        account = \(account.jsonText)::jsonb, status = 'active', status_reason = NULL, updated_at = now(), checked_at = now()
                    WHERE id = \(id)
                    """)
                return
            }
            let count = try await tx.query("SELECT count(*) FROM pm.connections").first!.decode(Int.self, at: 0)
            guard count < Self.limit else { return }
            try await tx.query("""
                INSERT INTO pm.connections (id, tenant_id, provider, kind, account, kek_id, wrapped_key, sealed, created_by)
                VALUES (\(id), \(tenant), 'github', 'oauth', \(account.jsonText)::jsonb, \(envelope.kekID), \(envelope.wrappedKey),
                        \(envelope.sealed), \(user))
                """)
            try await AuditRecord(action: "connection.created", objectType: "connection", objectID: id.lowercased,
                                  details: .object(["provider": .string("github"), "kind": .string("oauth")]))
                .write(on: tx, tenant: tenant, actor: Principal(kind: .user, tenantID: tenant, userID: user, scopes: []), requestID: requestID)
        }
    }

    /// The provider refused the credential: the connection is `invalid` with the reason.
    func markInvalid(_ id: UUID, _ principal: Principal, reason: String) async throws {
        try await markInvalid(id, tenant: principal.tenantID, reason: reason)
    }

    func markInvalid(_ id: UUID, tenant: UUID, reason: String) async throws {
        try await db.inTenant(tenant) { tx in
            try await tx.query("""
                UPDATE pm.connections SET status = 'invalid', status_reason = \(reason), updated_at = now() WHERE id = \(id)
                """)
        }
    }
}
