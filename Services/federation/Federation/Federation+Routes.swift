import FlukeModels
import FlukeRuntime
import Foundation
import Hummingbird

/// `/api/fed/*`: the catalog with live status, for people and tools holding an API key.
struct FederationRoutes: Sendable {
    let repository: StatusStore
    let catalog: CatalogStore
    let view: LiveStatusView
    let apiKeys: APIKeySet
    let ttl: Duration

    func register(_ routes: inout RouteRecorder) {
        routes.on(.get, "/api/fed/projects") { request, context in
            try apiKeys.authorize(request)
            return try await list(request)
        }
        routes.on(.get, "/api/fed/projects/{slug}") { request, context in
            try apiKeys.authorize(request)
            let slug = try context.parameters.require("slug")
            guard CatalogLoader.isValidSlug(slug), let entry = catalog.project(slug) else {
                throw Problem.notFound("no project with slug \(slug) in the catalog")
            }
            // Served from memory: catalog, read model and cached history.
            let live = view.live(slug)
            return ProjectView(
                slug: entry.slug, name: entry.name, description: entry.description, owner: entry.owner,
                repository: entry.repository, tags: entry.tags, projectID: entry.projectID,
                status: live?.status ?? .unknown, statusChangedAt: live?.statusChangedAt,
                lastHeartbeatAt: live?.lastHeartbeatAt, instances: live?.instances ?? [],
                history: try await view.history(slug, changedAt: live?.statusChangedAt, limit: LiveStatus.historyLimit))
        }
        routes.on(.get, "/api/fed/stats") { request, _ in
            try apiKeys.authorize(request)
            return try await repository.stats()
        }
    }

    private var liveSince: Date { Date().addingTimeInterval(-ttl.secondsValue) }

    private func list(_ request: Request) async throws -> Page<ProjectView> {
        let query = request.uri.queryParameters
        let status = try Parameters.enumQuery(request, "status", as: ProjectStatus.self) { $0.uppercased() }
        let tag = query["tag"].map(String.init)
        let limit = try Pagination.limit(query["limit"].map(String.init))
        let after = try Pagination.decodeCursor(query["cursor"].map(String.init))
        let items = try await repository.list(status: status, tag: tag, after: after, limit: limit + 1,
                                              liveSince: liveSince)
        let page = Array(items.prefix(limit))
        return Page(items: page, nextCursor: items.count > limit ? page.last.map { Pagination.cursor($0.slug) } : nil)
    }
}

extension ProjectView: ResponseEncodable {}
extension FederationStats: ResponseEncodable {}
