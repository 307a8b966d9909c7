import DeployExecutors
import FlukeModels
import FlukePostgres
import FlukeRuntime
import Foundation

/// Apps, in the caller's tenant (row-level security; the explicit `tenant_id` conditions stay so
/// that each query is right on its own).
struct AppStore: Sendable {
    let db: TenantDatabase

    static let columns: StaticString = """
        id, name, project_id, executor, spec::text, status, current_version, created_at, updated_at, tenant_id
        """

    static func decode(_ row: PostgresRow) throws -> App {
        App(id: try row.decode(UUID.self, at: 0), name: try row.decode(String.self, at: 1),
            projectID: try row.decode(UUID.self, at: 2),
            executor: ExecutorKind(rawValue: try row.decode(String.self, at: 3)) ?? .process,
            spec: try JSONDecoder().decode(AppSpec.self, from: Data(try row.decode(String.self, at: 4).utf8)),
            status: try row.decode(String.self, at: 5),
            currentRelease: try row.decode(Int?.self, at: 6).map { "v\($0)" },
            url: nil, replicas: nil,
            createdAt: try row.decode(Date.self, at: 7), updatedAt: try row.decode(Date.self, at: 8),
            tenantID: try row.decode(UUID.self, at: 9))
    }

    static func specJSON(_ spec: AppSpec) throws -> String {
        String(decoding: try FleetJSON.encoder.encode(spec), as: UTF8.self)
    }

    func create(name: String, project: UUID, executor: ExecutorKind, spec: AppSpec, by principal: Principal) async throws -> App {
        do {
            let row = try await db.inTenant(of: principal) { tx in
                try await tx.query("""
                    INSERT INTO deploy.apps (id, tenant_id, project_id, name, executor, spec, created_by)
                    VALUES (\(UUID()), \(principal.tenantID), \(project), \(name), \(executor.rawValue),
                            \(try Self.specJSON(spec))::jsonb, \(principal.userID))
                    RETURNING \(sql: Self.columns)
                    """).first!
            }
            return try Self.decode(row)
        } catch let error as PostgresError where error.isUniqueViolation {
            throw DeployError.nameTaken(name)
        }
    }

    /// The caller's app of that name, or 404 (also for a project the caller's token cannot see).
    func get(_ name: String, principal: Principal) async throws -> App {
        let rows = try await db.read(principal, """
            SELECT \(sql: Self.columns) FROM deploy.apps WHERE tenant_id = \(principal.tenantID) AND name = \(name)
            """)[0]
        guard let row = rows.first else { throw DeployError.notFound("app") }
        let app = try Self.decode(row)
        guard principal.canSee(project: app.projectID) else { throw DeployError.notFound("app") }
        return app
    }

    func list(project: UUID?, principal: Principal, after: Int?, limit: Int) async throws -> (items: [App], last: Int?) {
        let rows = try await db.read(principal, """
            SELECT \(sql: Self.columns), seq FROM (
                SELECT *, row_number() OVER (ORDER BY name) AS seq FROM deploy.apps
                WHERE tenant_id = \(principal.tenantID) AND (\(project)::uuid IS NULL OR project_id = \(project)::uuid)
            ) a WHERE seq > \(after ?? 0) ORDER BY seq LIMIT \(limit)
            """)[0]
        return (try rows.map(Self.decode), try rows.rows.last.map { try $0.decode(Int.self, at: 10) })
    }

    /// Changes the executor and/or spec: the next deployment uses them; nothing running changes.
    func update(_ name: String, executor: ExecutorKind?, spec: AppSpec?, principal: Principal) async throws -> App {
        let app = try await get(name, principal: principal)
        let specJSON = try spec.map(Self.specJSON)
        let row = try await db.inTenant(of: principal) { tx in
            try await tx.query("""
                UPDATE deploy.apps SET executor = COALESCE(\(executor?.rawValue), executor),
                    spec = COALESCE(\(specJSON)::jsonb, spec), updated_at = now()
                WHERE id = \(app.id) RETURNING \(sql: Self.columns)
                """).first
        }
        guard let row else { throw DeployError.notFound("app") }
        return try Self.decode(row)
    }

    /// Deletes the app with its releases and history; refused while a deployment is active.
    func delete(_ app: App, principal: Principal) async throws {
        try await db.inTenant(of: principal) { tx in
            let active = try await tx.query("""
                SELECT count(*) FROM deploy.deployments
                WHERE app_id = \(app.id) AND status IN ('pending', 'building', 'deploying')
                """).first!.decode(Int.self, at: 0)
            guard active == 0 else { throw DeployError.active(app.name) }
            try await tx.query("DELETE FROM deploy.apps WHERE id = \(app.id)")
        }
    }

    /// The app's kept releases, newest first.
    func releases(_ app: App, principal: Principal) async throws -> [Release] {
        let rows = try await db.read(principal, """
            SELECT version, spec::text, artifact, image, deployment_id, created_at FROM deploy.releases
            WHERE app_id = \(app.id) ORDER BY version DESC
            """)[0]
        let current = app.currentRelease
        return try rows.map { row in
            let version = "v\(try row.decode(Int.self, at: 0))"
            return Release(version: version,
                           spec: try JSONDecoder().decode(AppSpec.self, from: Data(try row.decode(String.self, at: 1).utf8)),
                           artifact: try row.decode(String.self, at: 2), image: try row.decode(String?.self, at: 3),
                           deploymentID: try row.decode(UUID.self, at: 4), current: version == current,
                           createdAt: try row.decode(Date.self, at: 5))
        }
    }
}
