import FlukeModels
import FlukePostgres
import FlukeRuntime
import Foundation

/// Project memories synced with flukebase_connect.
///
/// Conflict rule (documented in docs/architecture.md): an update carrying the version it was
/// based on (`If-Match: "<version>"` or `version` in the body) that is still current simply
/// applies. With `If-Match` and a stale version the answer is 412. Otherwise the newer
/// `updated_at` wins (the client's, from the body, against the stored one); on a tie the server's
/// copy wins. The losing copy is kept in `memory_conflicts`.
struct MemoryStore: Sendable {
    let db: TenantDatabase
    /// Told after each committed change, so cached contexts of the project are dropped.
    let cache: ContextCache
    /// Memories a project may hold (tombstones not counted).
    let maxPerProject: Int

    static let columns: StaticString =
        "id, external_id, project_id, memory_type, content, tags, created_by, created_at, updated_at, version, synced_at"

    static func memory(_ row: PostgresRow) throws -> Memory {
        Memory(id: try row.decode(UUID.self, "id"), externalID: try row.decode(UUID.self, "external_id"),
               projectID: try row.decode(UUID.self, "project_id"),
               memoryType: MemoryType(rawValue: try row.decode(String.self, "memory_type")) ?? .fact,
               content: try row.decode(String.self, "content"), tags: try row.decode([String].self, "tags"),
               createdBy: try row.decode(UUID?.self, "created_by"), createdAt: try row.decode(Date.self, "created_at"),
               updatedAt: try row.decode(Date.self, "updated_at"), version: try row.decode(Int.self, "version"),
               syncedAt: try row.decode(Date.self, "synced_at"))
    }

    struct Input: Sendable {
        var externalID: UUID?
        var memoryType: MemoryType?
        var content: String?
        var tags: [String]?
        var updatedAt: Date?
        var baseVersion: Int?
    }

    private func record(_ m: Memory, deleted: Bool, tenant: UUID, on tx: PostgresHandle) async throws {
        let event = try CloudEvent(source: "context-api", type: .memorySynced, tenantID: tenant.lowercased,
                                   projectID: m.projectID.lowercased,
                                   payload: MemorySyncedPayload(id: m.id, externalID: m.externalID,
                                                                memoryType: m.memoryType.rawValue, version: m.version,
                                                                deleted: deleted))
        try await ChangeLog.append(m.projectID, tenant: tenant, entity: "memory", id: m.id.lowercased,
                                   op: deleted ? "delete" : "upsert", data: deleted ? event.data : try JSONValue(encoding: m),
                                   on: tx)
        try await db.outbox.enqueue(event, on: tx)
    }

    /// Creates a memory, or returns the one already created with this `external_id` (`created` false).
    func create(_ project: ProjectInfo, _ input: Input, by principal: Principal) async throws -> (Memory, created: Bool) {
        defer { cache.invalidate(project.id) }
        return try await db.inTenant(of: principal) { tx in
            try await ChangeLog.lock(project.id, on: tx)
            if let existing = try await tx.query("""
                SELECT \(sql: Self.columns), deleted_at IS NOT NULL AS deleted FROM context.memories
                WHERE project_id = \(project.id) AND external_id = \(input.externalID!)
                """).first {
                guard try !existing.decode(Bool.self, "deleted") else {
                    throw ContextError.conflict(field: "external_id", "the memory with this external_id was deleted")
                }
                return (try Self.memory(existing), false)
            }
            // Counted under the project's lock, so concurrent creators cannot both pass at the limit.
            let live = try await tx.query("""
                SELECT count(*) FROM context.memories WHERE project_id = \(project.id) AND deleted_at IS NULL
                """).first!.decode(Int.self, at: 0)
            guard live < maxPerProject else {
                throw LimitReached("memories", of: "project", limit: maxPerProject, variable: "CONTEXT_MAX_MEMORIES_PER_PROJECT")
            }
            let m = try Self.memory(try await tx.query("""
                INSERT INTO context.memories (id, project_id, tenant_id, external_id, memory_type, content, tags,
                                              created_by, updated_at)
                VALUES (\(UUID()), \(project.id), \(principal.tenantID), \(input.externalID!), \(input.memoryType!.rawValue),
                        \(input.content!), \(input.tags ?? [])::text[], \(principal.userID), \(input.updatedAt ?? Date()))
                RETURNING \(sql: Self.columns)
                """).first!)
            try await record(m, deleted: false, tenant: principal.tenantID, on: tx)
            return (m, true)
        }
    }

    struct Filter: Sendable {
        var memoryType: MemoryType?
        var tag: String?
        var query: String?
    }

