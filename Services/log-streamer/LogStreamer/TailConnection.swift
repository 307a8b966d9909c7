import FlukeModels
import FlukeRuntime
import Foundation
import NIOCore
import NIOWebSocket
import Synchronization

/// One live tail's outgoing side: a bounded queue of entries (and the control messages that go
/// with them) that the broadcaster fills without ever waiting, emptied into the connection on its
/// event loop by that loop's ``LoopWriter``.
///
/// When `capacity` entries wait unsent (the client reads slower than entries come, so the
/// connection stopped being writable), further entries for this tail are dropped and counted;
/// the client then gets `{"type":"dropped","count":N,"since_id":…}` at the place of the gap,
/// `since_id` naming the last entry it received before it (resume or query from there). Other
/// tails never wait for this one.
final class TailConnection: Sendable {
    enum Item: Sendable {
        case entry(TailEntry)
        case frame(WebSocketFrame)
    }

    private struct State {
        var filter: TailFilter
        var subscribed = true
        /// Stored entries are being replayed: live ones queue up behind them.
        var replaying = true
        var items: [Item] = []
        var queuedEntries = 0
        var dropped = 0
        /// The entry before the gap: the last one queued when dropping began (nil: before any).
        var gapAfterID: String?
        var lastQueuedID: String?
        var sent = 0
        var droppedTotal = 0
        var close: WebSocketFrame?
        var closeWritten = false
        /// Handed to the loop writer and not drained since.
        var marked = false
    }

    let principal: Principal
    let capacity: Int
    let openedAt = ContinuousClock.now
    let channel: any Channel
    private let writer: LoopWriter
    /// The frame encoder's place in the pipeline: live entries' ready-made frames are written from
    /// there (past the encoder), many in one buffer. Set on the loop once the tail is served.
    private let encoder: NIOLoopBoundBox<ChannelHandlerContext?>
    private let state: Mutex<State>
    private let lastHeard = Mutex(ContinuousClock.now)
    /// Succeeds once the close frame is written, or the connection is gone.
    private let ended: EventLoopPromise<Void>

    init(principal: Principal, filter: TailFilter, capacity: Int, channel: any Channel, writer: LoopWriter) {
        self.principal = principal
        self.capacity = capacity
        self.channel = channel
        self.writer = writer
        state = Mutex(State(filter: filter))
        encoder = .makeEmptyBox(valueType: ChannelHandlerContext.self, eventLoop: channel.eventLoop)
        ended = channel.eventLoop.makePromise()
        channel.closeFuture.whenComplete { [ended] _ in ended.succeed() }
    }

    var tenantID: UUID { principal.tenantID }

    /// Finds the WebSocket frame encoder in the pipeline; on the channel's event loop.
    func attachEncoder() throws {
        encoder.value = try channel.pipeline.syncOperations.context(handlerType: WebSocketFrameEncoder.self)
    }

    /// Offers a live entry; never waits. Returns whether it was dropped for want of room.
    @discardableResult
    func offer(_ entry: TailEntry) -> Bool {
        var mark = false
        let dropped = state.withLock { s -> Bool in
            guard s.subscribed, s.close == nil, s.filter.matches(entry) else { return false }
            if s.queuedEntries >= capacity {
                if s.dropped == 0 { s.gapAfterID = s.lastQueuedID }
                s.dropped += 1
                s.droppedTotal += 1
                return true
            }
            if s.dropped > 0 { s.items.append(.frame(.text(Self.droppedMessage(&s)))) }
            s.items.append(.entry(entry))
            s.queuedEntries += 1
            s.lastQueuedID = entry.id
            mark = Self.mark(&s)
            return false
        }
        if mark { writer.mark(self) }
        return dropped
    }

    /// Whether the tail must be handed to the loop writer (once until it drains it).
    private static func mark(_ s: inout State) -> Bool {
        guard (!s.replaying || s.close != nil), !s.marked else { return false }
        s.marked = true
        return true
    }

