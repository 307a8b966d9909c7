import CNats
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
        case flush(Duration, CheckedContinuation<Void, any Error>)
    }

    private let condition = NSCondition()
    private var queue: [Item] = []
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
    func enqueue(_ items: some Collection<Item>, force: Bool = false) -> EnqueueResult {
        condition.lock()
        if stopping {
            condition.unlock()
            for case .flush(_, let continuation) in items {
                continuation.resume(throwing: NATSError(status: NATS_CONNECTION_CLOSED.rawValue,
                                                        message: "the client is shut down"))
            }
            return .stopped
        }
        defer { condition.unlock() }
        guard force || queue.count + items.count <= capacity || queue.isEmpty else { return .full }
        let wasEmpty = queue.isEmpty
        queue.append(contentsOf: items)
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

    private func loop() {
        var batch: [Item] = []
        while true {
            condition.lock()
            while queue.isEmpty && !stopping { condition.wait() }
            if queue.isEmpty && stopping {
                condition.unlock()
                finished.signal()
                return
            }
            swap(&batch, &queue)
            condition.unlock()
            for item in batch {
                switch item {
                case .message(let message):
                    do {
                        try NATSClient.publishNow(connection.nc, message)
                    } catch {
                        failures.add(1, ordering: .relaxed)
                    }
                case .flush(let timeout, let continuation):
                    do {
                        try natsCheck(natsConnection_FlushTimeout(connection.nc, timeout.milliseconds), "flush")
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
