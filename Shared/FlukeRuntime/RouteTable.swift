import Hummingbird
import Synchronization

/// The routes a service serves, written the way its OpenAPI document writes them
/// (`/api/fed/projects/{slug}`).
///
/// It answers 405 (with `Allow`) for a known path and an unknown method, gives metrics a bounded
/// `route` label, and lets a test prove the OpenAPI document lists exactly the served routes.
public final class RouteTable: Sendable {
    public let routes: [(method: HTTPRequest.Method, path: String)]
    private let patterns: [(segments: [Substring], path: String)]

    public init(_ routes: [(method: HTTPRequest.Method, path: String)]) {
        self.routes = routes
        var seen = Set<String>()
        var patterns: [(segments: [Substring], path: String)] = []
        for route in routes where seen.insert(route.path).inserted {
            patterns.append((route.path.split(separator: "/"), route.path))
        }
        self.patterns = patterns
    }

    /// Paths already matched (bounded: a full cache starts over), since every request asks.
    private let matched = Mutex<[String: String]>([:])

    /// The template matching a concrete path, e.g. `/api/fed/projects/a` → `/api/fed/projects/{slug}`.
    public func template(for path: String) -> String? {
        if let hit = matched.withLock({ $0[path] }) { return hit }
        let segments = path.split(separator: "/")
        let found = patterns.first { pattern in
            pattern.segments.count == segments.count && zip(pattern.segments, segments).allSatisfy { p, s in
                p.first == "{" || p == s
            }
        }?.path
        if let found, path.utf8.count <= 256 {
            matched.withLock { m in
                if m.count >= 10_000 { m.removeAll(keepingCapacity: true) }
                m[path] = found
            }
        }
        return found
    }

    public func methods(for path: String) -> [HTTPRequest.Method] {
        guard let template = template(for: path) else { return [] }
        return routes.filter { $0.path == template }.map(\.method)
    }
}

/// Collects a service's routes, then installs them on a Hummingbird router and describes them in
/// a ``RouteTable``.
public struct RouteRecorder {
    public typealias Handler = @Sendable (Request, FleetRequestContext) async throws -> Response
    private var entries: [(method: HTTPRequest.Method, path: String, handler: Handler)] = []

    public init() {}

    public mutating func on(_ method: HTTPRequest.Method, _ path: String, use handler: @escaping Handler) {
        entries.append((method, path, handler))
    }

    /// A route whose handler returns anything Hummingbird can turn into a response.
    public mutating func on<Output: ResponseGenerator>(
        _ method: HTTPRequest.Method, _ path: String,
        use handler: @escaping @Sendable (Request, FleetRequestContext) async throws -> Output) {
        on(method, path) { request, context in
            try await handler(request, context).response(from: request, context: context)
        }
    }

    public var table: RouteTable { RouteTable(entries.map { ($0.method, $0.path) }) }

    public func install(into router: Router<FleetRequestContext>) {
        for entry in entries {
            router.on(RouterPath(entry.path), method: entry.method, use: entry.handler)
        }
    }
}
