import FlukeModels
import Foundation

/// What needs attention in one project, from every service that knows: its tasks and milestones
/// (project-manager), its apps' deploy status (deploy-tracker) and ONLINE/OFFLINE (federation).
public struct ProjectOverview: JSONConvertible {
    public var project: FleetObject<Project>
    public var status: FleetObject<ProjectStatus>
    public var blockedTasks: [FleetObject<ProjectTask>]
    public var apps: [FleetObject<App>]
    /// Catalog entries that name this project (`project_id`).
    public var catalog: [FleetObject<CatalogProject>]
    /// A service that could not be asked (down, or not open to this token), with why: the
    /// overview is still given from the others.
    public var unavailable: [String: String]

    public var json: JSONValue {
        var fields: [String: JSONValue] = ["project": project.json]
        for key in ["tasks", "milestones", "team_size"] { fields[key] = status.json[key] ?? .null }
        fields["blocked_tasks"] = .array(blockedTasks.map(\.json))
        fields["apps"] = .array(apps.map(\.json))
        fields["catalog"] = .array(catalog.map(\.json))
        fields["unavailable"] = .object(unavailable.mapValues(JSONValue.string))
        return .object(fields)
    }
}

extension FlukeClient {
    /// Lists at most this many apps or catalog entries for an overview.
    static let overviewLimit = 500

    /// ``ProjectOverview`` of project `id`: project-manager must answer; the other services add
    /// what they can.
    public func projectOverview(_ id: String) async throws -> ProjectOverview {
        async let project = project(id)
        async let status = projectStatus(id)
        async let blocked = listTasks(project: id, status: "blocked", limit: 100)
        async let apps = collect { try await self.listApps(project: id, cursor: $0, limit: 100) }
        async let catalog = collect { try await self.catalog(cursor: $0, limit: 100) }
        var unavailable: [String: String] = [:]
        let appItems: [FleetObject<App>]
        do { appItems = try await apps } catch { appItems = []; unavailable[FleetService.deployTracker.name] = Self.reason(error) }
        var entries: [FleetObject<CatalogProject>] = []
        do {
            entries = try await catalog.filter { $0.projectID?.lowercased == id.lowercased() }
        } catch {
            unavailable[FleetService.federation.name] = Self.reason(error)
        }
        return ProjectOverview(project: try await project, status: try await status, blockedTasks: try await blocked.items,
                               apps: appItems, catalog: entries, unavailable: unavailable)
    }

    /// Every item of a paged list, up to ``overviewLimit``.
    func collect<Item>(_ fetch: @Sendable (String?) async throws -> Page<Item>) async throws -> [Item] {
        var items: [Item] = [], cursor: String?
        repeat {
            let page = try await fetch(cursor)
            items += page.items
            cursor = page.nextCursor
        } while cursor != nil && items.count < Self.overviewLimit
        return Array(items.prefix(Self.overviewLimit))
    }

    static func reason(_ error: any Error) -> String {
        (error as? FlukeClientError)?.description ?? String(describing: error)
    }
}
