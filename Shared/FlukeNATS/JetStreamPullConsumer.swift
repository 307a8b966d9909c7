import CNats
import FlukeModels
import Foundation
import Logging
import NIOPosix
import Synchronization

/// A durable pull consumer that survives reconnects.
///
/// libnats 3.4.1 does not restore pull subscriptions after a reconnect, so every fetch checks the
/// connection's reconnect generation and, when it moved (or the last fetch failed), re-creates the
/// subscription, which binds again to the same durable consumer on the server.
public final class JetStreamPullConsumer: Sendable {
    let client: NATSClient
    public let stream: String
    public let durable: String
    public let filterSubject: String
    let ackWait: Duration
    let maxDeliver: Int
    let maxAckPending: Int
    private let state = Mutex<(sub: PullSubscription?, generation: Int)>((nil, -1))

    init(client: NATSClient, stream: String, durable: String, filterSubject: String, ackWait: Duration,
         maxDeliver: Int, maxAckPending: Int) {
        self.client = client
        self.stream = stream
        self.durable = durable
        self.filterSubject = filterSubject
        self.ackWait = ackWait
        self.maxDeliver = maxDeliver
        self.maxAckPending = maxAckPending
    }

    /// Waits up to `timeout` for up to `batch` messages; an empty array when none came.
    public func fetch(batch: Int, timeout: Duration = .seconds(1)) async throws -> [JetStreamMessage] {
        let client = self.client
        return try await client.threadPool.runIfActive { [self] in
            let sub = try self.subscription()
            var list = natsMsgList()
            var code = jsErrCode(0)
            let status = natsSubscription_Fetch(&list, sub.pointer, Int32(batch), timeout.wholeMilliseconds, &code)
            defer { natsMsgList_Destroy(&list) }
            if status == NATS_TIMEOUT { return [] }
            if status != NATS_OK {
                self.invalidate()
                try natsCheck(status, "fetching from \(self.stream)/\(self.durable)", jsCode: code)
            }
            var messages: [JetStreamMessage] = []
            messages.reserveCapacity(Int(list.Count))
            for i in 0..<Int(list.Count) {
                guard let msg = list.Msgs[i] else { continue }
                // Take ownership: natsMsgList_Destroy skips the NULLed slot.
                list.Msgs[i] = nil
                messages.append(JetStreamMessage(msg: msg, client: client, subscription: sub))
            }
            return messages
        }
    }

    /// Lets go of the subscription; messages fetched through it keep it alive until they are gone.
    private func invalidate() {
        state.withLock { $0.sub = nil }
    }

    /// The current subscription, re-created after a reconnect. Runs on the thread pool.
    private func subscription() throws -> PullSubscription {
        let generation = client.generation
        return try state.withLock { (s: inout (sub: PullSubscription?, generation: Int)) throws -> PullSubscription in
            if let sub = s.sub, s.generation == generation { return sub }
            s.sub = nil
            let cStream = strdup(stream)!, cDurable = strdup(durable)!, cFilter = strdup(filterSubject)!
            defer { free(cStream); free(cDurable); free(cFilter) }
            var options = jsSubOptions()
            jsSubOptions_Init(&options)
            options.Stream = UnsafePointer(cStream)
            options.Config.Durable = UnsafePointer(cDurable)
            options.Config.AckPolicy = js_AckExplicit
            options.Config.AckWait = ackWait.nanosecondsValue
            options.Config.MaxDeliver = Int64(maxDeliver)
            options.Config.MaxAckPending = Int64(maxAckPending)
            options.Config.DeliverPolicy = js_DeliverAll
            var sub: OpaquePointer?
            var code = jsErrCode(0)
            let status = js_PullSubscribe(&sub, client.connection.js, cFilter, cDurable, nil, &options, &code)
            try natsCheck(status, "pull subscription \(stream)/\(durable)", jsCode: code)
            guard let sub else { throw NATSError(status: NATS_ERR.rawValue, message: "pull subscription") }
            let handle = PullSubscription(pointer: sub, pool: client.threadPool)
            s.sub = handle
            s.generation = generation
            return handle
        }
    }
}

/// Owns a pull `natsSubscription *`, shared by the consumer and every message fetched through it.
///
/// libnats acknowledges a message through the subscription that fetched it, so the subscription
/// is destroyed only when the consumer has moved on to a new one (after a reconnect or a failed
/// fetch) and the last message fetched through the old one is gone. libnats subscriptions are
/// thread-safe.
final class PullSubscription: @unchecked Sendable {
    let pointer: OpaquePointer
    private let pool: NIOThreadPool

    init(pointer: OpaquePointer, pool: NIOThreadPool) {
        self.pointer = pointer
        self.pool = pool
    }

    deinit {
        // The last holder may be a Swift concurrency thread: destroy on the NATS pool (or here,
        // when the pool has already stopped and nothing else can use it).
        let pointer = UncheckedPointer(value: self.pointer)
        pool.submit { _ in natsSubscription_Destroy(pointer.value) }
    }
}

private struct UncheckedPointer: @unchecked Sendable {
    let value: OpaquePointer
}
