import FlukeModels
import FlukePostgres
import FlukeRuntime
import Foundation

extension EnvStore {
    /// Every variable of `project` in `environment`, secrets opened, for deploy-tracker
    /// (`fluke.rpc.context.env`). Runs in the request's tenant, not as the fleet, so row-level
    /// security still keeps another tenant's project out of reach; the revealed secrets are
    /// logged `via: deploy` in the same transaction, so no value leaves unrecorded.
    /// Throws ``ContextError/notFound(_:)`` when the tenant has no such project.
    func readForDeploy(tenant: UUID, project: UUID, environment: Environment, deploymentID: UUID?)
        async throws -> [String: String] {
        try await db.inTenant(tenant) { tx in
            guard try await !tx.query("""
                SELECT 1 FROM context.projects WHERE id = \(project) AND tenant_id = \(tenant) AND NOT deleted
                """).isEmpty else { throw ContextError.notFound("project") }
            let rows = try await tx.query(Self.query(project, tenant: tenant, environment: environment))
            let (vars, revealed) = try decode(rows, project: project, reveal: true)
            if !revealed.isEmpty {
                // No user or token: the reader is the deployment, named by its id.
                try await tx.query("""
                    INSERT INTO context.env_access_log (project_id, tenant_id, environment, key, via, deployment_id)
                    SELECT \(project), \(tenant), e, k, 'deploy', \(deploymentID)
                    FROM unnest(\(revealed.map(\.0))::text[], \(revealed.map(\.1))::text[]) AS r(e, k)
                    """)
            }
            var values: [String: String] = [:]
            for variable in vars { values[variable.key] = variable.value }
            return values
        }
    }
}
