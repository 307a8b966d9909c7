import FlukeModels
import FlukePostgres
import FlukeRuntime
import Foundation

extension FleetStatusReader {
    /// Every project the caller can see (at most ``overviewLimit``), each with its counts, its
    /// apps' latest deployments and its federation status, and what needs attention across
    /// them: failed or rolled-back deploys and OFFLINE services first, then blocked and overdue
    /// tasks, then overdue milestones. Read in one transaction.
    func overview(_ principal: Principal) async throws -> TenantOverview {
        let tenant = principal.tenantID
        let bound = principal.projectID
        let rows = try await db.read(principal, """
            SELECT id, name, stage FROM pm.projects
            WHERE tenant_id = \(tenant) AND (\(bound)::uuid IS NULL OR id = \(bound)::uuid)
            ORDER BY seq LIMIT \(Self.overviewLimit + 1)
            """, """
            SELECT project_id, status, count(*), count(*) FILTER (WHERE due_date < current_date AND status <> 'done'),
                   min(due_date::text) FILTER (WHERE due_date < current_date AND status <> 'done')
            FROM pm.tasks WHERE tenant_id = \(tenant) AND (\(bound)::uuid IS NULL OR project_id = \(bound)::uuid)
            GROUP BY project_id, status
            """, """
            SELECT project_id, status, count(*), count(*) FILTER (WHERE due_date < current_date AND status IN ('planned', 'in_progress')),
                   min(due_date::text) FILTER (WHERE due_date < current_date AND status IN ('planned', 'in_progress'))
            FROM pm.milestones WHERE tenant_id = \(tenant) AND (\(bound)::uuid IS NULL OR project_id = \(bound)::uuid)
            GROUP BY project_id, status
            """, """
            SELECT DISTINCT ON (project_id, app) \(sql: Self.deploymentColumns) FROM pm.app_deployments
            WHERE tenant_id = \(tenant) AND (\(bound)::uuid IS NULL OR project_id = \(bound)::uuid)
            ORDER BY project_id, app, first_event_at DESC, deployment_id
            """, """
            SELECT \(sql: Self.catalogColumns) FROM pm.catalog_status
            WHERE project_id IN (SELECT id::text FROM pm.projects
                                 WHERE tenant_id = \(tenant) AND (\(bound)::uuid IS NULL OR id = \(bound)::uuid))
            ORDER BY project_id, slug
            """, """
            SELECT project_id, \(sql: WorkspaceStore.columns) FROM pm.project_workspaces
            WHERE tenant_id = \(tenant) AND (\(bound)::uuid IS NULL OR project_id = \(bound)::uuid) ORDER BY project_id, name
            """)
        let now = Date()
        let truncated = rows[0].count > Self.overviewLimit
        var order: [UUID] = []
        var projects: [UUID: ProjectOverview] = [:]
        for row in rows[0].prefix(Self.overviewLimit) {
            let id = try row.decode(UUID.self, "id")
            order.append(id)
            projects[id] = ProjectOverview(id: id, name: try row.decode(String.self, "name"), stage: try row.decode(String.self, "stage"),
                                           tasks: Self.counts(TaskStatus.self), overdueTasks: 0,
                                           milestones: Self.counts(MilestoneStatus.self), overdueMilestones: 0,
                                           deployments: [], federation: FederationBody([]), workspaces: [], attention: 0)
        }
        var earliestOverdueTask: [UUID: String] = [:]
        var earliestOverdueMilestone: [UUID: String] = [:]
        for row in rows[1] {
            let id = try row.decode(UUID.self, at: 0)
            guard projects[id] != nil else { continue }
            projects[id]!.tasks[try row.decode(String.self, at: 1)] = try row.decode(Int.self, at: 2)
            projects[id]!.overdueTasks += try row.decode(Int.self, at: 3)
            if let due = try row.decode(String?.self, at: 4) { earliestOverdueTask[id] = min(due, earliestOverdueTask[id] ?? due) }
        }
        for row in rows[2] {
            let id = try row.decode(UUID.self, at: 0)
            guard projects[id] != nil else { continue }
            projects[id]!.milestones[try row.decode(String.self, at: 1)] = try row.decode(Int.self, at: 2)
            projects[id]!.overdueMilestones += try row.decode(Int.self, at: 3)
            if let due = try row.decode(String?.self, at: 4) { earliestOverdueMilestone[id] = min(due, earliestOverdueMilestone[id] ?? due) }
        }
        for row in rows[3] {
            let id = try row.decode(UUID.self, "project_id")
            projects[id]?.deployments.append(try Self.deployment(row))
        }
        var entries: [UUID: [CatalogEntryView]] = [:]
        for row in rows[4] {
            guard let id = UUID(uuidString: try row.decode(String.self, "project_id")) else { continue }
            entries[id, default: []].append(try Self.catalogEntry(row))
        }
        var allWorkspaces: [LinkedWorkspace] = []
        for row in rows[5] {
            let linked = try WorkspaceStore.linked(row)
            allWorkspaces.append(linked)
            projects[try row.decode(UUID.self, "project_id")]?.workspaces.append(linked.workspace)
        }
        var attention: [AttentionItem] = []
        for id in order {
            var project = projects[id]!
            project.federation = FederationBody(entries[id] ?? [])
            let items = Self.attention(project, overdueTask: earliestOverdueTask[id], overdueMilestone: earliestOverdueMilestone[id])
            project.attention = items.count
            projects[id] = project
            attention += items
        }
        let rank = Dictionary(uniqueKeysWithValues: AttentionItem.Kind.allCases.enumerated().map { ($1, $0) })
        attention.sort { a, b in
            rank[a.kind]! != rank[b.kind]! ? rank[a.kind]! < rank[b.kind]!
                : (a.since ?? .distantPast) != (b.since ?? .distantPast) ? (a.since ?? .distantPast) > (b.since ?? .distantPast)
                : a.projectName < b.projectName
        }
        // Projects that need attention first, then in the order they were made.
        let position = Dictionary(uniqueKeysWithValues: order.enumerated().map { ($1, $0) })
        let sorted = order.map { projects[$0]! }.sorted { a, b in
            a.attention != b.attention ? a.attention > b.attention : position[a.id]! < position[b.id]!
        }
        return TenantOverview(generatedAt: now, attention: attention, projects: sorted,
                              stale: .init(deployments: !deployments.isCaughtUp(within: freshness, now: now),
                                           federation: !catalog.isCaughtUp(within: freshness, now: now),
                                           workspaces: workspacesPart(allWorkspaces, now: now).stale),
                              truncated: truncated)
    }

