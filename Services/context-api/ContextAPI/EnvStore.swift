import FlukeModels
import FlukePostgres
import FlukeRuntime
import Foundation

/// Environment variables, sealed with AES-256-GCM (the row's project, environment and key are the
/// associated data, so a value copied to another row does not open). Secret values leave only for
/// callers holding `secrets:read`, and every such read is logged.
struct EnvStore: Sendable {
    let db: TenantDatabase
    let keyring: Keyring
    /// Told after each committed change, so cached contexts of the project are dropped.
    let cache: ContextCache
    /// Variables a project may hold, all environments together.
    let maxPerProject: Int

    /// `^[A-Z_][A-Z0-9_]{0,127}$`
    static func isValidKey(_ key: String) -> Bool {
        let bytes = Array(key.utf8)
        guard let first = bytes.first, bytes.count <= 128, first == UInt8(ascii: "_") || (first >= 0x41 && first <= 0x5A) else {
            return false
        }
        return bytes.allSatisfy { $0 == UInt8(ascii: "_") || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x30 && $0 <= 0x39) }
    }
    static let maxValueBytes = 32_768

    static func aad(_ project: UUID, _ environment: Environment, _ key: String) -> String {
        "\(project.lowercased)|\(environment.rawValue)|\(key)"
    }

    /// Every variable of the project (optionally one environment), secrets masked unless `reveal`;
    /// revealed secrets are logged as read `via`.
    func list(_ project: ProjectInfo, environment: Environment?, reveal: Bool, by principal: Principal, via: String)
        async throws -> [EnvVar] {
        let (vars, revealed) = try await read(project, environment: environment, reveal: reveal, principal: principal, on: nil)
        if !revealed.isEmpty { try await logAccess(project, revealed, by: principal, via: via) }
        return vars
    }

    /// One variable, its secret value revealed (and logged) when `reveal`; nil when absent.
    func one(_ project: ProjectInfo, key: String, environment: Environment, reveal: Bool, by principal: Principal)
        async throws -> EnvVar? {
        let rows = try await db.read(principal, Self.query(project.id, tenant: principal.tenantID, environment: environment, key: key))[0]
        let (vars, revealed) = try decode(rows, project: project.id, reveal: reveal)
        if !revealed.isEmpty { try await logAccess(project, revealed, by: principal, via: "env") }
        return vars.first
    }

    /// The variables and which secrets were revealed, without logging (the caller logs once it
    /// knows the values leave, e.g. not on a 304).
    func read(_ project: ProjectInfo, environment: Environment?, reveal: Bool, principal: Principal, on tx: PostgresHandle?)
        async throws -> ([EnvVar], [(String, String)]) {
        let query = Self.query(project.id, tenant: principal.tenantID, environment: environment)
        let rows: PostgresRows
        if let tx { rows = try await tx.query(query) } else { rows = try await db.read(principal, query)[0] }
        return try decode(rows, project: project.id, reveal: reveal)
    }

    static func query(_ project: UUID, tenant: UUID, environment: Environment?, key: String? = nil) -> PostgresQuery {
        """
        SELECT key, environment, secret, key_id, sealed, version, updated_at FROM context.env_vars
        WHERE project_id = \(project) AND tenant_id = \(tenant)
          AND (\(environment?.rawValue)::text IS NULL OR environment = \(environment?.rawValue)::text)
          AND (\(key)::text IS NULL OR key = \(key)::text)
        ORDER BY environment, key
        """
    }

    /// Rows of ``query(_:tenant:environment:)`` opened (or masked), and which secrets that reveals.
    func decode(_ rows: PostgresRows, project: UUID, reveal: Bool) throws -> ([EnvVar], [(String, String)]) {
        var vars: [EnvVar] = []
        var revealed: [(String, String)] = []
        for row in rows {
            let key = try row.decode(String.self, at: 0)
            let env = Environment(rawValue: try row.decode(String.self, at: 1)) ?? .development
            let secret = try row.decode(Bool.self, at: 2)
            let show = !secret || reveal
            let value = show ? try keyring.open(try row.decode(String.self, at: 4), keyID: try row.decode(String.self, at: 3),
                                                context: Self.aad(project, env, key)) : nil
            if secret && show { revealed.append((env.rawValue, key)) }
            vars.append(EnvVar(key: key, environment: env, secret: secret, value: value, masked: !show,
                               version: try row.decode(Int.self, at: 5), updatedAt: try row.decode(Date.self, at: 6)))
        }
        return (vars, revealed)
    }

    func logAccess(_ project: ProjectInfo, _ reads: [(String, String)], by principal: Principal, via: String) async throws {
        _ = try await db.read(principal, """
            INSERT INTO context.env_access_log (project_id, tenant_id, environment, key, actor_user_id, actor_token_id, via)
            SELECT \(project.id), \(principal.tenantID), e, k, \(principal.userID), \(principal.tokenID), \(via)
            FROM unnest(\(reads.map(\.0))::text[], \(reads.map(\.1))::text[]) AS r(e, k)
            """)
    }

    /// Sets a variable; the event and the changes feed never carry a secret's value.
    func put(_ project: ProjectInfo, key: String, environment: Environment, value: String, secret: Bool, by principal: Principal)
        async throws -> (EnvVar, created: Bool) {
        let (keyID, sealed) = try keyring.seal(value, context: Self.aad(project.id, environment, key))
        defer { cache.invalidate(project.id) }
        return try await db.inTenant(of: principal) { tx in
            try await ChangeLog.lock(project.id, on: tx)
            // Counted under the project's lock, so concurrent writers cannot both pass at the limit.
            let counts = try await tx.query("""
                SELECT count(*), count(*) FILTER (WHERE environment = \(environment.rawValue) AND key = \(key))
                FROM context.env_vars WHERE project_id = \(project.id)
                """).first!
            if try counts.decode(Int.self, at: 1) == 0, try counts.decode(Int.self, at: 0) >= maxPerProject {
                throw LimitReached("environment variables", of: "project", limit: maxPerProject,
                                   variable: "CONTEXT_MAX_ENV_VARS_PER_PROJECT")
            }
            let row = try await tx.query("""
                INSERT INTO context.env_vars (project_id, tenant_id, environment, key, secret, key_id, sealed, updated_by)
                VALUES (\(project.id), \(principal.tenantID), \(environment.rawValue), \(key), \(secret), \(keyID), \(sealed), \(principal.userID))
                ON CONFLICT (project_id, environment, key) DO UPDATE SET secret = EXCLUDED.secret,
                    key_id = EXCLUDED.key_id, sealed = EXCLUDED.sealed, updated_by = EXCLUDED.updated_by,
                    version = context.env_vars.version + 1, updated_at = now()
                RETURNING version, updated_at, (xmax = 0) AS created
                """).first!
            let env = EnvVar(key: key, environment: environment, secret: secret, value: secret ? nil : value,
                             masked: secret, version: try row.decode(Int.self, at: 0), updatedAt: try row.decode(Date.self, at: 1))
            let event = try CloudEvent(source: "context-api", type: .envUpdated, tenantID: principal.tenantID.lowercased,
                                       projectID: project.id.lowercased,
                                       payload: EnvUpdatedPayload(key: key, environment: environment.rawValue, secret: secret,
                                                                  value: value, version: env.version,
                                                                  updatedAt: env.updatedAt, projectID: project.id))
            try await ChangeLog.append(project.id, tenant: principal.tenantID, entity: "env", id: "\(environment.rawValue)/\(key)",
                                       op: "upsert", data: event.data, on: tx)
            try await db.outbox.enqueue(event, on: tx)
            var shown = env
            if secret { shown.masked = false; shown.value = value }
            return (shown, try row.decode(Bool.self, at: 2))
        }
    }

    func delete(_ project: ProjectInfo, key: String, environment: Environment, by principal: Principal) async throws {
        defer { cache.invalidate(project.id) }
        try await db.inTenant(of: principal) { tx in
            try await ChangeLog.lock(project.id, on: tx)
            guard try await tx.query("""
                DELETE FROM context.env_vars
                WHERE project_id = \(project.id) AND tenant_id = \(principal.tenantID) AND environment = \(environment.rawValue) AND key = \(key)
                """).affectedRows == 1 else { throw ContextError.noVariable(key: key, environment: environment) }
            let event = try CloudEvent(source: "context-api", type: .envDeleted, tenantID: principal.tenantID.lowercased,
                                       projectID: project.id.lowercased,
                                       payload: EnvDeletedPayload(key: key, environment: environment.rawValue,
                                                                  projectID: project.id))
            try await ChangeLog.append(project.id, tenant: principal.tenantID, entity: "env", id: "\(environment.rawValue)/\(key)",
                                       op: "delete", data: event.data, on: tx)
            try await db.outbox.enqueue(event, on: tx)
        }
    }

    func accessLog(_ project: ProjectInfo, principal: Principal, before: Int?, limit: Int) async throws -> ([EnvAccess], Int?) {
        let rows = try await db.read(principal, """
            SELECT id, key, environment, actor_user_id, actor_token_id, via, at, deployment_id FROM context.env_access_log
            WHERE project_id = \(project.id) AND tenant_id = \(principal.tenantID) AND (\(before)::bigint IS NULL OR id < \(before)::bigint)
            ORDER BY id DESC LIMIT \(limit)
            """)[0]
        let items = try rows.map { row in
            EnvAccess(key: try row.decode(String.self, at: 1),
                      environment: Environment(rawValue: try row.decode(String.self, at: 2)) ?? .development,
                      actorUserID: try row.decode(UUID?.self, at: 3), actorTokenID: try row.decode(UUID?.self, at: 4),
                      via: try row.decode(String.self, at: 5), deploymentID: try row.decode(UUID?.self, at: 7),
                      at: try row.decode(Date.self, at: 6))
        }
        return (items, try rows.rows.last.map { try $0.decode(Int.self, at: 0) })
    }
}
