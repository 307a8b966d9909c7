import CNats
import FlukeModels
import Foundation
import Synchronization

/// Hands core-NATS publishes to libnats from one dedicated thread.
///
/// `publish` only appends to a queue under a lock, so Swift concurrency's threads never enter
/// libnats; the publisher thread drains the queue in batches, which keeps throughput close to
/// bare libnats (a thread-pool hop per message would cost tens of microseconds each).
/// Order is preserved: messages leave in the order they were queued, and a flush completes only
/// after everything queued before it was handed to libnats and acknowledged by the server.
final class NATSPublisher: @unchecked Sendable {
    enum Item {
        case message(NATSMessage)
        /// Messages queued together travel as one item: one append, one retain.
        case messages([NATSMessage])
        case flush(Duration, CheckedContinuation<Void, any Error>)
    }

    private let condition = NSCondition()
    private var queue: [Item] = []
    private var queuedMessages = 0
    /// Items queued and not yet taken: read without the lock by the publisher thread's short spin.
    private let queued = Atomic<Int>(0)
    private var stopping = false
    private let finished = DispatchSemaphore(value: 0)
    private let connection: NATSConnection
    /// Upper bound on queued messages; publishers wait (asynchronously) beyond it.
    let capacity: Int
    let failures = Atomic<Int>(0)

    init(connection: NATSConnection, capacity: Int = 100_000) {
        self.connection = connection
        self.capacity = capacity
        let thread = Thread { [self] in self.loop() }
        thread.name = "nats-publisher"
        thread.start()
    }

    enum EnqueueResult { case queued, full, stopped }

    /// Queues items; `.full` asks the caller to wait and retry, `.stopped` that the client is
    /// shut down (a flush queued then is failed at once).
    func enqueue(_ item: Item) -> EnqueueResult {
        condition.lock()
        if stopping {
            condition.unlock()
            if case .flush(_, let continuation) = item {
                continuation.resume(throwing: NATSError(status: NATS_CONNECTION_CLOSED.rawValue,
                                                        message: "the client is shut down"))
            }
            return .stopped
        }
        defer { condition.unlock() }
        var count = 0
        switch item {
        case .message: count = 1
        case .messages(let messages): count = messages.count
        case .flush: break
        }
        guard count == 0 || queuedMessages + count <= capacity || queuedMessages == 0 else { return .full }
        let wasEmpty = queue.isEmpty
        queue.append(item)
        queuedMessages += count
        queued.add(1, ordering: .relaxed)
        if wasEmpty { condition.signal() }
        return .queued
    }

    /// Stops the thread after it has drained the queue. Blocks: call from the thread pool.
    func stop() {
        condition.lock()
        stopping = true
        condition.signal()
        condition.unlock()
        finished.wait()
    }

    /// Bursts usually repeat a subject: its C string is made once per run of equal subjects.
    /// Messages are read in place (no copy, no retain per message).
    private func publish(_ messages: some Collection<NATSMessage>) {
        let nc = connection.nc
        var subject = ""
        var cSubject = ContiguousArray<CChar>([0])
        let published: ()? = messages.withContiguousStorageIfAvailable { buffer in
            for i in buffer.indices {
                guard buffer[i].headers.isEmpty, buffer[i].reply == nil else {
                    do { try NATSClient.publishWithHeaders(nc, buffer[i]) } catch { failures.add(1, ordering: .relaxed) }
                    continue
                }
                if buffer[i].subject != subject {
                    subject = buffer[i].subject
                    cSubject = subject.utf8CString
                }
                let status = cSubject.withUnsafeBufferPointer { subject in
                    buffer[i].payload.withUnsafeBytes { payload in
                        natsConnection_Publish(nc, subject.baseAddress, payload.baseAddress, Int32(payload.count))
                    }
                }
                if status != NATS_OK { failures.add(1, ordering: .relaxed) }
            }
        }
        if published == nil { publish(Array(messages)) }
    }

    private func loop() {
        var batch: [Item] = []
        while true {
            // A producer publishing one message at a time refills the queue within microseconds:
            // yielding briefly first spares it a thread wake-up per message.
            var spins = 0
            while spins < 64 && queued.load(ordering: .relaxed) == 0 {
                sched_yield()
                spins += 1
            }
            condition.lock()
            while queue.isEmpty && !stopping { condition.wait() }
            if queue.isEmpty && stopping {
                condition.unlock()
                finished.signal()
                return
            }
            swap(&batch, &queue)
            queuedMessages = 0
            queued.store(0, ordering: .relaxed)
            condition.unlock()
            for item in batch {
                switch item {
                case .message(let message):
                    publish(CollectionOfOne(message))
                case .messages(let messages):
                    publish(messages)
                case .flush(let timeout, let continuation):
                    do {
                        try natsCheck(natsConnection_FlushTimeout(connection.nc, timeout.wholeMilliseconds), "flush")
                        continuation.resume()
                    } catch {
                        continuation.resume(throwing: error)
                    }
                }
            }
            batch.removeAll(keepingCapacity: true)
        }
    }
}
