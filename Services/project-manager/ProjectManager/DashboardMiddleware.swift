import FlukeModels
import FlukeRuntime
import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// Serves the dashboard's files under `/ui/` (ETag, revalidated on every load), and gives them
/// and `/ui/config.json` (a route) a Content-Security-Policy that allows no inline script and no
/// other origin than the fleet's services.
///
/// A middleware rather than routes: the files sit in folders, which the route table's
/// one-segment templates cannot name.
struct DashboardMiddleware: RouterMiddleware {
    typealias Context = FleetRequestContext
    static let prefix = "/ui"
    static let configPath = prefix + "/config.json"

    let files: FileMiddleware<FleetRequestContext, LocalFileSystem>
    let headers: HTTPFields

    init(config: DashboardConfig, logger: Logger) {
        files = FileMiddleware(config.folder, urlBasePath: Self.prefix, searchForIndexHtml: true, logger: logger)
        var headers = HTTPFields()
        headers[.contentSecurityPolicy] = config.contentSecurityPolicy
        headers[.xContentTypeOptions] = "nosniff"
        headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        headers[HTTPField.Name("Cross-Origin-Opener-Policy")!] = "same-origin"
        headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        self.headers = headers
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        guard path == Self.prefix || path.hasPrefix(Self.prefix + "/") else { return try await next(request, context) }
        if path == Self.configPath {
            var response = try await next(request, context)
            for field in headers { response.headers[field.name] = field.value }
            return response
        }
        guard request.method == .get || request.method == .head else {
            throw Problem(.methodNotAllowed, detail: "\(request.method.rawValue) is not allowed on \(path)",
                          headers: [.allow: "GET, HEAD"])
        }
        // FileMiddleware looks for a file only when what it wraps throws HTTPError 404.
        var response = try await files.handle(request, context: context) { _, _ in throw HTTPError(.notFound) }
        // Files have no fingerprint in their names: a browser keeps them but asks each time
        // (If-None-Match), so a new release is picked up on the next load.
        response.headers[.cacheControl] = "no-cache"
        for field in headers { response.headers[field.name] = field.value }
        return response
    }
}