    private static func droppedMessage(_ s: inout State) -> ByteBuffer {
        let since: JSONValue = s.gapAfterID.map { .string($0) } ?? .null
        defer {
            s.dropped = 0
            s.gapAfterID = nil
        }
        return TailMessages.encode(["type": .string("dropped"), "count": .number(Double(s.dropped)), "since_id": since])
    }

    /// Queues a control message (never dropped).
    func send(_ message: [String: JSONValue]) {
        enqueue(.frame(.text(TailMessages.encode(message))))
    }

    func enqueue(_ item: Item) {
        let mark = state.withLock { s -> Bool in
            guard s.close == nil else { return false }
            s.items.append(item)
            return Self.mark(&s)
        }
        if mark { writer.mark(self) }
    }

    /// Ends the tail: what is queued goes out, then a close frame with `code` and `reason`.
    func close(_ code: WebSocketErrorCode, reason: String) {
        let mark = state.withLock { s -> Bool in
            if s.close == nil { s.close = .close(code, reason: reason) }
            // Even when marked: a drain waiting for writability must go out now.
            s.marked = true
            return !s.closeWritten
        }
        if mark { writer.mark(self) }
    }

    /// The replay is over (its frames are written): from now on what the broadcaster queued goes
    /// out, which all came after it. `lastReplayedID` is the gap's start should entries be
    /// dropped meanwhile.
    func finishReplay(lastReplayedID: String?) {
        let mark = state.withLock { s -> Bool in
            s.replaying = false
            if s.dropped > 0, s.gapAfterID == nil { s.gapAfterID = lastReplayedID }
            return Self.mark(&s)
        }
        if mark { writer.mark(self) }
    }

    /// The connection can take more again (see ``TailWritability``).
    func writable() {
        let mark = state.withLock { s -> Bool in
            s.marked = false
            return s.items.isEmpty && s.close == nil ? false : Self.mark(&s)
        }
        if mark { writer.mark(self) }
    }

    func setFilter(_ filter: TailFilter?) {
        state.withLock { s in
            if let filter {
                s.filter = filter
                s.subscribed = true
            } else {
                s.subscribed = false
            }
        }
    }

    /// The client sent something (any frame): it is alive.
    func heard() { lastHeard.withLock { $0 = .now } }

    /// How long the client has been silent.
    var silence: Duration { lastHeard.withLock { $0 }.duration(to: .now) }

    /// Counts entries the replay wrote itself.
    func addSent(_ n: Int) { state.withLock { $0.sent += n } }

    var counts: (sent: Int, dropped: Int) { state.withLock { ($0.sent, $0.droppedTotal) } }

    /// Waits until the close frame is written or the connection is gone.
    func finished() async { try? await ended.futureResult.get() }

    /// On the channel's event loop (``LoopWriter``): writes what is queued and flushes once.
    /// While the connection is not writable the queue stays (and fills, and drops), unless the
    /// tail is closing.
    func drain() {
        let (items, close) = state.withLock { s -> ([Item], WebSocketFrame?) in
            if s.replaying && s.close == nil {
                s.marked = false
                return ([], nil)
            }
            // Still marked: offers do not schedule drains meanwhile; writable() does.
            guard channel.isWritable || s.close != nil else { return ([], nil) }
            s.marked = false
            if s.dropped > 0 { s.items.append(.frame(.text(Self.droppedMessage(&s)))) }
            let taken = s.items
            s.items.removeAll(keepingCapacity: true)
            s.sent += s.queuedEntries
            s.queuedEntries = 0
            guard let close = s.close, !s.closeWritten else { return (taken, nil) }
            s.closeWritten = true
            return (taken, close)
        }
        guard !items.isEmpty || close != nil else { return }
        // Entries' frames are ready: copied one after another into one buffer, written past the
        // encoder. (Through the encoder, each frame cost two writes and a pipeline walk, per
        // tail, 500,000 times a second for 100 tails at 5,000 entries/s.)
        let encoder = self.encoder.value
        var batch: ByteBuffer?
        for item in items {
            switch item {
            case .entry(let entry):
                guard encoder != nil else {
                    channel.write(WebSocketFrame.text(entry.frame), promise: nil)
                    continue
                }
                if batch == nil { batch = channel.allocator.buffer(capacity: Self.wireBytes(items)) }
                batch!.writeImmutableBuffer(entry.wire)
            case .frame(let frame):
                if let ready = batch.take() { encoder!.write(NIOAny(ready), promise: nil) }
                channel.write(frame, promise: nil)
            }
        }
        if let ready = batch { encoder!.write(NIOAny(ready), promise: nil) }
        guard let close else { return channel.flush() }
        channel.writeAndFlush(close).whenComplete { [ended] _ in ended.succeed() }
    }
}

