import FlukeModels
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket

/// log-streamer's live tail (`/api/v1/logs/stream`): entries as they arrive, and its control
/// messages (`dropped`, `live`, `error`, …), as one async sequence.
public struct LogTail: AsyncSequence, Sendable {
    /// What the tail sends: an entry, or a control message.
    public enum Message: Sendable {
        case entry(FleetObject<UnifiedLogEntry>)
        /// `live`, `dropped` (`count`, `since_id`: resume from there), `error`, `stats`, …, whole.
        case control(type: String, JSONValue)

        /// Entries carry `@context`; control messages `type`.
        init(_ message: JSONValue) {
            if message["@context"] != nil, let entry = try? FleetObject<UnifiedLogEntry>(json: message) {
                self = .entry(entry)
            } else {
                self = .control(type: message["type"]?.stringValue ?? "unknown", message)
            }
        }
    }

    public typealias Element = Message
    let stream: AsyncThrowingStream<Message, any Error>

    public func makeAsyncIterator() -> AsyncThrowingStream<Message, any Error>.AsyncIterator { stream.makeAsyncIterator() }
}

extension FlukeClient {
    /// Opens a tail with `filters` (`app_name`, `deployment_id`, `level`, `since_id`, …); the
    /// sequence ends when the server closes the connection, and closes it when the consumer stops.
    public func tailLogs(_ filters: [(String, String?)]) async throws -> LogTail {
        guard let base = endpoints.base(.logStreamer), let host = base.host else {
            throw FlukeClientError(service: .logStreamer, status: 0, title: "Not configured",
                                   detail: "no URL for log-streamer: set \(FleetService.logStreamer.urlVariable)")
        }
        guard base.scheme == "http" else {
            throw FlukeClientError(service: .logStreamer, status: 0, title: "Not supported",
                                   detail: "the live tail is opened over plain ws:// only; \(base) is \(base.scheme ?? "?")")
        }
        let port = base.port ?? 80
        let path = FleetEndpoints.target(path: "/api/v1/logs/stream", query: filters)
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: "\(host):\(port)")
        headers.add(name: "Content-Length", value: "0")
        headers.add(name: "User-Agent", value: "fluke/\(FlukeClient.version)")
        if let token = endpoints.token { headers.add(name: "Authorization", value: "Bearer \(token)") }
        let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: String(path), headers: headers)

        let upgraded: EventLoopFuture<NIOAsyncChannel<WebSocketFrame, WebSocketFrame>?> = try await ClientBootstrap(
            group: MultiThreadedEventLoopGroup.singleton
        ).connect(host: host, port: port) { channel in
            channel.eventLoop.makeCompletedFuture {
                let upgrader = NIOTypedWebSocketClientUpgrader<NIOAsyncChannel<WebSocketFrame, WebSocketFrame>?>(
                    maxFrameSize: 1 << 20
                ) { channel, _ in
                    channel.eventLoop.makeCompletedFuture {
                        try NIOAsyncChannel<WebSocketFrame, WebSocketFrame>(wrappingChannelSynchronously: channel)
                    }
                }
                let configuration = NIOTypedHTTPClientUpgradeConfiguration<NIOAsyncChannel<WebSocketFrame, WebSocketFrame>?>(
                    upgradeRequestHead: head, upgraders: [upgrader],
                    notUpgradingCompletionHandler: { channel in
                        channel.eventLoop.makeCompletedFuture {
                            channel.close(promise: nil)
                            return nil
                        }
                    })
                var pipeline = NIOUpgradableHTTPClientPipelineConfiguration(upgradeConfiguration: configuration)
                // Frames right behind the 101 belong to the tail.
                pipeline.leftOverBytesStrategy = .forwardBytes
                return try channel.pipeline.syncOperations.configureUpgradableHTTPClientPipeline(configuration: pipeline)
            }
        }
        guard let channel = try await upgraded.get() else {
            // The refusal's problem is not readable through the upgrade path: ask the REST
            // route with the same filters, which refuses alike, for its detail.
            _ = try await send(.logStreamer, .GET, "/api/v1/logs", query: filters.filter { $0.0 != "since_id" } + [("limit", "1")],
                               as: JSONValue.self)
            throw FlukeClientError(service: .logStreamer, status: 0, title: "Refused", detail: "the live tail was refused")
        }
        let (stream, continuation) = AsyncThrowingStream<LogTail.Message, any Error>.makeStream(bufferingPolicy: .bufferingNewest(10_000))
        let reader = Task {
            do {
                try await channel.executeThenClose { inbound, outbound in
                    var text = ByteBuffer()
                    for try await frame in inbound {
                        switch frame.opcode {
                        case .text, .continuation:
                            var data = frame.unmaskedData
                            text.writeBuffer(&data)
                            guard frame.fin else { continue }
                            if let message = try? JSONValue(parsing: Data(buffer: text)) { continuation.yield(LogTail.Message(message)) }
                            text.clear()
                        case .ping:
                            var pong = WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)
                            pong.maskKey = .random()
                            try await outbound.write(pong)
                        case .connectionClose:
                            var close = WebSocketFrame(fin: true, opcode: .connectionClose, data: ByteBuffer())
                            close.maskKey = .random()
                            try? await outbound.write(close)
                            continuation.finish()
                            return
                        default:
                            continue
                        }
                    }
                }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in reader.cancel() }
        return LogTail(stream: stream)
    }
}
