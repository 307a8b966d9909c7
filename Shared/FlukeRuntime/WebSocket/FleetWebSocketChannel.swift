import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import NIOWebSocket

/// Where a service accepts WebSocket upgrades, and who decides.
public struct WebSocketEndpoint: Sendable {
    /// Runs the upgraded connection until it ends; the channel is closed afterwards.
    public typealias Session = @Sendable (NIOAsyncChannel<WebSocketFrame, WebSocketFrame>) async -> Void

    /// Request paths (without the query) an upgrade is considered on.
    public var paths: Set<String>
    /// Largest frame a client may send.
    public var maxFrameSize: Int
    /// The session for an upgrade request, or the problem that refuses it (401, 403, 422…),
    /// which is answered as a problem document and the connection closed.
    public var accept: @Sendable (HTTPRequest) async -> Result<Session, Problem>

    public init(paths: Set<String>, maxFrameSize: Int = 64 * 1024,
                accept: @escaping @Sendable (HTTPRequest) async -> Result<Session, Problem>) {
        self.paths = paths
        self.maxFrameSize = maxFrameSize
        self.accept = accept
    }
}

/// HTTP/1.1 with WebSocket upgrades on some paths.
///
/// Modelled on hummingbird-websocket's `HTTP1WebSocketUpgradeChannel` (Apache-2.0), with one
/// difference that is the reason it exists: an upgrade the endpoint refuses is not answered with
/// a bare 400 but with the endpoint's problem document, so a client learns that its token is
/// missing (401) or a parameter is wrong (422). (NIO's typed upgrade handler drops the parts of
/// a request it did not upgrade, so that request cannot be handed to the routes instead.)
struct FleetWebSocketChannel: ServerChildChannel, HTTPChannelHandler {
    enum Negotiated: Sendable {
        case webSocket(NIOAsyncChannel<WebSocketFrame, WebSocketFrame>, WebSocketEndpoint.Session)
        case http(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>)
        case refused(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>, Problem)
    }

    struct Value: ServerChildChannelValue {
        let negotiated: EventLoopFuture<Negotiated>
        let channel: any Channel
    }

