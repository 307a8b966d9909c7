import FlukeCrypto
import FlukeModels
import FlukePostgres
import FlukeRuntime
import Hummingbird
import Foundation

/// Assembles the context an AI tool fetches, from one consistent snapshot (repeatable read), and
/// the changes feed that brings it up to date.
struct ContextStore: Sendable {
    let db: TenantDatabase
    let env: EnvStore

    struct Snapshot: Sendable {
        /// The body, ready to send: responses share its storage instead of copying it.
        var buffer: ByteBuffer
        var etag: String
        var revealed: [(String, String)]

        /// The answer to a fetch carrying `ifNoneMatch`: 304 with the validators, or 200 with the
        /// body. The route and ``ContextFastPath`` both answer with it.
        func answer(ifNoneMatch: String?) -> (status: HTTPResponse.Status, headers: HTTPFields, body: ByteBuffer?) {
            var headers: HTTPFields = [.eTag: etag, .cacheControl: "private, no-cache"]
            if let ifNoneMatch, ETag.matches(ifNoneMatch, etag) { return (.notModified, headers, nil) }
            headers[.contentType] = "application/json; charset=utf-8"
            return (.ok, headers, buffer)
        }
    }

    /// The whole context in one transaction, one hop and one round trip (a pipeline of
    /// independent reads under repeatable read, so every part is from the same instant); the
    /// context level then decides what is kept. `project` nil means "the token's own". The tenant
    /// setting rides in the same pipeline, so row-level security costs no extra round trip.
    func snapshot(_ projectID: UUID, principal: Principal, level override: ContextLevel?, environment: Environment?)
        async throws -> (ProjectInfo, Snapshot) {
        guard principal.canSee(project: projectID) else { throw ContextError.notFound("project") }
        let tenant = principal.tenantID
        let rows = try await db.postgres.transaction([
            // The isolation level must come before any query, the tenant setting included; the
            // setting then comes before every read, and lasts until this transaction ends.
            "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY",
            TenantDatabase.setting(tenant: principal.tenantID, user: principal.userID),
            """
            SELECT id, tenant_id, name, description, stage, repository_url FROM context.projects
            WHERE id = \(projectID) AND tenant_id = \(tenant) AND NOT deleted
            """,
            MCPStore.query(projectID, tenant: tenant),
            EnvStore.query(projectID, tenant: tenant, environment: environment),
            """
            SELECT user_id, name, email, role FROM context.team_members
            WHERE project_id = \(projectID) AND tenant_id = \(tenant) ORDER BY name, user_id
            """,
            """
            SELECT id, title, description, due_date, status FROM context.milestones
            WHERE project_id = \(projectID) AND tenant_id = \(tenant) AND NOT deleted
            ORDER BY due_date NULLS LAST, title, id
            """,
            """
            SELECT \(sql: MemoryStore.columns) FROM context.memories
            WHERE project_id = \(projectID) AND tenant_id = \(tenant) AND deleted_at IS NULL
            ORDER BY updated_at DESC, id LIMIT 200
            """,
            "SELECT max(seq) FROM context.changes WHERE project_id = \(projectID)",
        ])
        guard let row = rows[2].first else { throw ContextError.notFound("project") }
        let project = ProjectInfo(id: try row.decode(UUID.self, at: 0), tenantID: try row.decode(UUID.self, at: 1),
                                  name: try row.decode(String.self, at: 2), description: try row.decode(String.self, at: 3),
                                  stage: try row.decode(String.self, at: 4), repositoryURL: try row.decode(String?.self, at: 5))
        let mcp = try MCPStore.decode(rows[3])
        let level = override ?? mcp.contextLevel
        var context = ProjectContext(
            project: .init(id: project.id, name: project.name, description: project.description, stage: project.stage),
            mcpConfiguration: mcp)
        var revealed: [(String, String)] = []
        if level != .minimal {
            let (vars, shown) = try env.decode(rows[4], project: project.id, reveal: principal.scopes.contains(.secretsRead))
            context.environmentVariables = vars
            revealed = shown
            context.teamMembers = try rows[5].map {
                TeamMember(userID: try $0.decode(UUID.self, at: 0), name: try $0.decode(String.self, at: 1),
                           email: try $0.decode(String.self, at: 2), role: try $0.decode(String.self, at: 3))
            }
            context.milestones = try rows[6].map {
                MilestoneInfo(id: try $0.decode(UUID.self, at: 0), title: try $0.decode(String.self, at: 1),
                              description: try $0.decode(String.self, at: 2), dueDate: try $0.decode(String?.self, at: 3),
                              status: try $0.decode(String.self, at: 4))
            }.filter { level == .full || $0.status == "planned" || $0.status == "in_progress" }
        }
        if level == .full { context.memories = try rows[7].map(MemoryStore.memory) }
        context.changesCursor = Pagination.cursor(String(try rows[8].first?.decode(Int?.self, at: 0) ?? 0))
        let body = try FleetJSON.encoder.encode(context)
        // Strong validator: the bytes' own digest, so equal bodies share an ETag across replicas.
        let etag = "\"" + String(Crypto.hex(Crypto.sha256(body)).prefix(32)) + "\""
        return (project, Snapshot(buffer: ByteBuffer(bytes: body), etag: etag, revealed: revealed))
    }

    /// Changes after `since` (exclusive), oldest first.
    func changes(_ project: ProjectInfo, principal: Principal, since: Int, limit: Int) async throws -> [Change] {
        try await db.read(principal, """
            SELECT seq, entity, entity_id, op, data::text, at FROM context.changes
            WHERE project_id = \(project.id) AND tenant_id = \(principal.tenantID) AND seq > \(since)
            ORDER BY seq LIMIT \(limit)
            """)[0].map { row in
            Change(cursor: Pagination.cursor(String(try row.decode(Int.self, at: 0))), entity: try row.decode(String.self, at: 1),
                   id: try row.decode(String.self, at: 2), op: try row.decode(String.self, at: 3),
                   data: try FleetJSON.decode(JSONValue.self, from: Data(try row.decode(String.self, at: 4).utf8)),
                   at: try row.decode(Date.self, at: 5))
        }
    }
}

