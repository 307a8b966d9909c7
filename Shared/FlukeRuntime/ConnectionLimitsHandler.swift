import FlukeModels
import Foundation
import HTTPTypes
import NIOCore
import NIOHTTP1
import NIOHTTPTypes

/// What one HTTP connection may cost, enforced below Hummingbird:
///
/// - it is closed after `idleTimeout` (`HTTP_IDLE_TIMEOUT`) with no request in progress: a client
///   that never sends a request, trickles a request head too slowly to finish it, or sits idle
///   between keep-alive requests;
/// - a request head beyond the decoder's limits (`HTTP_MAX_HEADER_BYTES`) is answered 431 as a
///   problem document, and the connection closed.
///
/// Hummingbird's own idle timeout sits behind the additional channel handlers, so it would not
/// see requests that a handler before it answers (context-api's fast path) and would close busy
/// connections; this handler goes first and sees every request and every response. Hummingbird
/// answers an oversized head with a bare 400; this one answers first when it safely can.
final class ConnectionLimitsHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    let idleTimeout: TimeAmount
    let maxHeaderBytes: Int
    /// Requests read whose response has not ended yet (pipelined ones included).
    private var inProgress = 0
    private var timer: Scheduled<Void>?

    init(idleTimeout: TimeAmount, maxHeaderBytes: Int) {
        self.idleTimeout = idleTimeout
        self.maxHeaderBytes = maxHeaderBytes
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { arm(context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) { disarm() }

    func channelActive(context: ChannelHandlerContext) {
        arm(context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        disarm()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head = unwrapInboundIn(data) {
            inProgress += 1
            disarm()
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) {
            inProgress = max(0, inProgress - 1)
            if inProgress == 0 { arm(context) }
        }
        context.write(data, promise: promise)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // While an earlier request still owes its response, writing one here would interleave
        // with it: Hummingbird's 400 and close then apply.
        guard let parse = error as? HTTPParserError, parse == .headerOverflow, inProgress == 0 else {
            context.fireErrorCaught(error)
            return
        }
        disarm()
        let problem: [String: JSONValue] = [
            "type": .string("about:blank"), "title": .string("Request Header Fields Too Large"), "status": .number(431),
            "detail": .string("the request head exceeds \(maxHeaderBytes) bytes or 200 header fields"),
            "field": .string("headers"), "request_id": .string(RequestIDs.next()),
        ]
        let body = ByteBuffer(bytes: Array((try? FleetJSON.encoder.encode(problem)) ?? Data()))
        var head = HTTPResponse(status: .requestHeaderFieldsTooLarge)
        head.headerFields[.contentType] = "application/problem+json"
        head.headerFields[.contentLength] = String(body.readableBytes)
        head.headerFields[.connection] = "close"
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(body)), promise: nil)
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in bound.value.close(promise: nil) }
    }

    private func arm(_ context: ChannelHandlerContext) {
        disarm()
        let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: idleTimeout) {
            guard bound.value.handler.inProgress == 0 else { return }
            bound.value.context.close(promise: nil)
        }
    }

    private func disarm() {
        timer?.cancel()
        timer = nil
    }
}
