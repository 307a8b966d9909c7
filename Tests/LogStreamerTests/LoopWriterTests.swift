import FlukeModels
import FlukeRuntime
import Foundation
@testable import LogStreamer
import NIOCore
import NIOEmbedded
import NIOWebSocket
import Testing

/// A loop's writer drains its tails at most once per interval: an entry after a quiet spell goes
/// at once, entries that follow it within the interval wait and go together, in one write.
/// (On an embedded loop, whose clock moves only when told.)
@Suite("live tail batching")
struct LoopWriterTests {
    static let tenant = UUID()

    static func entry(_ n: Int64) throws -> TailEntry {
        let entry = UnifiedLogEntry(id: "e\(n)", level: .info, message: "entry \(n)",
                                    source: .init(service: "app", component: "app", tenantID: tenant))
        return TailEntry(seq: n, checked: try CheckedEntry(tenantID: tenant, entry: entry))
    }

    /// Every buffer written since the last call, in order.
    static func written(_ channel: EmbeddedChannel) throws -> [ByteBuffer] {
        var out: [ByteBuffer] = []
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { out.append(buffer) }
        return out
    }

    @Test("entries within the interval wait for the next drain and go out in one write")
    func batching() throws {
        let channel = EmbeddedChannel(handler: WebSocketFrameEncoder())
        let loop = channel.embeddedEventLoop
        let writer = LoopWriter(eventLoop: loop, interval: .milliseconds(4))
        let principal = Principal(kind: .apiToken, tenantID: Self.tenant, userID: UUID(), scopes: [.logsRead])
        let filter = try TailFilter({ (_: String) throws(TailFilterError) -> String? in nil }, boundProject: nil)
        let tail = TailConnection(principal: principal, filter: filter, capacity: 100, channel: channel, writer: writer)
        try tail.attachEncoder()
        tail.finishReplay(lastReplayedID: nil)
        loop.run()
        #expect(try Self.written(channel).isEmpty)

        // After a quiet spell: at once.
        loop.advanceTime(by: .milliseconds(50))
        let e1 = try Self.entry(1), e2 = try Self.entry(2), e3 = try Self.entry(3), e4 = try Self.entry(4)
        tail.offer(e1)
        loop.run()
        #expect(try Self.written(channel) == [e1.wire])

        // Within the interval: held until it has passed since the last drain, then both together.
        tail.offer(e2)
        tail.offer(e3)
        loop.run()
        loop.advanceTime(by: .milliseconds(3))
        #expect(try Self.written(channel).isEmpty)
        loop.advanceTime(by: .milliseconds(1))
        var both = e2.wire
        both.writeImmutableBuffer(e3.wire)
        #expect(try Self.written(channel) == [both])

        // Quiet again: at once.
        loop.advanceTime(by: .milliseconds(20))
        tail.offer(e4)
        loop.run()
        #expect(try Self.written(channel) == [e4.wire])
        #expect(tail.counts.sent == 4)
        _ = try channel.finish()
    }
}
