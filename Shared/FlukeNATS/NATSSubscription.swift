import CNats
import Dispatch
import Foundation
import Synchronization

/// What libnats' callback calls for each message, reached through the `void *closure`.
/// Retained until libnats reports (on-complete callback) that no callback will run again.
final class NATSDeliveryBox: Sendable {
    /// Runs on libnats' delivery thread with a message the box does not own.
    let deliver: @Sendable (OpaquePointer) -> Void
    let finish: @Sendable () -> Void

    init(deliver: @escaping @Sendable (OpaquePointer) -> Void, finish: @escaping @Sendable () -> Void) {
        self.deliver = deliver
        self.finish = finish
    }
}

/// Owns one `natsSubscription *`: subscribes, unsubscribes, and releases the delivery box only
/// when libnats says its callback will not run again.
final class NATSSubscriptionCore: @unchecked Sendable {
    private let sub: OpaquePointer
    private let box: NATSDeliveryBox
    private let cancelled = Mutex(false)
    var onCancel: (@Sendable () -> Void)?

    convenience init(nc: OpaquePointer, subject: String, queue: String?, box: NATSDeliveryBox) throws {
        try self.init(box: box, what: "subscribing to \(subject)") { sub, handler, closure, _ in
            queue.map { natsConnection_QueueSubscribe(&sub, nc, subject, $0, handler, closure) }
                ?? natsConnection_Subscribe(&sub, nc, subject, handler, closure)
        }
    }

    /// Subscribes through `subscribe` (core or JetStream), which is given the message handler and
    /// the closure libnats passes back to it.
    init(box: NATSDeliveryBox, what: @autoclosure () -> String,
         subscribe: (inout OpaquePointer?, natsMsgHandler, UnsafeMutableRawPointer, inout jsErrCode) -> natsStatus) throws {
        self.box = box
        let closure = Unmanaged.passRetained(box).toOpaque()
        let handler: natsMsgHandler = { _, _, msg, closure in
            guard let msg else { return }
            // Every message is destroyed here, whatever the delivery does with it.
            defer { natsMsg_Destroy(msg) }
            guard let closure else { return }
            Unmanaged<NATSDeliveryBox>.fromOpaque(closure).takeUnretainedValue().deliver(msg)
        }
        var sub: OpaquePointer?
        var code = jsErrCode(0)
        let status = subscribe(&sub, handler, closure, &code)
        guard status == NATS_OK, let sub else {
            Unmanaged<NATSDeliveryBox>.fromOpaque(closure).release()
            try natsCheck(status, what(), jsCode: code)
            throw NATSError(status: NATS_ERR.rawValue, message: what())
        }
        self.sub = sub
        // libnats' own pending queue is the first buffer; keep it generous so bursts are absorbed.
        _ = natsSubscription_SetPendingLimits(sub, 1_000_000, 1024 * 1024 * 1024)
        _ = natsSubscription_SetOnCompleteCB(sub, { closure in
            guard let closure else { return }
            Unmanaged<NATSDeliveryBox>.fromOpaque(closure).takeRetainedValue().finish()
        }, closure)
    }

    deinit { cancel() }

    /// Unsubscribes. Idempotent.
    func cancel(beforeUnsubscribe: () -> Void = {}) {
        let already = cancelled.withLock { c in
            defer { c = true }
            return c
        }
        guard !already else { return }
        beforeUnsubscribe()
        _ = natsSubscription_Unsubscribe(sub)
        natsSubscription_Destroy(sub)
        box.finish()
        onCancel?()
    }
}

/// A core NATS subscription, consumed as an `AsyncSequence` of ``NATSMessage``.
///
/// Each `natsMsg` is copied and destroyed inside libnats' callback, so nothing C-owned escapes.
/// Buffering is bounded: at most `bufferLimit` messages wait in Swift; beyond that libnats'
/// delivery thread (its own, not Swift's) waits for room, so messages back up in libnats' pending
/// queue instead of being dropped.
public final class NATSSubscription: AsyncSequence, Sendable {
    public typealias Element = NATSMessage
    private let stream: AsyncStream<NATSMessage>
    private let slots: DispatchSemaphore
    private let stopped: StopFlag
    let core: NATSSubscriptionCore
    public let subject: String

