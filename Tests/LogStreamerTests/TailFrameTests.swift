@testable import LogStreamer
import NIOCore
import NIOEmbedded
import NIOWebSocket
import Testing

/// Live entries go out as frames built once (``TailEntry/textFrame(_:)``), past NIO's encoder:
/// they must be the bytes the encoder writes, at every length form (7-bit, 16-bit, 64-bit).
@Suite("live tail frames")
struct TailFrameTests {
    @Test("textFrame writes what WebSocketFrameEncoder writes", arguments: [0, 1, 125, 126, 127, 4_000, 65_535, 65_536, 70_000])
    func sameBytes(_ length: Int) throws {
        let payload = ByteBuffer(bytes: (0..<length).map { UInt8(truncatingIfNeeded: $0 % 94 + 33) })
        let channel = EmbeddedChannel(handler: WebSocketFrameEncoder())
        try channel.writeOutbound(WebSocketFrame.text(payload))
        var encoded = ByteBuffer()
        while var part = try channel.readOutbound(as: ByteBuffer.self) { encoded.writeBuffer(&part) }
        #expect(TailEntry.textFrame(payload) == encoded)
        _ = try channel.finish()
    }
}
