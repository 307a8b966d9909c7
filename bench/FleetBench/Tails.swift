import FlukeModels
import FlukeNATS
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import Synchronization

// MARK: - Latencies

/// Where `needle` starts in `bytes` (memchr for its first byte, then memcmp; glibc's memmem is
/// not visible from Swift).
func find(_ needle: StaticString, in bytes: UnsafeRawBufferPointer) -> Int? {
    let length = needle.utf8CodeUnitCount
    guard let base = bytes.baseAddress, bytes.count >= length else { return nil }
    let first = Int32(needle.utf8Start.pointee)
    var from = 0
    while from + length <= bytes.count {
        guard let hit = memchr(base + from, first, bytes.count - length + 1 - from) else { return nil }
        let at = base.distance(to: UnsafeRawPointer(hit))
        if memcmp(base + at, needle.utf8Start, length) == 0 { return at }
        from = at + 1
    }
    return nil
}

/// `sent_ns=<digits>` inside `bytes` (the paced publisher's marker at the start of `message`).
/// Found by its `=`, which is rare in entries: a search by the marker's first byte, `"`, stopped
/// at every key and value, and cost the clients' process a sixth of its CPU.
func sentNanoseconds(in bytes: UnsafeRawBufferPointer) -> Int64? {
    let marker: StaticString = "\"message\":\"sent_ns="
    let length = marker.utf8CodeUnitCount
    guard let base = bytes.baseAddress else { return nil }
    var from = 0
    while from < bytes.count, let hit = memchr(base + from, Int32(UInt8(ascii: "=")), bytes.count - from) {
        let equals = base.distance(to: UnsafeRawPointer(hit))
        let start = equals + 1 - length
        if start >= 0, memcmp(base + start, marker.utf8Start, length) == 0 {
            var i = equals + 1
            var value: Int64 = 0
            while i < bytes.count, bytes[i] >= 48, bytes[i] <= 57 {
                value = value * 10 + Int64(bytes[i] - 48)
                i += 1
            }
            return value
        }
        from = equals + 1
    }
    return nil
}

/// Microseconds from `sent` to now (CLOCK_REALTIME; publisher and receiver are on one machine).
@inline(__always) func microsecondsSince(_ sent: Int64) -> Int32 {
    Int32(clamping: (wallNanoseconds() - sent) / 1000)
}

/// "p50 p99 p999 max" in ms of microsecond samples (0s when there are none).
func percentiles(_ samples: [Int32]) -> String {
    guard !samples.isEmpty else { return "0 0 0 0" }
    let sorted = samples.sorted()
    func at(_ p: Double) -> Double { Double(sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]) / 1000 }
    return String(format: "%.3f %.3f %.3f %.3f", at(0.5), at(0.99), at(0.999), Double(sorted.last!) / 1000)
}

// MARK: - Clients

/// What one client received; touched only on its channel's event loop.
final class TailStats: @unchecked Sendable {
    var latencies: [Int32] = []
    var entries = 0
    var droppedMessages = 0
    var droppedEntries = 0
    var otherMessages = 0
    var closed = false
    var channel: (any Channel)?

    struct Snapshot: Sendable {
        var latencies: [Int32]
        var entries: Int
        var droppedMessages: Int
        var droppedEntries: Int
        var otherMessages: Int
        var closed: Bool
    }

    var snapshot: Snapshot {
        Snapshot(latencies: latencies, entries: entries, droppedMessages: droppedMessages, droppedEntries: droppedEntries,
                 otherMessages: otherMessages, closed: closed)
    }
}

