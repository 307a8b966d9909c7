import FlukeCrypto
import FlukePostgres
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Prometheus
import Synchronization

/// Echoes `X-Request-Id` (or makes one), applies the body limit, identifies the caller (through
/// ``AuthMiddleware``), logs the access line, records HTTP metrics, and turns every error into
/// `application/problem+json`.
///
/// One middleware rather than four: each concern needs the final status, which only exists after
/// the error mapping, so they share one place where the response is known.
public struct FleetHTTPMiddleware: RouterMiddleware {
    public typealias Context = FleetRequestContext
    let bodyLimit: Int
    /// Larger limits for some routes (uploads), by route template.
    let bodyLimits: [String: Int]
    let routes: RouteTable
    let requests: RequestLog
    let logger: Logger
    let auth: AuthMiddleware?
    let cors: CORSPolicy

    public init(bodyLimit: Int, bodyLimits: [String: Int] = [:], routes: RouteTable, metrics: HTTPMetrics, logger: Logger,
                auth: AuthMiddleware? = nil, cors: CORSPolicy = CORSPolicy(origins: [])) {
        self.bodyLimit = bodyLimit
        self.bodyLimits = bodyLimits
        self.routes = routes
        self.requests = RequestLog(metrics: metrics, logger: logger)
        self.logger = logger
        self.auth = auth
        self.cors = cors
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response {
        let start = ContinuousClock.now
        var context = context
        context.requestID = RequestIDs.id(for: request.headers)
        let bodyLimit = bodyLimits.isEmpty ? bodyLimit
            : routes.template(for: request.uri.path).flatMap { bodyLimits[$0] } ?? bodyLimit
        context.bodyLimit = bodyLimit
        // Before the body limit and authentication: a preflight carries neither body nor token.
        if let preflight = cors.preflight(request) {
            return finish(preflight, request, context, start)
        }
        if let length = request.headers[.contentLength].flatMap(Int.init), length > bodyLimit {
            return finish(Problem(.contentTooLarge, detail: "the body exceeds \(bodyLimit) bytes", field: "body")
                .response(instance: request.uri.path, requestID: context.requestID), request, context, start)
        }
        var response: Response
        do {
            // Checked for every route at once: a parameter is passed on to stores and queries.
            if let name = Parameters.withControlCharacter(request) {
                throw Problem.invalid(name, RequestFields.controlCharacterDetail)
            }
            if let auth { context = try await auth.identify(request, context) }
            response = try await next(request, context)
        } catch {
            response = problem(for: error, request: request, context: context)
                .response(instance: request.uri.path, requestID: context.requestID)
        }
        return finish(response, request, context, start)
    }

    private func finish(_ response: Response, _ request: Request, _ context: Context,
                        _ start: ContinuousClock.Instant) -> Response {
        var response = response
        response.headers[.requestID] = context.requestID
        cors.decorate(&response, for: request)
        requests.record(method: request.method, path: request.uri.path,
                        route: routes.template(for: request.uri.path) ?? "unmatched", status: response.status.code,
                        requestID: context.requestID, since: start)
        return response
    }

    private func problem(for error: any Error, request: Request, context: Context) -> Problem {
        switch error {
        case let problem as Problem:
            return problem
        case let convertible as any ProblemConvertible:
            return convertible.problem
        case let error as DecodingError:
            return FleetJSON.problem(for: error)
        case let error as PostgresError where error.isUnavailable:
            // The request may well succeed in a moment: 503 with Retry-After, never a 500.
            logger.warning("database unavailable", metadata: [
                "request_id": "\(context.requestID)", "path": "\(request.uri.path)", "error": "\(error.code)",
                "sqlstate": "\(error.sqlState ?? "")"])
            var headers = HTTPFields()
            headers[.retryAfter] = "2"
            return Problem(.serviceUnavailable, detail: "the database is unavailable; retry shortly", headers: headers)
        case let error as HTTPError:
            if error.status == .notFound, routes.template(for: request.uri.path) != nil {
                let allowed = routes.methods(for: request.uri.path)
                if !allowed.contains(request.method) {
                    var headers = HTTPFields()
                    headers[.allow] = allowed.map(\.rawValue).joined(separator: ", ")
                    return Problem(.methodNotAllowed,
                                   detail: "\(request.method.rawValue) is not allowed on \(request.uri.path)",
                                   headers: headers)
                }
            }
            if error.status == .notFound {
                return Problem(.notFound, detail: "no resource at \(request.uri.path)")
            }
            if error.status == .contentTooLarge {
                return Problem(.contentTooLarge, detail: "the body exceeds \(context.bodyLimit) bytes", field: "body")
            }
            return Problem(error.status, detail: error.body)
        default:
            logger.error("unhandled error", metadata: [
                "request_id": "\(context.requestID)", "path": "\(request.uri.path)",
                "error": "\(String(describing: type(of: error)))"])
            return Problem(.internalServerError, detail: "an unexpected error occurred; quote the request id")
        }
    }

    /// Accepts caller-chosen ids that are safe to log and echo.
    static func acceptable(_ id: String) -> Bool {
        id.utf8.count <= 128 && !id.isEmpty && id.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }
}

/// The access line and HTTP metrics of one answered request, whichever path answered it.
public struct RequestLog: Sendable {
    let metrics: HTTPMetrics
    let logger: Logger

