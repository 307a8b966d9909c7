import CNats
import Foundation

/// A message of an ordered consumer, lent to its handler: subject and payload point into
/// libnats' buffer and are valid only during the call.
public struct JetStreamDelivery {
    /// The message's sequence number in its stream.
    public let streamSequence: UInt64
    public let subject: UnsafeBufferPointer<UInt8>
    public let payload: UnsafeRawBufferPointer
}

/// What the server says of a durable consumer.
public struct JetStreamConsumerInfo: Sendable {
    /// Every stream message up to this sequence has been acknowledged (or terminated, or given
    /// up after its deliveries): a durable that acknowledges after storing has stored them all.
    public let ackFloorStreamSequence: UInt64
    /// Messages not yet delivered.
    public let pending: UInt64
    /// Delivered, not yet acknowledged.
    public let ackPending: Int64
}

extension NATSClient {
    /// An ordered consumer on `stream`: every message matching `filterSubject`, in stream order,
    /// without acknowledgements, from `startSequence` (or only new ones when nil). libnats
    /// re-creates the server's consumer itself on a gap or missed heartbeats; after a reconnect
    /// the caller re-creates the subscription from the sequence after the last one it saw
    /// (``generation`` tells), since libnats 3.4.1 does not promise to.
    ///
    /// The handler runs on libnats' delivery thread (see ``NATSHandlerSubscription``): CPU-only
    /// work, never blocking.
    public func orderedConsumer(stream: String, filterSubject: String, startSequence: UInt64?,
                                handler: @escaping @Sendable (JetStreamDelivery) -> Void) async throws
        -> NATSHandlerSubscription {
        let connection = self.connection
        let sub = try await threadPool.runIfActive {
            try NATSHandlerSubscription(deliver: { msg in
                var meta: UnsafeMutablePointer<jsMsgMetaData>?
                guard natsMsg_GetMetaData(&meta, msg) == NATS_OK, let meta else { return }
                let sequence = meta.pointee.Sequence.Stream
                jsMsgMetaData_Destroy(meta)
                let view = NATSMessageView(msg)
                handler(JetStreamDelivery(streamSequence: sequence, subject: view.subject, payload: view.payload))
            }) { box in
                try NATSSubscriptionCore(box: box, what: "ordered consumer on \(stream) (\(filterSubject))") { sub, handler, closure, code in
                    let cStream = strdup(stream)!
                    defer { free(cStream) }
                    var options = jsSubOptions()
                    jsSubOptions_Init(&options)
                    options.Stream = UnsafePointer(cStream)
                    options.Ordered = true
                    if let startSequence {
                        options.Config.DeliverPolicy = js_DeliverByStartSequence
                        options.Config.OptStartSeq = startSequence
                    } else {
                        options.Config.DeliverPolicy = js_DeliverNew
                    }
                    return js_Subscribe(&sub, connection.js, filterSubject, handler, closure, nil, &options, &code)
                }
            }
        }
        track(sub.core)
        return sub
    }

    /// The durable consumer `durable` of `stream`, as the server sees it now.
    public func consumerInfo(stream: String, durable: String) async throws -> JetStreamConsumerInfo {
        let connection = self.connection
        return try await threadPool.runIfActive {
            var info: UnsafeMutablePointer<jsConsumerInfo>?
            var code = jsErrCode(0)
            let status = js_GetConsumerInfo(&info, connection.js, stream, durable, nil, &code)
            defer { if let info { jsConsumerInfo_Destroy(info) } }
            try natsCheck(status, "reading consumer \(stream)/\(durable)", jsCode: code)
            guard let ci = info?.pointee else { throw NATSError(status: NATS_ERR.rawValue, message: "no consumer info") }
            return JetStreamConsumerInfo(ackFloorStreamSequence: ci.AckFloor.Stream, pending: ci.NumPending,
                                         ackPending: ci.NumAckPending)
        }
    }
}
