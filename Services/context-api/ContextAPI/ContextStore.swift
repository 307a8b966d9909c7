import FlukeCrypto
import FlukeModels
import FlukePostgres
import FlukeRuntime
import Foundation

/// Assembles the context an AI tool fetches, from one consistent snapshot (repeatable read), and
/// the changes feed that brings it up to date.
struct ContextStore: Sendable {
    let postgres: PostgresClient
    let env: EnvStore

    struct Snapshot: Sendable {
        var body: Data
        var etag: String
        var revealed: [(String, String)]
    }

    func snapshot(_ project: ProjectInfo, p: Principal, level override: ContextLevel?, environment: Environment?)
        async throws -> Snapshot {
        let reveal = p.scopes.contains(.secretsRead)
        let (context, revealed) = try await postgres.withTransaction { tx -> (ProjectContext, [(String, String)]) in
            try await tx.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            let mcp = try await MCPStore.configuration(project.id, tenant: p.tenantID, on: tx)
            let level = override ?? mcp.contextLevel
            var context = ProjectContext(
                project: .init(id: project.id, name: project.name, description: project.description, stage: project.stage),
                mcpConfiguration: mcp)
            var revealed: [(String, String)] = []
            if level != .minimal {
                let (vars, shown) = try await env.read(project, environment: environment, reveal: reveal, p: p, on: tx)
                context.environmentVariables = vars
                revealed = shown
                context.teamMembers = try await tx.query("""
                    SELECT user_id, name, email, role FROM context.team_members
                    WHERE project_id = \(project.id) AND tenant_id = \(p.tenantID) ORDER BY name, user_id
                    """).map { TeamMember(userID: try $0.decode(UUID.self, at: 0), name: try $0.decode(String.self, at: 1),
                                          email: try $0.decode(String.self, at: 2), role: try $0.decode(String.self, at: 3)) }
                context.milestones = try await tx.query("""
                    SELECT id, title, description, due_date, status FROM context.milestones
                    WHERE project_id = \(project.id) AND tenant_id = \(p.tenantID) AND NOT deleted
                      AND (\(level == .full) OR status IN ('planned', 'in_progress'))
                    ORDER BY due_date NULLS LAST, title, id
                    """).map { MilestoneInfo(id: try $0.decode(UUID.self, at: 0), title: try $0.decode(String.self, at: 1),
                                             description: try $0.decode(String.self, at: 2),
                                             dueDate: try $0.decode(String?.self, at: 3), status: try $0.decode(String.self, at: 4)) }
            }
            if level == .full {
                context.memories = try await tx.query("""
                    SELECT \(sql: MemoryStore.columns) FROM context.memories
                    WHERE project_id = \(project.id) AND tenant_id = \(p.tenantID) AND deleted_at IS NULL
                    ORDER BY updated_at DESC, id LIMIT 200
                    """).map(MemoryStore.memory)
            }
            let last = try await tx.query("SELECT max(seq) FROM context.changes WHERE project_id = \(project.id)")
                .first?.decode(Int?.self, at: 0)
            context.changesCursor = Pagination.cursor(String(last ?? 0))
            return (context, revealed)
        }
        let body = try FleetJSON.encoder.encode(context)
        // Strong validator: the bytes' own digest, so equal bodies share an ETag across replicas.
        let etag = "\"" + String(Crypto.hex(Crypto.sha256(body)).prefix(32)) + "\""
        return Snapshot(body: body, etag: etag, revealed: revealed)
    }

    /// Changes after `since` (exclusive), oldest first.
    func changes(_ project: ProjectInfo, p: Principal, since: Int, limit: Int) async throws -> [Change] {
        try await postgres.query("""
            SELECT seq, entity, entity_id, op, data::text, at FROM context.changes
            WHERE project_id = \(project.id) AND tenant_id = \(p.tenantID) AND seq > \(since)
            ORDER BY seq LIMIT \(limit)
            """).map { row in
            Change(cursor: Pagination.cursor(String(try row.decode(Int.self, at: 0))), entity: try row.decode(String.self, at: 1),
                   id: try row.decode(String.self, at: 2), op: try row.decode(String.self, at: 3),
                   data: try FleetJSON.decode(JSONValue.self, from: Data(try row.decode(String.self, at: 4).utf8)),
                   at: try row.decode(Date.self, at: 5))
        }
    }
}