    public init(metrics: HTTPMetrics, logger: Logger) {
        self.metrics = metrics
        self.logger = logger
    }

    public func record(method: HTTPRequest.Method, path: String, route: String, status: Int, requestID: String,
                       since start: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - start
        metrics.record(method: method.rawValue, route: route, status: status, duration: elapsed)
        // Path only: query strings may carry cursors or tokens.
        logger.info("request", metadata: [
            "method": "\(method.rawValue)", "path": "\(path)", "status": "\(status)",
            "duration_ms": "\((elapsed.secondsValue * 1_000_000).rounded() / 1000)", "request_id": "\(requestID)",
        ])
    }
}

extension HTTPField.Name {
    public static let requestID = Self("X-Request-Id")!
}

/// HTTP request metrics: a counter by method, route and status, and a latency histogram.
public final class HTTPMetrics: Sendable {
    let registry: PrometheusCollectorRegistry
    /// Metric handles by label values: asking the registry for them on every request costs a
    /// lock and a label-key build each time.
    private let counters = Mutex<[CounterKey: Counter]>([:])
    struct CounterKey: Hashable { var method: String; var route: String; var status: Int }
    private let histograms = Mutex<[String: DurationHistogram]>([:])

    public init(registry: PrometheusCollectorRegistry) { self.registry = registry }

    func record(method: String, route: String, status: Int, duration: Duration) {
        let counterKey = CounterKey(method: method, route: route, status: status)
        let counter = counters.withLock { c in
            if let hit = c[counterKey] { return hit }
            let made = registry.makeCounter(name: "http_requests_total", labels: [
                ("method", method), ("route", route), ("status", String(status))])
            c[counterKey] = made
            return made
        }
        counter.increment()
        let histogram = histograms.withLock { h in
            if let hit = h[route] { return hit }
            let made = registry.makeDurationHistogram(name: "http_request_duration_seconds", labels: [("route", route)],
                                                      buckets: Self.buckets)
            h[route] = made
            return made
        }
        histogram.recordNanoseconds(duration.nanosecondsValue)
    }

    static let buckets: [Duration] = [.microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2),
                                      .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
                                      .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
                                      .seconds(2.5), .seconds(5)]
}

/// Request ids made without a system call each: UUIDs (version 8, RFC 9562 §5.8) whose first
/// half is random per process (unique across processes and restarts) and second half a counter
/// (unique within the process). They name requests; they are not secrets.
public enum RequestIDs {
    static let prefix = Crypto.randomBytes(8)
    static let counter = Atomic<UInt64>(0)

    /// The caller's `X-Request-Id` when it is safe to log and echo, otherwise a new id.
    public static func id(for headers: HTTPFields) -> String {
        headers[.requestID].flatMap { FleetHTTPMiddleware.acceptable($0) ? $0 : nil } ?? next()
    }

    static func next() -> String {
        let n = counter.add(1, ordering: .relaxed).newValue
        var b = prefix + withUnsafeBytes(of: n.bigEndian) { Array($0) }
        b[6] = (b[6] & 0x0F) | 0x80  // version 8
        b[8] = (b[8] & 0x3F) | 0x80  // RFC 9562 variant
        // Formatted by hand: Foundation's uuidString plus lowercasing cost more than the rest of
        // the middleware.
        return String(unsafeUninitializedCapacity: 36) { out in
            var o = 0
            for (i, byte) in b.enumerated() {
                if i == 4 || i == 6 || i == 8 || i == 10 { out[o] = UInt8(ascii: "-"); o += 1 }
                out[o] = hexDigits[Int(byte >> 4)]; out[o + 1] = hexDigits[Int(byte & 0x0F)]; o += 2
            }
            return o
        }
    }
    private static let hexDigits = Array("0123456789abcdef".utf8)
}
