import FlukeModels
import FlukePostgres
import Foundation

/// Statements on tables under row-level security, which see nothing until a transaction says
/// whose rows it works on: a request's tenant (and user), or, for background work that spans
/// tenants (event consumers, dispatchers, retention), the fleet itself.
///
/// `set_config(…, true)` lasts exactly as long as the transaction, so a pooled connection never
/// carries a tenant into someone else's work. The policies (``policySQL(table:)``) let a row through
/// when its `tenant_id` is `app.tenant_id`, or when `app.system` is `on`; with neither set, a query
/// sees zero rows and can write none.
public struct TenantDatabase: Sendable {
    public let postgres: PostgresClient
    public let outbox: Outbox

    public init(postgres: PostgresClient, outbox: Outbox) {
        self.postgres = postgres
        self.outbox = outbox
    }

    /// `body` in one transaction in `tenant`'s rows (and as `user`, for policies that use it).
    public func inTenant<T: Sendable>(_ tenant: UUID, user: UUID? = nil, _ body: (PostgresHandle) async throws -> T)
        async throws -> T {
        try await outbox.notifyingAfter {
            try await postgres.withTransaction { tx in
                // One round trip for both settings.
                try await tx.query(Self.setting(tenant: tenant, user: user))
                return try await body(tx)
            }
        }
    }

    /// `body` in the principal's tenant, as its user.
    public func inTenant<T: Sendable>(of principal: Principal, _ body: (PostgresHandle) async throws -> T) async throws -> T {
        try await inTenant(principal.tenantID, user: principal.userID, body)
    }

    /// Reads in the principal's tenant: the setting and `statements` in one transaction and one
    /// hop to Postgres' threads (see ``PostgresClient/transaction(_:)``). Returns each statement's rows.
    public func read(_ principal: Principal, _ statements: PostgresQuery...) async throws -> [PostgresRows] {
        try await read(tenant: principal.tenantID, user: principal.userID, statements)
    }

    /// Reads in `tenant`'s rows, in one transaction and one hop.
    public func read(tenant: UUID, user: UUID? = nil, _ statements: [PostgresQuery]) async throws -> [PostgresRows] {
        Array(try await postgres.transaction([Self.setting(tenant: tenant, user: user)] + statements).dropFirst())
    }

    /// `body` in one transaction over every tenant's rows: for the fleet's own background work,
    /// never for a request.
    public func asSystem<T: Sendable>(_ body: (PostgresHandle) async throws -> T) async throws -> T {
        try await outbox.notifyingAfter {
            try await postgres.withTransaction { tx in
                try await tx.query(Self.systemSetting)
                return try await body(tx)
            }
        }
    }

    /// Reads over every tenant's rows in one transaction and one hop (background work only).
    public func readAsSystem(_ statements: PostgresQuery...) async throws -> [PostgresRows] {
        try await pipelineAsSystem(statements)
    }

    /// `statements` in one transaction in the principal's tenant, in one hop; returns each
    /// statement's rows. The same mechanism as ``read(_:_:)``; the name says the statements write.
    public func pipeline(_ principal: Principal, _ statements: [PostgresQuery]) async throws -> [PostgresRows] {
        try await read(tenant: principal.tenantID, user: principal.userID, statements)
    }

    /// `statements` in one transaction over every tenant's rows (the fleet's own work only): the
    /// setting costs no round trip, which matters on hot paths such as the dispatcher's claims.
    public func pipelineAsSystem(_ statements: [PostgresQuery]) async throws -> [PostgresRows] {
        Array(try await postgres.transaction([Self.systemSetting] + statements).dropFirst())
    }

    /// The statement that puts a transaction in `tenant`'s rows, as `user`: first in every tenant
    /// transaction (put it first yourself in a pipelined one that must begin otherwise, e.g. with
    /// `SET TRANSACTION ISOLATION LEVEL`, which Postgres accepts only before any query).
    public static func setting(tenant: UUID, user: UUID?) -> PostgresQuery {
        """
        SELECT set_config('app.tenant_id', \(tenant.uuidString.lowercased()), true),
               set_config('app.user_id', \(user?.uuidString.lowercased() ?? ""), true)
        """
    }

    /// The statement that lets a transaction see every tenant's rows.
    public static let systemSetting: PostgresQuery = "SELECT set_config('app.system', 'on', true)"

    /// Runs `body` (one whole transaction) again when Postgres chose it to break a deadlock, up to
    /// `attempts` times, a few milliseconds apart: for writes that contend with the fleet's
    /// background work on the same rows (a subscription's delete cascading over deliveries the
    /// dispatcher is claiming and settling), where a client should not see the deadlock as a 500.
    public static func retryingDeadlocks<T: Sendable>(attempts: Int = 3, _ body: () async throws -> T) async throws -> T {
        for attempt in 1... {
            do {
                return try await body()
            } catch let error as PostgresError where error.isDeadlock && attempt < attempts {
                try await Task.sleep(for: .milliseconds(Int.random(in: 5...50)))
            }
        }
        fatalError("unreachable")
    }

    /// What a migration runs for a table holding several tenants' rows in a `tenant_id uuid` column.
    public static func policySQL(table: String) -> String {
        """
        ALTER TABLE \(table) ENABLE ROW LEVEL SECURITY;
        ALTER TABLE \(table) FORCE ROW LEVEL SECURITY;
        CREATE POLICY tenant_isolation ON \(table)
            USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid
                   OR current_setting('app.system', true) = 'on')
            WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid
                        OR current_setting('app.system', true) = 'on');
        """
    }
}