    /// What of `project` needs attention.
    static func attention(_ project: ProjectOverview, overdueTask: String?, overdueMilestone: String?) -> [AttentionItem] {
        func item(_ kind: AttentionItem.Kind, _ detail: String, since: Date? = nil) -> AttentionItem {
            AttentionItem(projectID: project.id, projectName: project.name, kind: kind, detail: detail, since: since)
        }
        var items: [AttentionItem] = []
        for deployment in project.deployments {
            let version = deployment.version.map { " \($0)" } ?? ""
            let reason = deployment.reason.map { ": \($0)" } ?? ""
            switch deployment.status {
            case "failed":
                items.append(item(.deployFailed, "\(deployment.app)\(version) failed\(deployment.phase.map { " in \($0)" } ?? "")\(reason)",
                                  since: deployment.at))
            case "rolled_back":
                items.append(item(.deployRolledBack, "\(deployment.app) was rolled back\(version.isEmpty ? "" : " to\(version)")\(reason)",
                                  since: deployment.at))
            default: break
            }
        }
        for service in project.federation.services where service.status == "OFFLINE" {
            items.append(item(.offline, "\(service.name) (\(service.slug)) is OFFLINE", since: service.changedAt))
        }
        if let blocked = project.tasks[TaskStatus.blocked.rawValue], blocked > 0 {
            items.append(item(.tasksBlocked, "\(blocked) blocked task\(blocked == 1 ? "" : "s")"))
        }
        if project.overdueTasks > 0 {
            items.append(item(.tasksOverdue, "\(project.overdueTasks) overdue task\(project.overdueTasks == 1 ? "" : "s")"
                              + (overdueTask.map { ", the oldest due \($0)" } ?? "")))
        }
        if project.overdueMilestones > 0 {
            items.append(item(.milestonesOverdue, "\(project.overdueMilestones) overdue milestone\(project.overdueMilestones == 1 ? "" : "s")"
                              + (overdueMilestone.map { ", the oldest due \($0)" } ?? "")))
        }
        for workspace in project.workspaces where workspace.isFailing {
            items.append(item(.workspaceFailing, workspace.status == "failed" ? "workspace \(workspace.name)'s last build failed"
                                                                                : "workspace \(workspace.name) runs with failing agents"))
        }
        return items
    }
}
