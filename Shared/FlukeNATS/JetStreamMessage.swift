import CNats
import Foundation

/// A message fetched from a pull consumer. Owns its `natsMsg` until it is deinitialised; ack it
/// (or nak/term it) exactly once.
public final class JetStreamMessage: @unchecked Sendable {
    private let msg: OpaquePointer
    private let client: NATSClient
    /// Kept alive for the acknowledgement, which libnats sends through it.
    private let subscription: PullSubscription
    public let message: NATSMessage
    /// 1 on first delivery, higher on redeliveries.
    public let deliveryCount: Int
    /// The message's sequence number in its stream.
    public let streamSequence: UInt64

    init(msg: OpaquePointer, client: NATSClient, subscription: PullSubscription) {
        self.msg = msg
        self.client = client
        self.subscription = subscription
        self.message = NATSMessage(copying: msg)
        var meta: UnsafeMutablePointer<jsMsgMetaData>?
        if natsMsg_GetMetaData(&meta, msg) == NATS_OK, let meta {
            deliveryCount = Int(meta.pointee.NumDelivered)
            streamSequence = meta.pointee.Sequence.Stream
            jsMsgMetaData_Destroy(meta)
        } else {
            deliveryCount = 1
            streamSequence = 0
        }
    }

    deinit { natsMsg_Destroy(msg) }

    /// Done: the server will not deliver it again. The acknowledgement is sent without waiting
    /// for the server unless `confirmed` is true; an unconfirmed one lost to a server restart
    /// means one redelivery, which consumers tolerate by being idempotent.
    public func ack(confirmed: Bool = false) async throws {
        try await client.threadPool.runIfActive {
            if confirmed {
                var code = jsErrCode(0)
                try natsCheck(natsMsg_AckSync(self.msg, nil, &code), "ack", jsCode: code)
            } else {
                try natsCheck(natsMsg_Ack(self.msg, nil), "ack")
            }
        }
    }

    /// Acknowledges `messages` (all fetched through one client) in one trip to the thread pool,
    /// without waiting for the server; throws the first failure after trying every one.
    public static func ack(_ messages: [JetStreamMessage]) async throws {
        guard let client = messages.first?.client else { return }
        try await client.threadPool.runIfActive {
            var failure: (any Error)?
            for message in messages {
                do { try natsCheck(natsMsg_Ack(message.msg, nil), "ack") } catch { failure = failure ?? error }
            }
            if let failure { throw failure }
        }
    }

    /// Not now: redeliver after `delay`.
    public func nak(delay: Duration = .zero) async throws {
        try await client.threadPool.runIfActive {
            let msg = self.msg
            try natsCheck(delay == .zero ? natsMsg_Nak(msg, nil) : natsMsg_NakWithDelay(msg, delay.wholeMilliseconds, nil),
                          "nak")
        }
    }

    /// Never: the server drops it for this consumer (a poison message).
    public func term() async throws {
        try await client.threadPool.runIfActive { try natsCheck(natsMsg_Term(self.msg, nil), "term") }
    }
}