    func list(_ project: ProjectInfo, filter: Filter, after: Int?, limit: Int, principal: Principal) async throws -> ([Memory], Int?) {
        let pattern = filter.query.map { "%" + $0.replacingOccurrences(of: "\\", with: "\\\\")
            .replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_") + "%" }
        let rows = try await db.read(principal, """
            SELECT \(sql: Self.columns), seq FROM context.memories
            WHERE project_id = \(project.id) AND tenant_id = \(principal.tenantID) AND deleted_at IS NULL
              AND (\(filter.memoryType?.rawValue)::text IS NULL OR memory_type = \(filter.memoryType?.rawValue)::text)
              AND (\(filter.tag)::text IS NULL OR tags @> ARRAY[\(filter.tag)::text])
              AND (\(pattern)::text IS NULL OR content ILIKE \(pattern)::text)
              AND (\(after)::bigint IS NULL OR seq > \(after)::bigint)
            ORDER BY seq LIMIT \(limit)
            """)[0]
        return (try rows.map(Self.memory), try rows.rows.last.map { try $0.decode(Int.self, "seq") })
    }

    func get(_ project: ProjectInfo, _ id: UUID, principal: Principal) async throws -> Memory {
        guard let row = try await db.read(principal, """
            SELECT \(sql: Self.columns) FROM context.memories
            WHERE id = \(id) AND project_id = \(project.id) AND tenant_id = \(principal.tenantID) AND deleted_at IS NULL
            """)[0].first else { throw ContextError.notFound("memory") }
        return try Self.memory(row)
    }

    /// The outcome of an update: the memory as it now stands, and the conflict it resolved, if any.
    struct Updated: Sendable {
        var memory: Memory
        var conflict: (id: UUID, winner: String)?
    }

    func update(_ project: ProjectInfo, _ id: UUID, _ input: Input, ifMatch: Int?, by principal: Principal) async throws -> Updated {
        defer { cache.invalidate(project.id) }
        return try await db.inTenant(of: principal) { tx in
            try await ChangeLog.lock(project.id, on: tx)
            let current = try await locked(project, id, ifMatch: ifMatch, principal: principal, on: tx)
            let proposed = Memory(
                id: current.id, externalID: current.externalID, projectID: current.projectID,
                memoryType: input.memoryType ?? current.memoryType, content: input.content ?? current.content,
                tags: input.tags ?? current.tags, createdBy: current.createdBy, createdAt: current.createdAt,
                updatedAt: input.updatedAt ?? Date(), version: current.version, syncedAt: current.syncedAt)
            let base = ifMatch ?? input.baseVersion
            var conflict: (UUID, String)?
            var winner = proposed
            if base != current.version {
                // No (or a stale) base version: newest updated_at wins; ties keep the server's copy.
                let clientWins = proposed.updatedAt > current.updatedAt
                winner = clientWins ? proposed : current
                let loser = clientWins ? current : proposed
                let conflictID = UUID()
                try await tx.query("""
                    INSERT INTO context.memory_conflicts (id, memory_id, project_id, tenant_id, winner, losing_memory_type,
                        losing_content, losing_tags, losing_updated_at, losing_version, base_version, resolved_version, created_by)
                    VALUES (\(conflictID), \(id), \(project.id), \(principal.tenantID), \(clientWins ? "client" : "server"),
                            \(loser.memoryType.rawValue), \(loser.content), \(loser.tags)::text[], \(loser.updatedAt),
                            \(loser.version), \(base), \(current.version + (clientWins ? 1 : 0)), \(principal.userID))
                    """)
                conflict = (conflictID, clientWins ? "client" : "server")
                if !clientWins { return Updated(memory: current, conflict: conflict) }
            }
            let m = try Self.memory(try await tx.query("""
                UPDATE context.memories SET memory_type = \(winner.memoryType.rawValue), content = \(winner.content),
                    tags = \(winner.tags)::text[], updated_at = \(winner.updatedAt), version = version + 1, synced_at = now()
                WHERE id = \(id) RETURNING \(sql: Self.columns)
                """).first!)
            try await record(m, deleted: false, tenant: principal.tenantID, on: tx)
            return Updated(memory: m, conflict: conflict)
        }
    }

    /// The live memory, locked for this transaction; 404 when absent, 412 when `ifMatch` is stale.
    private func locked(_ project: ProjectInfo, _ id: UUID, ifMatch: Int?, principal: Principal, on tx: PostgresHandle)
        async throws -> Memory {
        guard let row = try await tx.query("""
            SELECT \(sql: Self.columns) FROM context.memories
            WHERE id = \(id) AND project_id = \(project.id) AND tenant_id = \(principal.tenantID) AND deleted_at IS NULL
            FOR UPDATE
            """).first else { throw ContextError.notFound("memory") }
        let m = try Self.memory(row)
        if let ifMatch, ifMatch != m.version {
            throw ContextError.staleVersion(current: m.version, presented: ifMatch)
        }
        return m
    }

    func delete(_ project: ProjectInfo, _ id: UUID, ifMatch: Int?, by principal: Principal) async throws {
        defer { cache.invalidate(project.id) }
        try await db.inTenant(of: principal) { tx in
            try await ChangeLog.lock(project.id, on: tx)
            var m = try await locked(project, id, ifMatch: ifMatch, principal: principal, on: tx)
            try await tx.query("""
                UPDATE context.memories SET deleted_at = now(), version = version + 1, synced_at = now() WHERE id = \(id)
                """)
            m.version += 1
            try await record(m, deleted: true, tenant: principal.tenantID, on: tx)
        }
    }

    func conflicts(_ project: ProjectInfo, principal: Principal, limit: Int) async throws -> [MemoryConflict] {
        try await db.read(principal, """
            SELECT id, memory_id, winner, losing_memory_type, losing_content, losing_tags, losing_updated_at, losing_version,
                   base_version, resolved_version, created_at
            FROM context.memory_conflicts WHERE project_id = \(project.id) AND tenant_id = \(principal.tenantID)
            ORDER BY created_at DESC, id LIMIT \(limit)
            """)[0].map { row in
            MemoryConflict(id: try row.decode(UUID.self, at: 0), memoryID: try row.decode(UUID.self, at: 1),
                           winner: try row.decode(String.self, at: 2),
                           losing: .init(memoryType: try row.decode(String.self, at: 3), content: try row.decode(String.self, at: 4),
                                         tags: try row.decode([String].self, at: 5), updatedAt: try row.decode(Date.self, at: 6),
                                         version: try row.decode(Int.self, at: 7)),
                           baseVersion: try row.decode(Int?.self, at: 8), resolvedVersion: try row.decode(Int.self, at: 9),
                           createdAt: try row.decode(Date.self, at: 10))
        }
    }
}
