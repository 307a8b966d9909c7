import FlukeModels
import FlukePostgres
import FlukeRuntime
import Foundation

/// Reads a project's status and the tenant's overview: the counts live, the deployments and
/// catalog statuses as the event consumers keep them, marked stale when a consumer has not
/// been caught up with the stream for ``freshness``.
struct FleetStatusReader: Sendable {
    let db: TenantDatabase
    let deployments: ConsumerProgress
    let catalog: ConsumerProgress
    /// How long a consumer may go without being caught up before its parts read as stale.
    var freshness: Duration = .seconds(15)
    /// How often linked repositories are read (``GitHubIssueSync``): pull requests older than two
    /// rounds are stale.
    var syncInterval: Duration = .seconds(300)
    /// How often linked workspaces are read (``WorkspaceRefresh``).
    var workspaceInterval: Duration = .seconds(60)
    /// The most projects one overview holds.
    static let overviewLimit = 1000

    static let deploymentColumns: StaticString = "project_id, app, deployment_id, version, status, phase, reason, event_at, updated_at"
    static let catalogColumns: StaticString = "project_id, slug, name, status, changed_at, last_heartbeat_at, updated_at"

    static func deployment(_ row: PostgresRow) throws -> AppDeploymentView {
        AppDeploymentView(app: try row.decode(String.self, "app"), deploymentID: try row.decode(UUID.self, "deployment_id"),
                          version: try row.decode(String?.self, "version"), status: try row.decode(String.self, "status"),
                          phase: try row.decode(String?.self, "phase"), reason: try row.decode(String?.self, "reason"),
                          at: try row.decode(Date.self, "event_at"))
    }

    static func catalogEntry(_ row: PostgresRow) throws -> CatalogEntryView {
        CatalogEntryView(slug: try row.decode(String.self, "slug"), name: try row.decode(String.self, "name"),
                         status: try row.decode(String.self, "status"), changedAt: try row.decode(Date.self, "changed_at"),
                         lastHeartbeatAt: try row.decode(Date?.self, "last_heartbeat_at"))
    }

    static func counts<S: RawRepresentable & CaseIterable>(_ type: S.Type) -> [String: Int] where S.RawValue == String {
        Dictionary(uniqueKeysWithValues: S.allCases.map { ($0.rawValue, 0) })
    }

    func status(_ id: UUID, _ principal: Principal) async throws -> ProjectStatusView {
        guard principal.canSee(project: id) else { throw PMError.notFound("project") }
        let tenant = principal.tenantID
        let rows = try await db.read(principal, """
            SELECT 1 FROM pm.projects WHERE id = \(id) AND tenant_id = \(tenant)
            """, """
            SELECT status, count(*) FROM pm.tasks WHERE project_id = \(id) AND tenant_id = \(tenant) GROUP BY status
            """, """
            SELECT status, count(*) FROM pm.milestones WHERE project_id = \(id) AND tenant_id = \(tenant) GROUP BY status
            """, """
            SELECT count(*) FROM pm.project_members WHERE project_id = \(id) AND tenant_id = \(tenant)
            """, """
            SELECT DISTINCT ON (app) \(sql: Self.deploymentColumns) FROM pm.app_deployments
            WHERE project_id = \(id) AND tenant_id = \(tenant) ORDER BY app, first_event_at DESC, deployment_id
            """, """
            SELECT \(sql: Self.catalogColumns) FROM pm.catalog_status WHERE project_id = \(id.lowercased) ORDER BY slug LIMIT 100
            """, """
            SELECT full_name, sync_error, open_pulls::text AS open_pulls, pulls_checked_at FROM pm.project_repositories
            WHERE project_id = \(id) AND tenant_id = \(tenant)
            """, """
            SELECT \(sql: WorkspaceStore.columns) FROM pm.project_workspaces WHERE project_id = \(id) AND tenant_id = \(tenant) ORDER BY name
            """)
        guard !rows[0].isEmpty else { throw PMError.notFound("project") }
        var tasks = Self.counts(TaskStatus.self)
        for row in rows[1] { tasks[try row.decode(String.self, at: 0)] = try row.decode(Int.self, at: 1) }
        var milestones = Self.counts(MilestoneStatus.self)
        for row in rows[2] { milestones[try row.decode(String.self, at: 0)] = try row.decode(Int.self, at: 1) }
        let now = Date()
        return ProjectStatusView(
            projectID: id, tasks: tasks, milestones: milestones, teamSize: try rows[3].first!.decode(Int.self, at: 0), updatedAt: now,
            deployments: StatusPart(updatedAt: try rows[4].map { try $0.decode(Date.self, "updated_at") }.max(),
                                    stale: !deployments.isCaughtUp(within: freshness, now: now),
                                    body: DeploymentsBody(items: try rows[4].map(Self.deployment))),
            federation: StatusPart(updatedAt: try rows[5].map { try $0.decode(Date.self, "updated_at") }.max(),
                                   stale: !catalog.isCaughtUp(within: freshness, now: now),
                                   body: FederationBody(try rows[5].map(Self.catalogEntry))),
            workspaces: workspacesPart(try rows[7].map(WorkspaceStore.linked), now: now),
            pullRequests: try rows[6].first.map { try pullRequests($0, now: now) })
    }

    /// Stale when a workspace's last read failed, or is older than two refresh intervals.
    func workspacesPart(_ linked: [LinkedWorkspace], now: Date) -> StatusPart<WorkspacesBody> {
        let oldest = linked.map(\.checkedAt).min()
        let late = oldest.map { now.timeIntervalSince($0) > 2 * workspaceInterval.secondsValue + freshness.secondsValue } ?? false
        return StatusPart(updatedAt: oldest, stale: late || linked.contains { $0.checkError != nil },
                          body: WorkspacesBody(items: linked.map(\.workspace)))
    }

    func pullRequests(_ row: PostgresRow, now: Date) throws -> StatusPart<PullRequestsBody> {
        let pulls = try row.decode(String?.self, "open_pulls").flatMap { try? JSONValue(parsing: Data($0.utf8)) }
        let checked = try row.decode(Date?.self, "pulls_checked_at")
        let error = try row.decode(String?.self, "sync_error")
        var items: [JSONValue] = []
        if case .array(let list)? = pulls?["items"] { items = list }
        var count = items.count
        if case .number(let n)? = pulls?["count"] { count = Int(n) }
        let fresh = checked.map { now.timeIntervalSince($0) <= 2 * syncInterval.secondsValue + freshness.secondsValue } ?? false
        return StatusPart(updatedAt: checked, stale: error != nil || !fresh,
                          body: PullRequestsBody(repository: try row.decode(String.self, "full_name"), count: count, items: items,
                                                 syncError: error))
    }
}