/// A live tail's reader: entries (the UnifiedLogEntry JSON itself) are timed by their `sent_ns`;
/// control messages (`"type"`) are counted, `dropped` ones with their count; pings are answered.
///
/// It reads the server's frames from the socket's bytes itself (RFC 6455 §5.2: a server's frames
/// are unmasked; the tail sends each message as one final text frame) in place of NIO's frame
/// decoder, which made a frame value, a buffer slice and a pipeline event per entry: the clients
/// share the machine with the server they measure, and 500,000 frames a second through the
/// decoder cost them about half their CPU. A fragmented, masked or reserved-bit frame fails the run.
final class TailClientHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = WebSocketFrame
    let stats: TailStats
    /// Bytes of a frame that has not wholly arrived yet.
    private var partial = ByteBuffer()

    init(stats: TailStats) { self.stats = stats }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if partial.readableBytes > 0 {
            partial.writeBuffer(&bytes)
            frames(&partial, context: context)
            partial.discardReadBytes()
        } else {
            frames(&bytes, context: context)
            // A frame's start, copied: the read buffer goes back to NIO's pool.
            partial.writeBuffer(&bytes)
        }
    }

    /// Handles every whole frame at the start of `buffer` and moves past them.
    private func frames(_ buffer: inout ByteBuffer, context: ChannelHandlerContext) {
        while true {
            let taken = buffer.withUnsafeReadableBytes { bytes -> Int? in
                guard bytes.count >= 2 else { return nil }
                let first = bytes[0], second = bytes[1]
                guard first & 0x70 == 0, second & 0x80 == 0 else { fail("a frame with reserved bits or a mask from the server") }
                var length = Int(second & 0x7F), header = 2
                if length == 126 {
                    guard bytes.count >= 4 else { return nil }
                    length = Int(bytes[2]) << 8 | Int(bytes[3])
                    header = 4
                } else if length == 127 {
                    guard bytes.count >= 10 else { return nil }
                    length = (2..<10).reduce(0) { $0 << 8 | Int(bytes[$1]) }
                    header = 10
                }
                guard bytes.count >= header + length else { return nil }
                let payload = UnsafeRawBufferPointer(rebasing: bytes[header..<(header + length)])
                switch first & 0x0F {
                case 0x1:
                    guard first & 0x80 != 0 else { fail("a fragmented message from the tail") }
                    text(payload)
                case 0x9:
                    var pong = WebSocketFrame(fin: true, opcode: .pong, data: ByteBuffer(bytes: payload))
                    pong.maskKey = .random()
                    context.writeAndFlush(wrapOutboundOut(pong), promise: nil)
                case 0x8:
                    stats.closed = true
                    context.close(promise: nil)
                default:
                    break
                }
                return header + length
            }
            guard let taken else { return }
            buffer.moveReaderIndex(forwardBy: taken)
        }
    }

    private func text(_ bytes: UnsafeRawBufferPointer) {
        if bytes.count > 11, memcmp(bytes.baseAddress!, #"{"@context""#, 11) == 0 {
            stats.entries += 1
            if let sent = sentNanoseconds(in: bytes) { stats.latencies.append(microsecondsSince(sent)) }
        } else if find(#""type":"dropped""#, in: bytes) != nil {
            stats.droppedMessages += 1
            if let at = find(#""count":"#, in: bytes) {
                var i = at + 8
                var n = 0
                while i < bytes.count, bytes[i] >= 48, bytes[i] <= 57 { n = n * 10 + Int(bytes[i] - 48); i += 1 }
                stats.droppedEntries += n
            }
        } else {
            stats.otherMessages += 1
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        stats.closed = true
        context.fireChannelInactive()
    }
}

/// Opens one WebSocket to `host:port` `uri` (the path and query); fails unless it is upgraded.
func openTail(group: any EventLoopGroup, host: String, port: Int, uri: String, stats: TailStats) async throws {
    let upgraded: EventLoopFuture<Bool> = try await ClientBootstrap(group: group)
        .channelOption(.socketOption(.tcp_nodelay), value: 1)
        .connect(host: host, port: port) { channel in
            channel.eventLoop.makeCompletedFuture {
                let upgrader = NIOTypedWebSocketClientUpgrader<Bool>(maxFrameSize: 1 << 20, enableAutomaticErrorHandling: false) { channel, _ in
                    channel.eventLoop.makeCompletedFuture {
                        // The frames are read by TailClientHandler itself; the encoder stays for pongs.
                        let pipeline = channel.pipeline.syncOperations
                        let decoder = try pipeline.context(handlerType: ByteToMessageHandler<WebSocketFrameDecoder>.self)
                        pipeline.removeHandler(context: decoder, promise: nil)
                        try pipeline.addHandler(TailClientHandler(stats: stats))
                        stats.channel = channel
                        return true
                    }
                }
                var headers = HTTPHeaders()
                headers.add(name: "Host", value: "\(host):\(port)")
                headers.add(name: "Content-Length", value: "0")
                let configuration = NIOTypedHTTPClientUpgradeConfiguration<Bool>(
                    upgradeRequestHead: HTTPRequestHead(version: .http1_1, method: .GET, uri: uri, headers: headers),
                    upgraders: [upgrader],
                    notUpgradingCompletionHandler: { channel in
                        channel.eventLoop.makeCompletedFuture {
                            channel.close(promise: nil)
                            return false
                        }
                    })
                var pipeline = NIOUpgradableHTTPClientPipelineConfiguration(upgradeConfiguration: configuration)
                // Frames the server sends right behind its 101 belong to the tail.
                pipeline.leftOverBytesStrategy = .forwardBytes
                return try channel.pipeline.syncOperations.configureUpgradableHTTPClientPipeline(configuration: pipeline)
            }
        }
    guard try await upgraded.get() else { fail("the WebSocket upgrade to \(host):\(port)\(uri) was refused") }
}