    let responder: HTTPChannelHandler.Responder
    let endpoint: WebSocketEndpoint
    let additionalChannelHandlers: @Sendable () -> [any RemovableChannelHandler]
    let decoderLimits: HTTP1Channel.Configuration.DecoderConfiguration
    /// How long a new connection may take to send its first request head.
    let firstRequestTimeout: TimeAmount
    let cors: CORSPolicy

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            let endpoint = self.endpoint
            let accepted = NIOLockedValueBox<WebSocketEndpoint.Session?>(nil)
            let refusal = NIOLockedValueBox<Problem?>(nil)
            let observer = FirstRequestObserver()
            let upgrader = NIOTypedWebSocketServerUpgrader<Negotiated>(
                maxFrameSize: endpoint.maxFrameSize,
                shouldUpgrade: { channel, head in
                    let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
                    guard endpoint.paths.contains(path), let request = try? HTTPRequest(head, secure: false, splitCookie: false) else {
                        refusal.withLockedValue { $0 = Problem(.notFound, detail: "no WebSocket at \(path)") }
                        return channel.eventLoop.makeSucceededFuture(nil)
                    }
                    guard cors.allowsUpgrade(origin: head.headers.first(name: "origin")) else {
                        refusal.withLockedValue { $0 = Problem(.forbidden, detail: "this origin may not open a WebSocket here (FLUKE_CORS_ORIGINS)",
                                                               field: "Origin") }
                        return channel.eventLoop.makeSucceededFuture(nil)
                    }
                    let promise = channel.eventLoop.makePromise(of: HTTPHeaders?.self)
                    promise.completeWithTask {
                        switch await endpoint.accept(request) {
                        case .success(let session):
                            accepted.withLockedValue { $0 = session }
                            return HTTPHeaders()
                        case .failure(let problem):
                            refusal.withLockedValue { $0 = problem }
                            return nil
                        }
                    }
                    return promise.futureResult
                },
                upgradePipelineHandler: { channel, _ in
                    channel.eventLoop.makeCompletedFuture {
                        guard let session = accepted.withLockedValue({ $0 }) else { throw ChannelError.inappropriateOperationForState }
                        _ = channel.pipeline.syncOperations.removeHandler(observer)
                        let async = try NIOAsyncChannel<WebSocketFrame, WebSocketFrame>(
                            wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true))
                        return .webSocket(async, session)
                    }
                })
            let handlers = self.additionalChannelHandlers
            let upgrades = NIOTypedHTTPServerUpgradeConfiguration<Negotiated>(
                upgraders: [upgrader],
                notUpgradingCompletionHandler: { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let sync = channel.pipeline.syncOperations
                        // Another protocol asked for (h2c): NIO dropped what it read of the
                        // request; put it back so that it is answered as plain HTTP/1.1.
                        if refusal.withLockedValue({ $0 }) == nil, let replay = observer.swallowed() {
                            try sync.addHandler(RequestReplay(replay))
                        }
                        _ = sync.removeHandler(observer)
                        try sync.addHandler(HTTP1ToHTTPServerCodec(secure: false))
                        try sync.addHandlers(handlers())
                        try sync.addHandler(HTTPConnectionStateHandler(idleTimeout: nil, logger: logger))
                        let http = try NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>(
                            wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true))
                        if let problem = refusal.withLockedValue({ $0 }) { return .refused(http, problem) }
                        return .http(http)
                    }
                })
            var configuration = NIOUpgradableHTTPServerPipelineConfiguration(upgradeConfiguration: upgrades)
            configuration.enablePipelining = false   // NIOAsyncChannel serialises requests
            configuration.enableErrorHandling = false
            configuration.enableResponseHeaderValidation = false   // HTTPTypes validates
            configuration.decoderConfiguration.maxHeaderFieldSize = decoderLimits.maxHeaderFieldSize
            configuration.decoderConfiguration.maxHeaderListSize = decoderLimits.maxHeaderListSize
            configuration.decoderConfiguration.maxHeaderFieldCount = decoderLimits.maxHeaderFieldCount
            let negotiated = try channel.pipeline.syncOperations.configureUpgradableHTTPServerPipeline(configuration: configuration)
            let decoder = try channel.pipeline.syncOperations.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
            try channel.pipeline.syncOperations.addHandler(observer, position: .after(decoder))
            // The connection-limits handler (idle timeout) joins only once a head has arrived;
            // until then this timer stands in for it.
            let timer = channel.eventLoop.scheduleTask(in: firstRequestTimeout) { channel.close(promise: nil) }
            negotiated.whenComplete { _ in timer.cancel() }
            return Value(negotiated: negotiated, channel: channel)
        }
    }

    func handle(value: Value, logger: Logger) async {
        do {
            switch try await value.negotiated.get() {
            case .http(let http):
                await handleHTTP(asyncChannel: http, logger: logger)
            case .refused(let http, let problem):
                try await http.executeThenClose { _, outbound in
                    var (head, body) = problem.rendered(instance: nil, requestID: nil)
                    head.headerFields[.connection] = "close"
                    head.headerFields[.contentLength] = String(body.readableBytes)
                    try await outbound.write(contentsOf: [.head(head), .body(body), .end(nil)])
                }
            case .webSocket(let channel, let session):
                await session(channel)
                try? await channel.channel.close()
            }
        } catch {
            // A head the decoder refused (too large, malformed), or a peer that went away first.
            logger.debug("connection ended before a request", metadata: ["error": "\(error)"])
            try? await value.channel.close()
        }
    }
}


/// Sees the first request's parts before the upgrade handler does, which keeps none of a request
/// that asked for a protocol it then did not upgrade to.
final class FirstRequestObserver: ChannelInboundHandler, RemovableChannelHandler, @unchecked Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart

    // Event-loop confined: read and written only on the channel's loop.
    private var head: HTTPRequestHead?
    private var ended = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h) where head == nil && !h.headers["upgrade"].isEmpty: head = h
        case .end where head != nil && !ended: ended = true
        default: break
        }
        context.fireChannelRead(data)
    }

    /// The head (and end, if it came already) of an upgrade request that was not upgraded.
    func swallowed() -> [HTTPServerRequestPart]? {
        guard let head else { return nil }
        return ended ? [.head(head), .end(nil)] : [.head(head)]
    }
}

/// Replays request parts ahead of whatever comes next.
final class RequestReplay: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart

    private var parts: [HTTPServerRequestPart]

    init(_ parts: [HTTPServerRequestPart]) {
        self.parts = parts
    }

    func handlerAdded(context: ChannelHandlerContext) {
        // A request whose end came already is complete: hand it on once the handlers after this
        // one are in place (they are being added now), as nothing else will read it.
        guard case .end? = parts.last else { return }
        context.eventLoop.assumeIsolated().execute { self.flush(context) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        flush(context)
        context.fireChannelRead(data)
    }

    private func flush(_ context: ChannelHandlerContext) {
        let pending = parts
        parts = []
        for part in pending { context.fireChannelRead(wrapInboundOut(part)) }
        if !pending.isEmpty { context.fireChannelReadComplete() }
    }
}
