import CNats
import FlukeModels
import Foundation
import Logging
import Synchronization

/// What a stream keeps, for ``NATSClient/ensureStream(_:)``.
public struct JetStreamStreamConfig: Sendable {
    public var name: String
    public var subjects: [String]
    public var maxAge: Duration
    /// The window in which a repeated `Nats-Msg-Id` is recognised and dropped.
    public var duplicateWindow: Duration
    public var fileStorage: Bool
    /// The most the stream stores; the oldest messages go first beyond it. `-1`: no limit.
    public var maxBytes: Int64

    public init(name: String, subjects: [String], maxAge: Duration, duplicateWindow: Duration = .seconds(120),
                fileStorage: Bool = true, maxBytes: Int64 = -1) {
        self.maxBytes = maxBytes
        self.name = name
        self.subjects = subjects
        self.maxAge = maxAge
        self.duplicateWindow = duplicateWindow
        self.fileStorage = fileStorage
    }
}

/// The server's acknowledgement of a JetStream publish.
public struct JetStreamPubAck: Sendable {
    public var stream: String
    public var sequence: UInt64
    /// True when the server had already stored a message with this `Nats-Msg-Id`.
    public var duplicate: Bool
}

extension NATSClient {
    /// Creates the stream, or updates it to `config` when it exists: safe for every replica of
    /// every service to call at startup.
    public func ensureStream(_ config: JetStreamStreamConfig) async throws {
        let connection = self.connection
        try await threadPool.runIfActive {
            let name = strdup(config.name)!
            let subjects = config.subjects.map { UnsafePointer(strdup($0)) }
            defer {
                free(name)
                subjects.forEach { free(UnsafeMutableRawPointer(mutating: $0)) }
            }
            var cfg = jsStreamConfig()
            jsStreamConfig_Init(&cfg)
            cfg.Name = UnsafePointer(name)
            cfg.Storage = config.fileStorage ? js_FileStorage : js_MemoryStorage
            cfg.MaxAge = config.maxAge.nanosecondsValue
            cfg.MaxBytes = config.maxBytes
            cfg.Duplicates = config.duplicateWindow.nanosecondsValue
            var subjectArray = subjects
            try subjectArray.withUnsafeMutableBufferPointer { buffer in
                cfg.Subjects = buffer.baseAddress
                cfg.SubjectsLen = Int32(buffer.count)
                var info: UnsafeMutablePointer<jsStreamInfo>?
                var code = jsErrCode(0)
                var status = js_AddStream(&info, connection.js, &cfg, nil, &code)
                if status != NATS_OK && code == JSStreamNameExistErr {
                    code = jsErrCode(0)
                    status = js_UpdateStream(&info, connection.js, &cfg, nil, &code)
                }
                if let info { jsStreamInfo_Destroy(info) }
                try natsCheck(status, "creating stream \(config.name)", jsCode: code)
            }
        }
    }

    /// Publishes to JetStream and waits for the server to store it. `messageID` becomes
    /// `Nats-Msg-Id`: a retry within the stream's duplicate window is stored once.
    @discardableResult
    public func jetStreamPublish(_ subject: String, payload: Data, messageID: String? = nil,
                                 headers: [String: String] = [:], timeout: Duration = .seconds(5))
        async throws -> JetStreamPubAck {
        let message = NATSMessage(subject: subject, headers: headers, payload: payload)
        let connection = self.connection
        return try await threadPool.runIfActive {
            let msg = try message.makeNatsMsg()
            defer { natsMsg_Destroy(msg) }
            var options = jsPubOptions()
            jsPubOptions_Init(&options)
            options.MaxWait = timeout.wholeMilliseconds
            let id = messageID.map { strdup($0)! }
            defer { free(id) }
            options.MsgId = UnsafePointer(id)
            var ack: UnsafeMutablePointer<jsPubAck>?
            var code = jsErrCode(0)
            let status = js_PublishMsg(&ack, connection.js, msg, &options, &code)
            defer { if let ack { jsPubAck_Destroy(ack) } }
            try natsCheck(status, "publishing to JetStream on \(subject)", jsCode: code)
            guard let ack else { throw NATSError(status: NATS_ERR.rawValue, message: "no publish ack") }
            return JetStreamPubAck(stream: String(cString: ack.pointee.Stream), sequence: ack.pointee.Sequence,
                                   duplicate: ack.pointee.Duplicate)
        }
    }

    /// A durable pull consumer on `stream`, created if missing.
    public func pullConsumer(stream: String, durable: String, filterSubject: String,
                             ackWait: Duration = .seconds(30), maxDeliver: Int = -1,
                             maxAckPending: Int = 10_000) -> JetStreamPullConsumer {
        JetStreamPullConsumer(client: self, stream: stream, durable: durable, filterSubject: filterSubject,
                              ackWait: ackWait, maxDeliver: maxDeliver, maxAckPending: maxAckPending)
    }
}

/// A message fetched from a pull consumer. Owns its `natsMsg` until it is deinitialised; ack it
/// (or nak/term it) exactly once.
public final class JetStreamMessage: @unchecked Sendable {
    private let msg: OpaquePointer
    private let client: NATSClient
    public let message: NATSMessage
    /// 1 on first delivery, higher on redeliveries.
    public let deliveryCount: Int
    /// The message's sequence number in its stream.
    public let streamSequence: UInt64

    init(msg: OpaquePointer, client: NATSClient) {
        self.msg = msg
        self.client = client
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
    private let state = Mutex<(sub: SubscriptionPointer?, generation: Int)>((nil, -1))

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

    deinit {
        state.withLock { s in
            if let sub = s.sub { natsSubscription_Destroy(sub.pointer) }
            s.sub = nil
        }
    }

    /// Waits up to `timeout` for up to `batch` messages; an empty array when none came.
    public func fetch(batch: Int, timeout: Duration = .seconds(1)) async throws -> [JetStreamMessage] {
        let client = self.client
        return try await client.threadPool.runIfActive { [self] in
            let sub = try self.subscription().pointer
            var list = natsMsgList()
            var code = jsErrCode(0)
            let status = natsSubscription_Fetch(&list, sub, Int32(batch), timeout.wholeMilliseconds, &code)
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
                messages.append(JetStreamMessage(msg: msg, client: client))
            }
            return messages
        }
    }

    private func invalidate() {
        state.withLock { s in
            if let sub = s.sub { natsSubscription_Destroy(sub.pointer) }
            s.sub = nil
        }
    }

    /// The current subscription, re-created after a reconnect. Runs on the thread pool.
    private func subscription() throws -> SubscriptionPointer {
        let generation = client.generation
        return try state.withLock { s -> SubscriptionPointer in
            if let sub = s.sub, s.generation == generation { return sub }
            if let sub = s.sub { natsSubscription_Destroy(sub.pointer) }
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
            s.sub = SubscriptionPointer(pointer: sub)
            s.generation = generation
            return SubscriptionPointer(pointer: sub)
        }
    }
}

/// A `natsSubscription *` that moves between the pool's threads; libnats subscriptions are
/// thread-safe, and ``JetStreamPullConsumer`` serialises their creation and destruction.
struct SubscriptionPointer: @unchecked Sendable {
    let pointer: OpaquePointer
}