/// Records the paced publisher's latency at two points of the way, in the clients' process: a core
/// NATS subscription on `fluke.logs.>` (what the bare broadcaster gets) and an ordered JetStream
/// consumer on `FLUKE_LOGS` (what log-streamer's live tail gets).
final class StageProbe: Sendable {
    let core = Mutex<[Int32]>([])
    let jetStream = Mutex<[Int32]>([])
    let subscriptions = Mutex<[NATSHandlerSubscription]>([])

    func start(_ nats: NATSClient) async throws {
        let core = try nats.subscribe(UnifiedLogEntry.subjectPrefix + ">") { [self] view in
            if let sent = sentNanoseconds(in: view.payload) {
                let us = microsecondsSince(sent)
                self.core.withLock { $0.append(us) }
            }
        }
        let ordered = try await nats.orderedConsumer(stream: UnifiedLogEntry.streamName, filterSubject: UnifiedLogEntry.subjectPrefix + ">",
                                                     startSequence: nil) { [self] delivery in
            if let sent = sentNanoseconds(in: delivery.payload) {
                let us = microsecondsSince(sent)
                jetStream.withLock { $0.append(us) }
            }
        }
        subscriptions.withLock { $0 = [core, ordered] }
    }
}

/// `ws-clients`: `count` clients on `url` (ws://host:port/path?query), opened 50 at a time; prints
/// "ready" once all are upgraded, then waits until each has received `expected` entries (dropped
/// ones included) or `seconds` have passed (`expected` 0: holds them open that long). Prints
/// "clients min_entries max_entries dropped_messages dropped_entries other_messages closed
/// p50 p99 p999 max" (ms, publish → receipt over every entry of every client), then with a probe
/// "core p50 p99 p999 max" and "jetstream p50 p99 p999 max".
func runTailClients(url: String, count: Int, expected: Int, seconds: Int, probeURL: String?, logger: Logger) async throws {
    guard let components = URLComponents(string: url), components.scheme == "ws", let host = components.host,
          let port = components.port else { fail("usage: ws-clients ws://host:port/path?query …") }
    let uri = (components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath)
        + (components.percentEncodedQuery.map { "?" + $0 } ?? "")
    let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
    let all = (0..<count).map { _ in TailStats() }
    for start in stride(from: 0, to: count, by: 50) {
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            for stats in all[start..<min(start + 50, count)] {
                tasks.addTask { try await openTail(group: group, host: host, port: port, uri: uri, stats: stats) }
            }
            try await tasks.waitForAll()
        }
    }
    var probe: (NATSClient, StageProbe)?
    if let probeURL {
        let nats = try await NATSClient.connect(.init(url: probeURL, name: "bench-probe", sendAsap: true), logger: logger)
        let stages = StageProbe()
        try await stages.start(nats)
        probe = (nats, stages)
    }
    print("ready")
    fflush(nil)

    func snapshots() async throws -> [TailStats.Snapshot] {
        var out: [TailStats.Snapshot] = []
        for stats in all {
            guard let channel = stats.channel else { fail("a client has no channel") }
            out.append(try await channel.eventLoop.submit { stats.snapshot }.get())
        }
        return out
    }
    let deadline = ContinuousClock.now + .seconds(seconds)
    while ContinuousClock.now < deadline {
        try await Task.sleep(for: .milliseconds(200))
        if expected > 0 {
            var done = true
            for stats in all {
                guard let channel = stats.channel else { continue }
                let (n, gone) = try await channel.eventLoop.submit { (stats.entries + stats.droppedEntries, stats.closed) }.get()
                if n < expected && !gone { done = false; break }
            }
            if done { break }
        }
    }
    let final = try await snapshots()
    for stats in all { try? await stats.channel?.close() }
    var latencies: [Int32] = []
    latencies.reserveCapacity(final.reduce(0) { $0 + $1.latencies.count })
    for s in final { latencies.append(contentsOf: s.latencies) }
    print(count, final.map(\.entries).min() ?? 0, final.map(\.entries).max() ?? 0,
          final.reduce(0) { $0 + $1.droppedMessages }, final.reduce(0) { $0 + $1.droppedEntries },
          final.reduce(0) { $0 + $1.otherMessages }, final.filter(\.closed).count, percentiles(latencies))
    if let (nats, stages) = probe {
        print("core", percentiles(stages.core.withLock { $0 }))
        print("jetstream", percentiles(stages.jetStream.withLock { $0 }))
        await nats.shutdown()
    }
    fflush(nil)
    try await group.shutdownGracefully()
}

