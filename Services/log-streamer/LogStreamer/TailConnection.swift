import FlukeModels
import FlukeRuntime
import Foundation
import NIOCore
import NIOWebSocket
import Synchronization

/// One live tail's outgoing side: a bounded queue of entries (and the control messages that go
/// with them) that the broadcaster fills without ever waiting, and one writer that empties it.
///
/// When `capacity` entries wait unsent, further entries for this tail are dropped and counted;
/// the client then gets `{"type":"dropped","count":N,"since_id":…}` at the place of the gap,
/// `since_id` naming the last entry it received before it (resume or query from there). Other
/// tails never wait for this one.
final class TailConnection: Sendable {
    enum Item: Sendable {
        case entry(ByteBuffer)
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
        var wakePending = false
    }

    let principal: Principal
    let capacity: Int
    let openedAt = ContinuousClock.now
    private let state: Mutex<State>
    private let lastHeard = Mutex(ContinuousClock.now)
    private let wakes: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation

    init(principal: Principal, filter: TailFilter, capacity: Int) {
        self.principal = principal
        self.capacity = capacity
        state = Mutex(State(filter: filter))
        (wakes, wake) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    var tenantID: UUID { principal.tenantID }

    /// Offers a live entry; never waits. Returns whether it was dropped for want of room.
    @discardableResult
    func offer(_ entry: TailEntry) -> Bool {
        var wakeWriter = false
        let dropped = state.withLock { s -> Bool in
            guard s.subscribed, s.close == nil, s.filter.matches(entry) else { return false }
            if s.queuedEntries >= capacity {
                if s.dropped == 0 { s.gapAfterID = s.lastQueuedID }
                s.dropped += 1
                s.droppedTotal += 1
                return true
            }
            if s.dropped > 0 { s.items.append(.frame(.text(Self.droppedMessage(&s)))) }
            s.items.append(.entry(entry.frame))
            s.queuedEntries += 1
            s.lastQueuedID = entry.id
            if !s.replaying && !s.wakePending {
                s.wakePending = true
                wakeWriter = true
            }
            return false
        }
        if wakeWriter { wake.yield() }
        return dropped
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
        let wakeWriter = state.withLock { s -> Bool in
            guard s.close == nil else { return false }
            s.items.append(item)
            guard !s.replaying, !s.wakePending else { return false }
            s.wakePending = true
            return true
        }
        if wakeWriter { wake.yield() }
    }

    /// Ends the tail: what is queued goes out, then a close frame with `code` and `reason`.
    func close(_ code: WebSocketErrorCode, reason: String) {
        state.withLock { s in
            if s.close == nil { s.close = .close(code, reason: reason) }
            s.wakePending = true
        }
        wake.yield()
    }

    /// The replay is over: from now on the writer sends what the broadcaster queued, which all
    /// came after it. `lastReplayedID` is the gap's start should entries be dropped meanwhile.
    func finishReplay(lastReplayedID: String?) {
        state.withLock { s in
            s.replaying = false
            if s.dropped > 0, s.gapAfterID == nil { s.gapAfterID = lastReplayedID }
            s.wakePending = true
        }
        wake.yield()
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

    /// Sends frames as they are queued until the tail is closed (the close frame is the last one
    /// written) or the connection fails. One write and flush per batch taken.
    func runWriter(_ outbound: NIOAsyncChannelOutboundWriter<WebSocketFrame>) async throws {
        for await _ in wakes {
            while true {
                let (items, close) = state.withLock { s -> ([Item], WebSocketFrame?) in
                    s.wakePending = false
                    guard !s.replaying || s.close != nil else { return ([], nil) }
                    if s.dropped > 0 { s.items.append(.frame(.text(Self.droppedMessage(&s)))) }
                    let taken = s.items
                    s.items.removeAll(keepingCapacity: true)
                    s.sent += s.queuedEntries
                    s.queuedEntries = 0
                    return (taken, s.close)
                }
                if items.isEmpty && close == nil { break }
                try await outbound.write(contentsOf: items.map { item in
                    switch item {
                    case .entry(let buffer): WebSocketFrame.text(buffer)
                    case .frame(let frame): frame
                    }
                })
                if let close {
                    try await outbound.write(close)
                    return
                }
            }
        }
    }
}

/// Control messages: JSON objects with a `"type"`.
enum TailMessages {
    static func encode(_ object: [String: JSONValue]) -> ByteBuffer {
        ByteBuffer(bytes: (try? FleetJSON.encoder.encode(JSONValue.object(object))) ?? Data(#"{"type":"error"}"#.utf8))
    }
}
