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
    /// Copies of each message, each on its own server of a JetStream cluster (`num_replicas`):
    /// 1 on a single server; 3 keeps the stream writable and complete while one of three is lost.
    public var replicas: Int

    public init(name: String, subjects: [String], maxAge: Duration, duplicateWindow: Duration = .seconds(120),
                fileStorage: Bool = true, maxBytes: Int64 = -1, replicas: Int = 1) {
        self.maxBytes = maxBytes
        self.replicas = replicas
        self.name = name
        self.subjects = subjects
        self.maxAge = maxAge
        self.duplicateWindow = duplicateWindow
        self.fileStorage = fileStorage
    }
}

/// What the server says about a stream (``NATSClient/streamInfo(_:)``).
public struct JetStreamStreamInfo: Sendable {
    public var name: String
    /// The configured copies (`num_replicas`).
    public var replicas: Int
    /// Messages stored now, and the first and last sequence.
    public var messages: UInt64
    public var firstSequence: UInt64
    public var lastSequence: UInt64
    /// In a cluster: the server that leads the stream, and the other servers holding a copy with
    /// whether each is current. Empty on a single server.
    public var leader: String?
    public var followers: [(name: String, current: Bool)]
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
    ///
    /// Replicas only ever go up here: a stream that has fewer copies than `config.replicas` is
    /// updated to that many (nats-server copies the messages to the new peers while the stream
    /// keeps serving, and refuses, changing nothing, when the cluster has too few servers); one
    /// that has more keeps them, so that a client with a lower setting (a default, a stale
    /// replica during a rollout) never takes copies away. Lowering is an operator's decision
    /// (`nats stream edit --replicas`).
    public func ensureStream(_ config: JetStreamStreamConfig) async throws {
        let connection = self.connection
        let logger = self.logger
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
            cfg.Replicas = Int64(config.replicas)
            var subjectArray = subjects
            try subjectArray.withUnsafeMutableBufferPointer { buffer in
                cfg.Subjects = buffer.baseAddress
                cfg.SubjectsLen = Int32(buffer.count)
                // Twice at most: a stream created by another process between our look and our
                // create is then updated instead.
                for attempt in 0..<2 {
                    var code = jsErrCode(0)
                    var existing: UnsafeMutablePointer<jsStreamInfo>?
                    let lookup = js_GetStreamInfo(&existing, connection.js, name, nil, &code)
                    defer { if let existing { jsStreamInfo_Destroy(existing) } }
                    var info: UnsafeMutablePointer<jsStreamInfo>?
                    defer { if let info { jsStreamInfo_Destroy(info) } }
                    if lookup == NATS_NOT_FOUND || code == JSStreamNotFoundErr {
                        code = jsErrCode(0)
                        let status = js_AddStream(&info, connection.js, &cfg, nil, &code)
                        if status != NATS_OK && code == JSStreamNameExistErr && attempt == 0 { continue }
                        try natsCheck(status, "creating stream \(config.name) with \(config.replicas) replica(s)",
                                      jsCode: code)
                        return
                    }
                    try natsCheck(lookup, "reading stream \(config.name)", jsCode: code)
                    let current = Int(existing?.pointee.Config?.pointee.Replicas ?? 1)
                    cfg.Replicas = Int64(max(current, config.replicas))
                    if current > config.replicas {
                        logger.notice("stream keeps its replicas", metadata: [
                            "stream": "\(config.name)", "replicas": "\(current)", "configured": "\(config.replicas)"])
                    } else if current < config.replicas {
                        logger.notice("scaling stream up", metadata: [
                            "stream": "\(config.name)", "from": "\(current)", "to": "\(config.replicas)"])
                    }
                    code = jsErrCode(0)
                    let status = js_UpdateStream(&info, connection.js, &cfg, nil, &code)
                    try natsCheck(status, "updating stream \(config.name) to \(cfg.Replicas) replica(s)", jsCode: code)
                    return
                }
            }
        }
    }

    /// The stream's replicas, contents and (in a cluster) its leader and followers.
    public func streamInfo(_ name: String) async throws -> JetStreamStreamInfo {
        let connection = self.connection
        return try await threadPool.runIfActive {
            var info: UnsafeMutablePointer<jsStreamInfo>?
            var code = jsErrCode(0)
            let status = js_GetStreamInfo(&info, connection.js, name, nil, &code)
            defer { if let info { jsStreamInfo_Destroy(info) } }
            try natsCheck(status, "reading stream \(name)", jsCode: code)
            guard let si = info?.pointee else { throw NATSError(status: NATS_ERR.rawValue, message: "no stream info") }
            var leader: String?
            var followers: [(name: String, current: Bool)] = []
            if let cluster = si.Cluster?.pointee {
                leader = cluster.Leader.map { String(cString: $0) }
                for i in 0..<Int(cluster.ReplicasLen) {
                    guard let peer = cluster.Replicas?[i]?.pointee else { continue }
                    followers.append((name: peer.Name.map { String(cString: $0) } ?? "", current: peer.Current))
                }
            }
            return JetStreamStreamInfo(name: name, replicas: Int(si.Config?.pointee.Replicas ?? 1),
                                       messages: si.State.Msgs, firstSequence: si.State.FirstSeq,
                                       lastSequence: si.State.LastSeq, leader: leader, followers: followers)
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
