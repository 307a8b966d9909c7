import CNats
import Synchronization

/// Delivery state of one subscription, handed to libnats as the callback's `void *closure`.
/// Retained until libnats reports (on-complete callback) that no callback will run again.
final class NATSSubscriptionBox: Sendable {
    let continuation: AsyncStream<NATSMessage>.Continuation
    let dropped = Atomic<Int>(0)

    init(continuation: AsyncStream<NATSMessage>.Continuation) { self.continuation = continuation }
}

/// A core NATS subscription, consumed as an `AsyncSequence` of ``NATSMessage``.
///
/// Each `natsMsg` is copied and destroyed inside libnats' callback, so nothing C-owned escapes.
/// Buffering is bounded: when the consumer falls behind, new messages are dropped and counted in
/// ``droppedMessages``.
public final class NATSSubscription: AsyncSequence, @unchecked Sendable {
    public typealias Element = NATSMessage
    private let stream: AsyncStream<NATSMessage>
    private let box: NATSSubscriptionBox
    private let sub: OpaquePointer
    private let cancelled = Mutex(false)
    var onCancel: (@Sendable () -> Void)?
    public let subject: String

    init(nc: OpaquePointer, subject: String, queue: String?, bufferLimit: Int) throws {
        self.subject = subject
        let (stream, continuation) = AsyncStream<NATSMessage>.makeStream(
            bufferingPolicy: .bufferingOldest(bufferLimit))
        self.stream = stream
        let box = NATSSubscriptionBox(continuation: continuation)
        self.box = box
        let closure = Unmanaged.passRetained(box).toOpaque()
        let handler: natsMsgHandler = { _, _, msg, closure in
            guard let msg else { return }
            defer { natsMsg_Destroy(msg) }
            guard let closure else { return }
            let box = Unmanaged<NATSSubscriptionBox>.fromOpaque(closure).takeUnretainedValue()
            if case .dropped = box.continuation.yield(NATSMessage(copying: msg)) {
                box.dropped.add(1, ordering: .relaxed)
            }
        }
        var sub: OpaquePointer?
        let status: natsStatus
        if let queue {
            status = natsConnection_QueueSubscribe(&sub, nc, subject, queue, handler, closure)
        } else {
            status = natsConnection_Subscribe(&sub, nc, subject, handler, closure)
        }
        guard status == NATS_OK, let sub else {
            Unmanaged<NATSSubscriptionBox>.fromOpaque(closure).release()
            try natsCheck(status, "subscribing to \(subject)")
            throw NATSError(status: NATS_ERR.rawValue, message: "subscribing to \(subject)")
        }
        self.sub = sub
        // libnats' own pending queue is the first buffer; keep it generous so bursts reach Swift.
        _ = natsSubscription_SetPendingLimits(sub, 1_000_000, 1024 * 1024 * 1024)
        _ = natsSubscription_SetOnCompleteCB(sub, { closure in
            guard let closure else { return }
            let box = Unmanaged<NATSSubscriptionBox>.fromOpaque(closure).takeRetainedValue()
            box.continuation.finish()
        }, closure)
    }

    deinit { cancel() }

    /// Messages dropped because the Swift-side buffer was full.
    public var droppedMessages: Int { box.dropped.load(ordering: .relaxed) }

    /// Unsubscribes; the sequence ends once buffered messages are consumed.
    public func cancel() {
        let already = cancelled.withLock { c in
            defer { c = true }
            return c
        }
        guard !already else { return }
        _ = natsSubscription_Unsubscribe(sub)
        natsSubscription_Destroy(sub)
        box.continuation.finish()
        onCancel?()
    }

    public func makeAsyncIterator() -> AsyncStream<NATSMessage>.AsyncIterator { stream.makeAsyncIterator() }
}
