import FlukeModels
import FlukeRuntime
import Foundation
import Hummingbird

/// One project's status across the fleet, and the overview of every project the caller can see.
extension PMRoutes {
    func registerOverview(_ routes: inout RouteRecorder) {
        routes.on(.get, "/api/v1/projects/{project_id}/status") { _, context in
            try await status.status(try Parameters.uuid(context, "project_id"), try context.principal(requiring: .contextRead))
        }
        routes.on(.get, "/api/v1/overview") { _, context in
            try await status.overview(try context.principal(requiring: .contextRead))
        }
        routes.on(.get, "/api/v1/catalog") { _, context in
            Page(items: try await status.catalog(try context.principal(requiring: .contextRead)), nextCursor: nil)
        }
        routes.on(.get, "/api/v1/catalog/{slug}") { _, context in
            let slug = try context.parameters.require("slug")
            guard (1...100).contains(slug.utf8.count) else { throw Problem.invalid("slug", "must be 1 to 100 characters") }
            return try await status.catalogEntry(slug, try context.principal(requiring: .contextRead))
        }
    }
}
