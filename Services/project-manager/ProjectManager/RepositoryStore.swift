import FlukeCrypto
import FlukeModels
import FlukePostgres
import FlukeRuntime
import Foundation
import Hummingbird

/// How GitHub is to call the fleet about a linked repository. `secret` is shown once, when the
/// link is made (or made again, which replaces it).
struct WebhookSetup: Codable, Sendable {
    var path = RepositoryStore.webhookPath
    var contentType = "application/json"
    var events = ["issues"]
    var secret: String?

    enum CodingKeys: String, CodingKey { case path, events, secret, contentType = "content_type" }
}

/// A project's GitHub repository, as the API shows it.
struct RepositoryLinkView: Codable, Sendable, ResponseEncodable {
    var projectID: UUID
    var connectionID: UUID
    var fullName: String
    var githubID: Int
    var htmlURL: String?
    var linkedAt: Date
    /// When the issues and pull requests were last read from GitHub, and what went wrong if the
    /// last attempt failed.
    var syncedAt: Date?
    var syncError: String?
    var webhook: WebhookSetup

    enum CodingKeys: String, CodingKey {
        case webhook
        case projectID = "project_id", connectionID = "connection_id", fullName = "full_name", githubID = "github_id",
             htmlURL = "html_url", linkedAt = "linked_at", syncedAt = "synced_at", syncError = "sync_error"
    }
}

/// Projects' repository links (`pm.project_repositories`), each with its own webhook secret sealed
/// under project-manager's keyring (associated data `tenant/repository/project`).
struct RepositoryStore: Sendable {
    let db: TenantDatabase
    let keyring: Keyring?
    static let webhookPath = "/api/v1/connections/github/webhook"
    static let columns: StaticString = "project_id, connection_id, full_name, github_id, html_url, linked_at, synced_at, sync_error"

    static func view(_ row: PostgresRow, secret: String? = nil) throws -> RepositoryLinkView {
        RepositoryLinkView(projectID: try row.decode(UUID.self, "project_id"), connectionID: try row.decode(UUID.self, "connection_id"),
                           fullName: try row.decode(String.self, "full_name"), githubID: try row.decode(Int.self, "github_id"),
                           htmlURL: try row.decode(String?.self, "html_url"), linkedAt: try row.decode(Date.self, "linked_at"),
                           syncedAt: try row.decode(Date?.self, "synced_at"), syncError: try row.decode(String?.self, "sync_error"),
                           webhook: WebhookSetup(secret: secret))
    }

    static func context(tenant: UUID, project: UUID) -> String { "\(tenant.lowercased)/repository/\(project.lowercased)" }

    /// Links `project` to a repository (replacing any link it had) with a new webhook secret,
    /// due for an import at once.
    func link(_ project: UUID, connection: UUID, fullName: String, githubID: Int, htmlURL: String?, _ principal: Principal,
              requestID: String) async throws -> RepositoryLinkView {
        guard let keyring else {
            throw PMError.unavailable("repository links need FLUKE_ENCRYPTION_KEY on project-manager to seal their webhook secrets")
        }
        let secret = Crypto.hex(Crypto.randomBytes(32))
        let sealed = try keyring.sealEnvelope(secret, context: Self.context(tenant: principal.tenantID, project: project))
        return try await db.inTenant(of: principal) { tx in
            _ = try await ProjectStore.requireProject(project, principal, on: tx)
            let row = try await tx.query("""
                INSERT INTO pm.project_repositories AS r (project_id, tenant_id, connection_id, full_name, github_id, html_url,
                    webhook_kek_id, webhook_wrapped_key, webhook_sealed, linked_by)
                VALUES (\(project), \(principal.tenantID), \(connection), \(fullName), \(githubID), \(htmlURL), \(sealed.kekID),
                        \(sealed.wrappedKey), \(sealed.sealed), \(principal.userID))
                ON CONFLICT (project_id) DO UPDATE SET
                    connection_id = EXCLUDED.connection_id, full_name = EXCLUDED.full_name, github_id = EXCLUDED.github_id,
                    html_url = EXCLUDED.html_url, webhook_kek_id = EXCLUDED.webhook_kek_id,
                    webhook_wrapped_key = EXCLUDED.webhook_wrapped_key, webhook_sealed = EXCLUDED.webhook_sealed,
                    linked_by = EXCLUDED.linked_by, linked_at = now(), next_sync_at = now(), sync_error = NULL,
                    open_pulls = CASE WHEN r.github_id = EXCLUDED.github_id THEN r.open_pulls END,
                    pulls_checked_at = CASE WHEN r.github_id = EXCLUDED.github_id THEN r.pulls_checked_at END
                RETURNING \(sql: Self.columns)
                """).first!
            try await Change(principal: principal, requestID: requestID, outbox: db.outbox)
                .record(on: tx, AuditRecord(action: "repository.linked", objectType: "project", objectID: project.lowercased,
                                            details: .object(["full_name": .string(fullName), "connection_id": .string(connection.lowercased)])))
            return try Self.view(row, secret: secret)
        }
    }

