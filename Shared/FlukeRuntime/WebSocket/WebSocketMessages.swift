import NIOCore
import NIOWebSocket

extension WebSocketFrame {
    /// A server's (unmasked) text frame.
    public static func text(_ buffer: ByteBuffer) -> WebSocketFrame {
        WebSocketFrame(fin: true, opcode: .text, data: buffer)
    }

    /// A close frame with a status code and a reason (cut to the 123 bytes RFC 6455 §5.5 leaves).
    public static func close(_ code: WebSocketErrorCode, reason: String) -> WebSocketFrame {
        var data = ByteBuffer()
        data.write(webSocketErrorCode: code)
        var kept = Substring(reason)
        while kept.utf8.count > 123 { kept = kept.dropLast() }
        data.writeString(String(kept))
        return WebSocketFrame(fin: true, opcode: .connectionClose, data: data)
    }
}

/// What a client's frames amount to, fragmented messages joined (RFC 6455 §5.4).
public enum WebSocketInbound: Sendable, Equatable {
    case text(String)
    /// A binary message, or text that is not UTF-8: the caller says it is not understood.
    case unsupported
    case ping(ByteBuffer)
    case pong
    /// The client closed (its code, if it gave one).
    case close(WebSocketErrorCode?)
    /// A message beyond the size limit, or a continuation without a start: the connection must end.
    case protocolError(String)
}

/// Joins fragments into messages, bounded by `maxMessageBytes`.
public struct WebSocketMessageAssembler: Sendable {
    let maxMessageBytes: Int
    private var partial: ByteBuffer?
    private var partialIsText = false

    public init(maxMessageBytes: Int) {
        self.maxMessageBytes = maxMessageBytes
    }

    /// The message `frame` completes, if any.
    public mutating func receive(_ frame: WebSocketFrame) -> WebSocketInbound? {
        switch frame.opcode {
        case .ping: return .ping(frame.unmaskedData)
        case .pong: return .pong
        case .connectionClose:
            var data = frame.unmaskedData
            return .close(data.readWebSocketErrorCode())
        case .text, .binary:
            guard partial == nil else { return .protocolError("a new message started before the last one ended") }
            partialIsText = frame.opcode == .text
            partial = ByteBuffer()
            return append(frame)
        case .continuation:
            guard partial != nil else { return .protocolError("a continuation frame without a message") }
            return append(frame)
        default:
            return .protocolError("unknown opcode")
        }
    }

    private mutating func append(_ frame: WebSocketFrame) -> WebSocketInbound? {
        var data = frame.unmaskedData
        guard (partial?.readableBytes ?? 0) + data.readableBytes <= maxMessageBytes else {
            partial = nil
            return .protocolError("a message is larger than \(maxMessageBytes) bytes")
        }
        partial!.writeBuffer(&data)
        guard frame.fin else { return nil }
        defer { partial = nil }
        guard partialIsText, let text = partial!.getString(at: partial!.readerIndex, length: partial!.readableBytes),
              text.utf8.elementsEqual(partial!.readableBytesView) else { return .unsupported }
        return .text(text)
    }
}
