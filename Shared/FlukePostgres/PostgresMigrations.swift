import Logging

/// One ordered SQL migration of a service's schema.
public struct PostgresMigration: Sendable {
    /// Orders migrations and is recorded once applied, e.g. `0001_catalog`.
    public var version: String
    public var sql: String

    public init(_ version: String, _ sql: String) {
        self.version = version
        self.sql = sql
    }
}

/// Applies a service's migrations to its own schema, each once, recorded in
/// `<schema>.schema_migrations`.
///
/// Migrations run as the schema's owner (`fluke_<schema>_owner`, see deploy/postgres/init.sql)
/// in a step of their own, `<service> migrate`; the running service logs in as a role that cannot
/// change the schema and only checks, with ``pending(_:)``, that nothing is missing.
///
/// Runs under a session advisory lock keyed on the schema, so two replicas that migrate together
/// apply each migration exactly once; the second waits, then finds nothing left to do.
public struct PostgresMigrator: Sendable {
    public let schema: String
    public let migrations: [PostgresMigration]

    public init(schema: String, migrations: [PostgresMigration]) {
        precondition(PostgresIdentifier.isValid(schema), "invalid schema name \(schema)")
        precondition(Set(migrations.map(\.version)).count == migrations.count, "duplicate migration versions")
        self.schema = schema
        self.migrations = migrations.sorted { $0.version < $1.version }
    }

    /// Applies what is missing; returns the versions it applied.
    @discardableResult
    public func migrate(_ client: PostgresClient, logger: Logger) async throws -> [String] {
        try await client.withConnection { conn in
            try await conn.query("SELECT pg_advisory_lock(hashtext(\("fluke.migrations." + schema)))")
            do {
                let applied = try await apply(conn, logger: logger)
                try await conn.query("SELECT pg_advisory_unlock(hashtext(\("fluke.migrations." + schema)))")
                return applied
            } catch {
                _ = try? await conn.query("ROLLBACK")
                _ = try? await conn.query("SELECT pg_advisory_unlock(hashtext(\("fluke.migrations." + schema)))")
                throw error
            }
        }
    }

    /// The owner role that migrations run as, by the fleet's naming (`fluke_<schema>_owner`).
    public var ownerRole: String { "fluke_\(schema)_owner" }

    /// The versions this build knows that the database has not applied yet (all of them when the
    /// schema has never been migrated).
    public func pending(_ client: PostgresClient) async throws -> [String] {
        let exists = try await client.query("SELECT to_regclass(\(schema + ".schema_migrations")) IS NOT NULL")
        guard try exists.first?.decode(Bool.self, at: 0) == true else { return migrations.map(\.version) }
        let done = Set(try await client.query("SELECT version FROM \(identifier: schema).schema_migrations")
            .map { try $0.decode(String.self, at: 0) })
        return migrations.map(\.version).filter { !done.contains($0) }
    }

    private func begin(_ conn: PostgresHandle) async throws {
        try await conn.query("BEGIN")
    }

    private func apply(_ conn: PostgresHandle, logger: Logger) async throws -> [String] {
        try await begin(conn)
        try await conn.query("""
            CREATE TABLE IF NOT EXISTS \(identifier: schema).schema_migrations (
                version text PRIMARY KEY,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """)
        try await conn.query("COMMIT")
        let done = Set(try await conn.query("SELECT version FROM \(identifier: schema).schema_migrations")
            .map { try $0.decode(String.self, at: 0) })
        var applied: [String] = []
        for migration in migrations where !done.contains(migration.version) {
            try await begin(conn)
            do {
                try await conn.executeScript(migration.sql)
            } catch let error as PostgresError {
                throw PostgresError(.migrationFailed, sqlState: error.sqlState,
                                    "migration \(schema)/\(migration.version): \(error.message)")
            }
            try await conn.query("""
                INSERT INTO \(identifier: schema).schema_migrations (version) VALUES (\(migration.version))
                """)
            try await conn.query("COMMIT")
            logger.info("applied migration", metadata: ["schema": "\(schema)", "version": "\(migration.version)"])
            applied.append(migration.version)
        }
        return applied
    }
}
