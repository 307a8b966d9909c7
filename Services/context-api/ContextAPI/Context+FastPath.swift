import FlukeModels
import FlukeRuntime
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOHTTPTypes
import Prometheus

/// Answers the hottest request there is, an AI tool loading its project's context, straight from
/// the channel when everything it needs is already in memory: a cached caller (a verified JWT or
/// `fbk_` token), a bound project, and a cached context that reveals no secret. Everything else,
/// and every cache miss, goes on to Hummingbird's router unchanged, which then fills the caches.
///
/// It answers exactly as the route does (status, body, `ETag`, `Cache-Control`, 304 on
/// `If-None-Match`, `X-Request-Id`), counts the fetch for the client installation, and records
/// the same HTTP metrics and access log line. What it saves is the request's trip through
/// Swift concurrency and the middleware chain, which costs more than the rest of the request.
struct ContextFastPath: Sendable {
    static let path = "/api/v1/flukebase_connect/context"
    let authenticator: Authenticator
    let cache: ContextCache
    let usage: UsageRecorder
    let requests: RequestLog
    let served: Counter

    init(authenticator: Authenticator, cache: ContextCache, usage: UsageRecorder, registry: PrometheusCollectorRegistry,
         logger: Logger) {
        self.authenticator = authenticator
        self.cache = cache
        self.usage = usage
        self.requests = RequestLog(metrics: HTTPMetrics(registry: registry), logger: logger)
        self.served = registry.makeCounter(name: "context_fast_path_responses_total")
    }

    /// The response to `head`, or nil when the router must answer.
    func answer(_ head: HTTPRequest) -> (HTTPResponse, ByteBuffer?)? {
        let start = ContinuousClock.now
        // No query: context_level, environment and project_id change what is served. No Origin:
        // a browser's request needs the router's CORS headers.
        guard head.method == .get, head.path == Self.path, head.headerFields[.origin] == nil,
              let authorization = head.headerFields[.authorization],
              let token = AuthMiddleware.bearerToken(authorization),
              let principal = authenticator.cachedPrincipal(token: token),
              principal.scopes.contains(.contextRead), let projectID = principal.projectID
        else { return nil }
        let key = ContextCacheKey(project: projectID, tenant: principal.tenantID, reveal: principal.scopes.contains(.secretsRead),
                                  level: nil, environment: nil)
        // A context with revealed secrets logs each read in Postgres: the router does that.
        guard let (project, snapshot) = cache.get(key), snapshot.revealed.isEmpty else { return nil }
        usage.recordFetch(project: project.id, tenant: principal.tenantID, headers: head.headerFields)
        let requestID = RequestIDs.id(for: head.headerFields)
        let answer = snapshot.answer(ifNoneMatch: head.headerFields[.ifNoneMatch])
        var response = HTTPResponse(status: answer.status, headerFields: answer.headers)
        response.headerFields[.requestID] = requestID
        if let body = answer.body { response.headerFields[.contentLength] = String(body.readableBytes) }
        served.increment()
        requests.record(method: .get, path: Self.path, route: Self.path, status: answer.status.code, requestID: requestID,
                        since: start)
        return (response, answer.body)
    }

    /// One handler per connection, placed after HTTP decoding and before Hummingbird.
    func handler() -> ContextFastPathHandler { ContextFastPathHandler(fastPath: self) }
}

/// The channel side of ``ContextFastPath``.
///
/// Responses on a connection must leave in request order (HTTP/1.1 pipelining): a request is
/// answered here only when no earlier one is still with the router.
final class ContextFastPathHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    let fastPath: ContextFastPath
    /// Requests handed to the router whose response has not ended.
    private var withRouter = 0
    /// The request being read was answered here: its body parts go nowhere.
    private var answered = false

    init(fastPath: ContextFastPath) { self.fastPath = fastPath }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            if withRouter == 0, case (var response, let body)? = fastPath.answer(head) {
                answered = true
                let close = head.headerFields[.connection].map { $0.lowercased().contains("close") } ?? false
                if close { response.headerFields[.connection] = "close" }
                context.write(wrapOutboundOut(.head(response)), promise: nil)
                if let body { context.write(wrapOutboundOut(.body(body)), promise: nil) }
                if close {
                    // HTTP/1.1 `Connection: close`: the connection ends with this response.
                    context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in context.close(promise: nil) }
                } else {
                    context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
                }
                return
            }
            answered = false
            withRouter += 1
            context.fireChannelRead(data)
        case .body, .end:
            if !answered { context.fireChannelRead(data) }
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { withRouter = max(0, withRouter - 1) }
        context.write(data, promise: promise)
    }
}
