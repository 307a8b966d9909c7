import CNats
import Dispatch
import Synchronization

/// Delivery state of one subscription, handed to libnats as the callback's `void *closure`.
/// Retained until libnats reports (on-complete callback) that no callback will run again.
final class NATSSubscriptionBox: Sendable {
    let continuation: AsyncStream<NATSMessage>.Continuation
    /// Free places in the Swift-side buffer. libnats' delivery thread (its own, not Swift's)
    /// waits here when the consumer falls behind, so messages back up in libnats' pending queue
    /// instead of being dropped.
    let slots: DispatchSemaphore
    let cancelled = Atomic<Bool>(false)

    init(continuation: AsyncStream<NATSMessage>.Continuation, bufferLimit: Int) {
        self.continuation = continuation
        self.slots = DispatchSemaphore(value: bufferLimit)
    }
}

/// A core NATS subscription, consumed as an `AsyncSequence` of ``NATSMessage``.
///
/// Each `natsMsg` is copied and destroyed inside libnats' callback, so nothing C-owned escapes.
/// Buffering is bounded: at most `bufferLimit` messages wait in Swift; beyond that libnats holds
/// them in its pending queue (and the server applies its slow-consumer rules).
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
        let (stream, continuation) = AsyncStream<NATSMessage>.makeStream(bufferingPolicy: .unbounded)
        self.stream = stream
        let box = NATSSubscriptionBox(continuation: continuation, bufferLimit: bufferLimit)
        self.box = box
        let closure = Unmanaged.passRetained(box).toOpaque()
        let handler: natsMsgHandler = { _, _, msg, closure in
            guard let msg else { return }
            defer { natsMsg_Destroy(msg) }
            guard let closure else { return }
            let box = Unmanaged<NATSSubscriptionBox>.fromOpaque(closure).takeUnretainedValue()
            let message = NATSMessage(copying: msg)
            guard !box.cancelled.load(ordering: .relaxed) else { return }
            box.slots.wait()
            box.continuation.yield(message)
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


    /// Unsubscribes; the sequence ends once buffered messages are consumed.
    public func cancel() {
        let already = cancelled.withLock { c in
            defer { c = true }
            return c
        }
        guard !already else { return }
        box.cancelled.store(true, ordering: .relaxed)
        // Release a delivery thread waiting for a free slot.
        box.slots.signal()
        _ = natsSubscription_Unsubscribe(sub)
        natsSubscription_Destroy(sub)
        box.continuation.finish()
        onCancel?()
    }

    public func makeAsyncIterator() -> Iterator { Iterator(base: stream.makeAsyncIterator(), slots: box.slots) }

    /// Frees a buffer place for each message taken.
    public struct Iterator: AsyncIteratorProtocol {
        var base: AsyncStream<NATSMessage>.AsyncIterator
        let slots: DispatchSemaphore

        public mutating func next() async -> NATSMessage? {
            let message = await base.next()
            if message != nil { slots.signal() }
            return message
        }
    }
}
