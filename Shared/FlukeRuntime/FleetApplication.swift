import FlukeModels
import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import ServiceLifecycle

/// Assembles a service's HTTP application on the fleet's conventions: `/health`, `/ready`,
/// `/metrics`, `/openapi.json`, the shared middleware, and the runtime's long-lived services in
/// shutdown order (HTTP first, then the service's workers, the outbox relay, NATS, Postgres).
public enum FleetApplication {
    public static func build(
        runtime: FleetRuntime,
        openAPI: String,
        workers: [any Service] = [],
        authenticator: Authenticator? = nil,
        channelHandlers: @escaping @Sendable () -> [any RemovableChannelHandler] = { [] },
        bodyLimits: [String: Int] = [:],
        authPrefixes: [String] = ["/api/"],
        webSocket: WebSocketEndpoint? = nil,
        middleware: [FleetMiddleware] = [],
        routes: (inout RouteRecorder) -> Void
    ) -> some ApplicationProtocol {
        let recorder = record(runtime: runtime, openAPI: openAPI, routes: routes)
        let idleTimeout = runtime.config.idleTimeout.nanosecondsValue
        let maxHeaderBytes = runtime.config.maxHeaderBytes
        let router = Router(context: FleetRequestContext.self)
        // One policy for HTTP requests and WebSocket upgrades alike.
        let cors = CORSPolicy(origins: runtime.config.corsOrigins)
        // The middleware goes in first so that it wraps every route and the not-found responder.
        router.add(middleware: FleetHTTPMiddleware(
            bodyLimit: runtime.config.maxBodyBytes, bodyLimits: bodyLimits, routes: recorder.table,
            metrics: HTTPMetrics(registry: runtime.registry), logger: runtime.logger,
            auth: authenticator.map { AuthMiddleware(authenticator: $0, prefixes: authPrefixes) },
            cors: cors))
        // Answers under a path prefix that no route names (project-manager's dashboard files).
        for extra in middleware { router.add(middleware: extra) }
        recorder.install(into: router)
        // Handlers that answer some requests before Hummingbird sees them (each connection
        // gets its own): context-api's cached context. The connection limits go first so that
        // they see those requests too. Header limits bound what one request head may cost.
        let handlers: @Sendable () -> [any RemovableChannelHandler] = {
            [ConnectionLimitsHandler(idleTimeout: .nanoseconds(idleTimeout), maxHeaderBytes: maxHeaderBytes)] + channelHandlers()
        }
        let decoder = HTTP1Channel.Configuration.DecoderConfiguration(
            maxHeaderFieldSize: maxHeaderBytes, maxHeaderListSize: maxHeaderBytes, maxHeaderFieldCount: 200)
        let server: HTTPServerBuilder = webSocket.map { endpoint in
            HTTPServerBuilder { responder in
                FleetWebSocketChannel(responder: responder, endpoint: endpoint, additionalChannelHandlers: handlers,
                                      decoderLimits: decoder, firstRequestTimeout: .nanoseconds(idleTimeout),
                                      cors: cors)
            }
        } ?? .http1(configuration: .init(additionalChannelHandlers: handlers(), httpDecoderConfiguration: decoder))
        return Application(
            router: router,
            server: server,
            configuration: .init(address: .hostname(runtime.config.httpHost, port: runtime.config.httpPort),
                                 serverName: runtime.config.serviceName),
            services: [runtime.postgres, runtime.nats, runtime.relay] + workers,
            logger: runtime.logger)
    }

    // `bodyLimits`: route templates (as registered) whose bodies may exceed `HTTP_MAX_BODY_BYTES`
    // (uploads), each with its own limit. `authPrefixes`: paths whose `Authorization` header is
    // read (log-streamer adds OpenTelemetry's `/v1/`).

    /// Every route the service will serve, operational ones included, without serving them:
    /// what the 405 logic, metrics labels and the OpenAPI test all read.
    public static func record(runtime: FleetRuntime, openAPI: String, routes: (inout RouteRecorder) -> Void)
        -> RouteRecorder {
        var recorder = RouteRecorder()
        addOperationalRoutes(&recorder, runtime: runtime, openAPI: openAPI)
        routes(&recorder)
        return recorder
    }

    static func addOperationalRoutes(_ r: inout RouteRecorder, runtime: FleetRuntime, openAPI: String) {
        r.on(.get, "/health") { _, _ in
            jsonResponse(#"{"status":"ok"}"#)
        }
        r.on(.get, "/ready") { _, _ in
            let down = await runtime.readiness()
            guard down.isEmpty else {
                throw Problem(.serviceUnavailable, "Not ready",
                              detail: down.keys.sorted().map { down[$0]! }.joined(separator: "; "),
                              extensions: ["down": .array(down.keys.sorted().map { .string($0) })])
            }
            return jsonResponse(#"{"status":"ready","postgres":"up","nats":"up"}"#)
        }
        r.on(.get, "/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(bytes: runtime.registry.emitToBuffer())))
        }
        let document = ByteBuffer(string: openAPI)
        r.on(.get, "/openapi.json") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: document))
        }
    }

    /// A 200 JSON response from literal text.
    public static func jsonResponse(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json; charset=utf-8"],
                 body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}

/// A service's own middleware for ``FleetApplication/build(runtime:openAPI:workers:authenticator:channelHandlers:bodyLimits:authPrefixes:webSocket:middleware:routes:)``,
/// behind the fleet's.
public struct FleetMiddleware: RouterMiddleware {
    public typealias Context = FleetRequestContext
    let body: @Sendable (Request, Context, (Request, Context) async throws -> Response) async throws -> Response

    public init<M: RouterMiddleware>(_ middleware: M) where M.Context == FleetRequestContext {
        body = { try await middleware.handle($0, context: $1, next: $2) }
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response {
        try await body(request, context, next)
    }
}
