import CNats
import Foundation

/// A core NATS message, copied out of libnats (the `natsMsg` is destroyed at once).
public struct NATSMessage: Sendable {
    public var subject: String
    public var reply: String?
    public var headers: [String: String]
    public var payload: Data

    public init(subject: String, reply: String? = nil, headers: [String: String] = [:], payload: Data) {
        self.subject = subject
        self.reply = reply
        self.headers = headers
        self.payload = payload
    }

    /// Copies a received `natsMsg` (which the caller still owns and must destroy).
    init(copying msg: OpaquePointer) {
        subject = String(cString: natsMsg_GetSubject(msg))
        reply = natsMsg_GetReply(msg).map { String(cString: $0) }
        let length = Int(natsMsg_GetDataLength(msg))
        if length > 0, let bytes = natsMsg_GetData(msg) {
            payload = Data(bytes: bytes, count: length)
        } else {
            payload = Data()
        }
        headers = Self.copyHeaders(msg)
    }

    static func copyHeaders(_ msg: OpaquePointer) -> [String: String] {
        var keys: UnsafeMutablePointer<UnsafePointer<CChar>?>?
        var count: Int32 = 0
        guard natsMsgHeader_Keys(msg, &keys, &count) == NATS_OK, let keys else { return [:] }
        defer { free(keys) }
        var headers: [String: String] = [:]
        for i in 0..<Int(count) {
            guard let key = keys[i] else { continue }
            var value: UnsafePointer<CChar>?
            if natsMsgHeader_Get(msg, key, &value) == NATS_OK, let value {
                headers[String(cString: key)] = String(cString: value)
            }
        }
        return headers
    }

    /// Builds a `natsMsg` for publishing; the caller destroys it.
    func makeNatsMsg() throws -> OpaquePointer {
        var msg: OpaquePointer?
        let status = payload.withUnsafeBytes { raw in
            natsMsg_Create(&msg, subject, reply, raw.baseAddress?.assumingMemoryBound(to: CChar.self),
                           Int32(raw.count))
        }
        try natsCheck(status, "creating message on \(subject)")
        guard let msg else { throw NATSError(status: NATS_NO_MEMORY.rawValue, message: "natsMsg_Create") }
        for (key, value) in headers {
            let s = natsMsgHeader_Set(msg, key, value)
            if s != NATS_OK {
                natsMsg_Destroy(msg)
                try natsCheck(s, "setting header \(key)")
            }
        }
        return msg
    }
}