extension TailConnection {
    static func wireBytes(_ items: [Item]) -> Int {
        items.reduce(0) { sum, item in if case .entry(let entry) = item { sum + entry.wire.readableBytes } else { sum } }
    }
}

/// Empties the queues of the live tails on one event loop: one task on the loop for however
/// many tails and entries came meanwhile, one flush per tail. (A writer task per tail, woken
/// per entry, cost a thread hop per entry per tail, which 100 tails at 5,000 entries/s could
/// not afford.)
///
/// Drains are at least `interval` apart: an entry that comes sooner waits for the next one,
/// with whatever else comes meanwhile. On loopback each write does the receiver's TCP work as
/// well, so a write per entry per tail (100 tails at 5,000 entries/s: 500,000 writes a second)
/// took the CPU the tails needed and their latency grew to hundreds of milliseconds; batching
/// costs at most the interval in latency. An entry after a quiet spell
/// goes at once.
final class LoopWriter: Sendable {
    static let defaultInterval = TimeAmount.milliseconds(4)
    let eventLoop: any EventLoop
    let interval: TimeAmount
    private let pending = Mutex<(tails: [TailConnection], scheduled: Bool, lastDrain: NIODeadline?)>(([], false, nil))

    init(eventLoop: any EventLoop, interval: TimeAmount = LoopWriter.defaultInterval) {
        self.eventLoop = eventLoop
        self.interval = interval
    }

    /// Has `tail` drained on the loop soon; from any thread.
    func mark(_ tail: TailConnection) {
        let (schedule, lastDrain) = pending.withLock { p -> (Bool, NIODeadline?) in
            p.tails.append(tail)
            guard !p.scheduled else { return (false, nil) }
            p.scheduled = true
            return (true, p.lastDrain)
        }
        guard schedule else { return }
        if let due = lastDrain.map({ $0 + interval }), due > eventLoop.now {
            eventLoop.scheduleTask(deadline: due) { self.drain() }
        } else {
            eventLoop.execute { self.drain() }
        }
    }

    private func drain() {
        let tails = pending.withLock { p -> [TailConnection] in
            p.scheduled = false
            p.lastDrain = eventLoop.now
            defer { p.tails.removeAll(keepingCapacity: true) }
            return p.tails
        }
        for tail in tails { tail.drain() }
    }
}

/// One ``LoopWriter`` per event loop (a fixed set: the server's), made on first use.
final class LoopWriters: Sendable {
    private let writers = Mutex<[ObjectIdentifier: LoopWriter]>([:])

    func writer(for eventLoop: any EventLoop) -> LoopWriter {
        writers.withLock { w in
            if let writer = w[ObjectIdentifier(eventLoop)] { return writer }
            let writer = LoopWriter(eventLoop: eventLoop)
            w[ObjectIdentifier(eventLoop)] = writer
            return writer
        }
    }
}

/// Tells a tail when its connection can take writes again, so that what queued meanwhile goes out.
final class TailWritability: ChannelInboundHandler, RemovableChannelHandler, Sendable {
    typealias InboundIn = WebSocketFrame
    let tail: TailConnection

    init(tail: TailConnection) { self.tail = tail }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { tail.writable() }
        context.fireChannelWritabilityChanged()
    }
}

/// Control messages: JSON objects with a `"type"`.
enum TailMessages {
    static func encode(_ object: [String: JSONValue]) -> ByteBuffer {
        ByteBuffer(bytes: (try? FleetJSON.encoder.encode(JSONValue.object(object))) ?? Data(#"{"type":"error"}"#.utf8))
    }
}
