import FlukePostgres
import FlukeRuntime

/// Pipelined transactions (``PostgresClient/transaction(_:)``: one round trip) that write, with
/// the tenant setting as their first statement. ``TenantDatabase/read(tenant:user:_:)`` is the
/// same mechanism; these names say that the statements change rows.
extension TenantDatabase {
    /// `statements` in one transaction in the principal's tenant; returns each statement's rows.
    func pipeline(_ p: Principal, _ statements: [PostgresQuery]) async throws -> [PostgresRows] {
        try await read(tenant: p.tenantID, user: p.userID, statements)
    }

    /// `statements` in one transaction over every tenant's rows (the fleet's own work only): the
    /// setting costs no round trip, which matters on the dispatcher's claim path.
    func pipelineAsSystem(_ statements: [PostgresQuery]) async throws -> [PostgresRows] {
        Array(try await postgres.transaction(["SELECT set_config('app.system', 'on', true)"] + statements).dropFirst())
    }
}
