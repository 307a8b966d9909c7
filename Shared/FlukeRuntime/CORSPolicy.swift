import Foundation
import HTTPTypes
import Hummingbird

/// Cross-origin access for the dashboard (`FLUKE_CORS_ORIGINS`): browsers on a listed origin
/// may call the service with a bearer token; other origins get no CORS headers at all, so the
/// browser refuses to hand them the answers.
///
/// No credentials are allowed: every cross-origin call carries `Authorization`, never cookies
/// (the refresh cookie is project-manager's own and same-origin only).
public struct CORSPolicy: Sendable {
    public let origins: Set<String>
    /// How long a browser may reuse a preflight answer (Chromium caps it at 2 hours).
    public let maxAge: Int

    static let allowedMethods = "GET, POST, PUT, PATCH, DELETE"
    static let allowedHeaders = "Authorization, Content-Type, If-Match, If-None-Match, X-Request-Id, X-CSRF-Token, X-API-Key"
    static let exposedHeaders = "X-Request-Id, Location, ETag, Retry-After, Fluke-Conflict"

    public init(origins: [String], maxAge: Int = 7200) {
        self.origins = Set(origins)
        self.maxAge = maxAge
    }

    /// The origin a request came from, when it is one of ours.
    func allowedOrigin(_ request: Request) -> String? {
        guard !origins.isEmpty, let origin = request.headers[.origin], origins.contains(origin) else { return nil }
        return origin
    }

    /// Whether a WebSocket upgrade may proceed: browsers always send `Origin`, and a page on
    /// another origin must not open a tail with a token it found (other clients send none).
    func allowsUpgrade(origin: String?) -> Bool {
        guard let origin else { return true }
        return origins.contains(origin)
    }

    /// The answer to a preflight (`OPTIONS` with `Access-Control-Request-Method`) from an allowed
    /// origin; `nil` lets anything else through to the routes.
    func preflight(_ request: Request) -> Response? {
        guard request.method == .options, request.headers[.accessControlRequestMethod] != nil,
              let origin = allowedOrigin(request) else { return nil }
        var headers = HTTPFields()
        headers[.accessControlAllowOrigin] = origin
        headers[.accessControlAllowMethods] = Self.allowedMethods
        headers[.accessControlAllowHeaders] = Self.allowedHeaders
        headers[.accessControlMaxAge] = String(maxAge)
        headers[.vary] = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
        return Response(status: .noContent, headers: headers)
    }

    /// Adds the CORS headers to an answer for an allowed origin.
    func decorate(_ response: inout Response, for request: Request) {
        guard let origin = allowedOrigin(request) else { return }
        response.headers[.accessControlAllowOrigin] = origin
        response.headers[.accessControlExposeHeaders] = Self.exposedHeaders
        response.headers[.vary] = response.headers[.vary].map { $0 + ", Origin" } ?? "Origin"
    }

    /// Parses `FLUKE_CORS_ORIGINS`: comma-separated `scheme://host[:port]`, nothing more.
    public static func parse(_ raw: String, variable: String = "FLUKE_CORS_ORIGINS") throws -> [String] {
        try raw.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.map { origin in
            guard let url = URLComponents(string: origin), ["http", "https"].contains(url.scheme ?? ""),
                  url.host?.isEmpty == false, url.path.isEmpty, url.query == nil, url.fragment == nil, url.user == nil
            else {
                throw ConfigError(variable, "must list origins as scheme://host[:port], comma-separated (got \"\(origin)\")")
            }
            return origin
        }
    }
}