    init(nc: OpaquePointer, subject: String, queue: String?, bufferLimit: Int) throws {
        self.subject = subject
        let (stream, continuation) = AsyncStream<NATSMessage>.makeStream(bufferingPolicy: .unbounded)
        let slots = DispatchSemaphore(value: bufferLimit)
        let stopped = StopFlag()
        self.stream = stream
        self.slots = slots
        self.stopped = stopped
        core = try NATSSubscriptionCore(nc: nc, subject: subject, queue: queue, box: NATSDeliveryBox(
            deliver: { msg in
                let message = NATSMessage(copying: msg)
                guard !stopped.isSet else { return }
                slots.wait()
                continuation.yield(message)
            },
            finish: { continuation.finish() }))
    }

    /// Unsubscribes; the sequence ends once buffered messages are consumed.
    public func cancel() {
        core.cancel { [slots, stopped] in
            stopped.set()
            // Release a delivery thread waiting for room.
            slots.signal()
        }
    }

    public func makeAsyncIterator() -> Iterator { Iterator(base: stream.makeAsyncIterator(), slots: slots) }

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

/// A message lent to a handler: subject and payload point into libnats' buffer and are valid
/// only during the call.
public struct NATSMessageView {
    public let subject: UnsafeBufferPointer<UInt8>
    public let payload: UnsafeRawBufferPointer
    let replyPointer: UnsafePointer<CChar>?

    init(subject: UnsafeBufferPointer<UInt8>, payload: UnsafeRawBufferPointer, replyPointer: UnsafePointer<CChar>?) {
        self.subject = subject
        self.payload = payload
        self.replyPointer = replyPointer
    }

    /// Views `msg`'s subject and payload in place.
    init(_ msg: OpaquePointer) {
        let subject = natsMsg_GetSubject(msg)!
        self.init(subject: UnsafeBufferPointer(start: UnsafeRawPointer(subject).assumingMemoryBound(to: UInt8.self),
                                               count: strlen(subject)),
                  payload: UnsafeRawBufferPointer(start: natsMsg_GetData(msg).map { UnsafeRawPointer($0) },
                                                  count: Int(natsMsg_GetDataLength(msg))),
                  replyPointer: natsMsg_GetReply(msg))
    }

    /// The reply subject of a request, copied out.
    public var reply: String? { replyPointer.map { String(cString: $0) } }
}

/// A subscription whose handler runs on libnats' delivery thread, for CPU-only work at high
/// rates (no copy, no hop). The handler must neither block nor wait for Swift concurrency.
public final class NATSHandlerSubscription: Sendable {
    let core: NATSSubscriptionCore
    private let done: AsyncStream<Void>

    convenience init(nc: OpaquePointer, subject: String, queue: String?,
                     handler: @escaping @Sendable (NATSMessageView) -> Void) throws {
        try self.init(deliver: { msg in handler(NATSMessageView(msg)) }) { box in
            try NATSSubscriptionCore(nc: nc, subject: subject, queue: queue, box: box)
        }
    }

    init(deliver: @escaping @Sendable (OpaquePointer) -> Void,
         core makeCore: (NATSDeliveryBox) throws -> NATSSubscriptionCore) throws {
        let (done, finished) = AsyncStream<Void>.makeStream()
        self.done = done
        core = try makeCore(NATSDeliveryBox(deliver: deliver, finish: { finished.finish() }))
    }

    public func cancel() { core.cancel() }

    /// Returns once the subscription has ended and its handler will not run again.
    public func finished() async {
        for await _ in done {}
    }
}

/// A one-way flag shared with libnats' delivery thread.
final class StopFlag: Sendable {
    private let value = Atomic<Bool>(false)
    var isSet: Bool { value.load(ordering: .relaxed) }
    func set() { value.store(true, ordering: .relaxed) }
}