// MARK: - The bare broadcaster

/// The floor for the live tail: a WebSocket server on the same library (swift-nio's
/// `NIOWebSocket`) that upgrades any request and writes every message of a core NATS subscription
/// on `fluke.logs.>`, as it is, to every client: one task per event loop per message writing it to
/// that loop's clients, and one flush per client for whatever those tasks wrote before the loop
/// got to it (a flush per frame would be a syscall per frame). No tenants, filters, per-client
/// buffers or JetStream.
final class BareBroadcaster: Sendable {
    /// A loop's flush state; touched only on that loop.
    private final class Flush: @unchecked Sendable { var pending = false }
    private struct Loop {
        let eventLoop: any EventLoop
        let flush = Flush()
        var channels: [ObjectIdentifier: any Channel] = [:]
    }
    private let loops = Mutex<[ObjectIdentifier: Loop]>([:])

    func add(_ channel: any Channel) {
        loops.withLock { $0[ObjectIdentifier(channel.eventLoop), default: Loop(eventLoop: channel.eventLoop)].channels[ObjectIdentifier(channel)] = channel }
    }

    func remove(_ channel: any Channel) {
        _ = loops.withLock { $0[ObjectIdentifier(channel.eventLoop)]?.channels.removeValue(forKey: ObjectIdentifier(channel)) }
    }

    /// On libnats' delivery thread.
    func send(_ payload: UnsafeRawBufferPointer) {
        let frame = WebSocketFrame(fin: true, opcode: .text, data: ByteBuffer(bytes: payload))
        for loop in loops.withLock({ Array($0.values) }) where !loop.channels.isEmpty {
            let channels = Array(loop.channels.values)
            let eventLoop = loop.eventLoop, flush = loop.flush
            eventLoop.execute {
                for channel in channels { channel.write(frame, promise: nil) }
                guard !flush.pending else { return }
                flush.pending = true
                // Behind the writes already queued on this loop.
                eventLoop.execute {
                    flush.pending = false
                    for channel in channels { channel.flush() }
                }
            }
        }
    }
}

/// Answers a close frame; everything else a client sends is ignored.
final class BareServerHandler: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if unwrapInboundIn(data).opcode == .connectionClose {
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: ByteBuffer())))
                .whenComplete { _ in context.close(promise: nil) }
        }
    }
}

/// `ws-broadcaster PORT NATS_URL`: runs until killed; prints "ready" once listening and subscribed.
func runBareBroadcaster(port: Int, natsURL: String, logger: Logger) async throws {
    let broadcaster = BareBroadcaster()
    let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
    let upgrader = NIOWebSocketServerUpgrader(
        maxFrameSize: 1 << 16,
        shouldUpgrade: { channel, _ in channel.eventLoop.makeSucceededFuture(HTTPHeaders()) },
        upgradePipelineHandler: { channel, _ in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(BareServerHandler())
                broadcaster.add(channel)
                channel.closeFuture.whenComplete { _ in broadcaster.remove(channel) }
            }
        })
    let server = try await ServerBootstrap(group: group)
        .serverChannelOption(.backlog, value: 1024)
        .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
        .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
        .childChannelInitializer { channel in
            channel.pipeline.configureHTTPServerPipeline(withServerUpgrade: (upgraders: [upgrader], completionHandler: { _ in }))
        }
        .bind(host: "127.0.0.1", port: port).get()
    let nats = try await NATSClient.connect(.init(url: natsURL, name: "bench-broadcaster"), logger: logger)
    let subscription = try nats.subscribe(UnifiedLogEntry.subjectPrefix + ">") { view in broadcaster.send(view.payload) }
    print("ready")
    fflush(nil)
    try await server.closeFuture.get()
    subscription.cancel()
}