    func get(_ project: UUID, _ principal: Principal) async throws -> RepositoryLinkView {
        try await db.inTenant(of: principal) { tx in
            _ = try await ProjectStore.requireProject(project, principal, on: tx)
            guard let row = try await tx.query("""
                SELECT \(sql: Self.columns) FROM pm.project_repositories WHERE project_id = \(project) AND tenant_id = \(principal.tenantID)
                """).first else { throw PMError.notFound("repository link for this project") }
            return try Self.view(row)
        }
    }

    func unlink(_ project: UUID, _ principal: Principal, requestID: String) async throws {
        try await db.inTenant(of: principal) { tx in
            _ = try await ProjectStore.requireProject(project, principal, on: tx)
            guard try await !tx.query("""
                DELETE FROM pm.project_repositories WHERE project_id = \(project) AND tenant_id = \(principal.tenantID) RETURNING 1
                """).isEmpty else { throw PMError.notFound("repository link for this project") }
            try await Change(principal: principal, requestID: requestID, outbox: db.outbox)
                .record(on: tx, AuditRecord(action: "repository.unlinked", objectType: "project", objectID: project.lowercased))
        }
    }
}

/// The fleet's own work on links: the sync's due list and claims, the webhook's targets.
extension RepositoryStore {
    struct Link: Sendable {
        var project: UUID
        var tenant: UUID
        var connection: UUID
        var fullName: String
    }

    /// Links whose sync is due, the longest waiting first (across tenants, read only).
    func due(limit: Int = 100) async throws -> [Link] {
        try await db.readAsSystem("""
            SELECT project_id, tenant_id, connection_id, full_name FROM pm.project_repositories
            WHERE next_sync_at <= now() ORDER BY next_sync_at LIMIT \(limit)
            """)[0].map { row in
            Link(project: try row.decode(UUID.self, at: 0), tenant: try row.decode(UUID.self, at: 1),
                 connection: try row.decode(UUID.self, at: 2), fullName: try row.decode(String.self, at: 3))
        }
    }

    /// Takes `link`'s sync until `interval` from now; false when another replica (or an earlier
    /// round) already has.
    func claim(_ link: Link, for interval: Duration) async throws -> Bool {
        try await db.inTenant(link.tenant) { tx in
            try await !tx.query("""
                UPDATE pm.project_repositories SET next_sync_at = now() + make_interval(secs => \(interval.secondsValue))
                WHERE project_id = \(link.project) AND tenant_id = \(link.tenant) AND next_sync_at <= now() RETURNING 1
                """).isEmpty
        }
    }

    /// Records a sync's outcome: its time, its error, the open pull requests it saw.
    func synced(_ link: Link, error: String?, pulls: JSONValue?) async throws {
        try await db.inTenant(link.tenant) { tx in
            try await tx.query("""
                UPDATE pm.project_repositories SET
                    synced_at = CASE WHEN \(error)::text IS NULL THEN now() ELSE synced_at END, sync_error = \(error),
                    open_pulls = COALESCE(\(pulls?.jsonText)::jsonb, open_pulls),
                    pulls_checked_at = CASE WHEN \(pulls != nil) THEN now() ELSE pulls_checked_at END
                WHERE project_id = \(link.project) AND tenant_id = \(link.tenant)
                """)
        }
    }

    /// The links of GitHub repository `githubID`, each with its webhook secret opened.
    func webhookTargets(githubID: Int) async throws -> [(link: Link, secret: String)] {
        guard let keyring else { return [] }
        return try await db.readAsSystem("""
            SELECT project_id, tenant_id, connection_id, full_name, webhook_kek_id, webhook_wrapped_key, webhook_sealed
            FROM pm.project_repositories WHERE github_id = \(githubID) LIMIT 100
            """)[0].map { row in
            let link = Link(project: try row.decode(UUID.self, at: 0), tenant: try row.decode(UUID.self, at: 1),
                            connection: try row.decode(UUID.self, at: 2), fullName: try row.decode(String.self, at: 3))
            let envelope = SealedEnvelope(kekID: try row.decode(String.self, at: 4), wrappedKey: try row.decode(String.self, at: 5),
                                          sealed: try row.decode(String.self, at: 6))
            return (link, try keyring.openEnvelope(envelope, context: Self.context(tenant: link.tenant, project: link.project)))
        }
    }
}
