import FlukeModels
import FlukePostgres
import FlukeRuntime

extension TenantDatabase {
    /// The statement ``TenantDatabase/read(_:_:)`` puts first, for a pipelined transaction that
    /// must begin with something else (``ContextStore/snapshot(_:p:level:environment:)`` sets its
    /// isolation level, which Postgres accepts only before any query).
    static func setting(_ p: Principal) -> PostgresQuery {
        """
        SELECT set_config('app.tenant_id', \(p.tenantID.uuidString.lowercased()), true),
               set_config('app.user_id', \(p.userID.uuidString.lowercased()), true)
        """
    }
}
