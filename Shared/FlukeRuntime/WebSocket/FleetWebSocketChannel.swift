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
    /// The session for an upgrade request, or nil to refuse it: the request then reaches the
    /// service's routes like any other, and they say why (401, 403, 422 as problem documents).
    public var accept: @Sendable (HTTPRequest) async -> Session?

    public init(paths: Set<String>, maxFrameSize: Int = 64 * 1024,
                accept: @escaping @Sendable (HTTPRequest) async -> Session?) {
        self.paths = paths
        self.maxFrameSize = maxFrameSize
        self.accept = accept
    }
}

/// HTTP/1.1 with WebSocket upgrades on some paths.
///
/// Modelled on hummingbird-websocket's `HTTP1WebSocketUpgradeChannel` (Apache-2.0), with one
/// difference that is the reason it exists: an upgrade the endpoint refuses is not answered with
/// a bare 400 but handed to the HTTP routes (NIO re-delivers the buffered request), so a client
/// learns that its token is missing (401) or a parameter is wrong (422).
struct FleetWebSocketChannel: ServerChildChannel, HTTPChannelHandler {
    enum Negotiated: Sendable {
        case webSocket(NIOAsyncChannel<WebSocketFrame, WebSocketFrame>, WebSocketEndpoint.Session)
        case http(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>)
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

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            let endpoint = self.endpoint
            let accepted = NIOLockedValueBox<WebSocketEndpoint.Session?>(nil)
            let upgrader = NIOTypedWebSocketServerUpgrader<Negotiated>(
                maxFrameSize: endpoint.maxFrameSize,
                shouldUpgrade: { channel, head in
                    let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
                    guard endpoint.paths.contains(path),
                          let request = try? HTTPRequest(head, secure: false, splitCookie: false) else {
                        return channel.eventLoop.makeSucceededFuture(nil)
                    }
                    let promise = channel.eventLoop.makePromise(of: HTTPHeaders?.self)
                    promise.completeWithTask {
                        guard let session = await endpoint.accept(request) else { return nil }
                        accepted.withLockedValue { $0 = session }
                        return HTTPHeaders()
                    }
                    return promise.futureResult
                },
                upgradePipelineHandler: { channel, _ in
                    channel.eventLoop.makeCompletedFuture {
                        guard let session = accepted.withLockedValue({ $0 }) else { throw ChannelError.inappropriateOperationForState }
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
                        try sync.addHandler(HTTP1ToHTTPServerCodec(secure: false))
                        try sync.addHandlers(handlers())
                        try sync.addHandler(HTTPConnectionStateHandler(idleTimeout: nil, logger: logger))
                        return .http(try NIOAsyncChannel(wrappingChannelSynchronously: channel,
                                                         configuration: .init(isOutboundHalfClosureEnabled: true)))
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
