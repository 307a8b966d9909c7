import Foundation

extension UnifiedLogEntry {
    /// The entry's JSON exactly as `CloudEvent.encoder()` writes it (sorted keys, slashes as they
    /// are, RFC 3339 with milliseconds), written straight into bytes.
    ///
    /// log-streamer writes one per entry it takes, at tens of thousands a second, where going
    /// through `Encoder` cost more than everything else it does with an entry. Entries with
    /// `attributes` or `resource` (free-form values, whose key order and number spelling are the
    /// encoder's business) go through the encoder.
    public func canonicalJSON() throws -> [UInt8] {
        guard attributes == nil && resource == nil else { return Array(try CloudEvent.encoder().encode(self)) }
        var out: [UInt8] = []
        out.reserveCapacity(320 + message.utf8.count)
        out.appendRaw(#"{"@context":""#)
        out.appendRaw(Self.jsonLDContext)
        out.appendRaw(#"","@type":""#)
        out.appendRaw(Self.jsonLDType)
        out.appendRaw("\"")
        if let metadata = flukedeployMetadata {
            out.appendRaw(#","flukedeploy_metadata":{"app_name":"#)
            out.appendJSONString(metadata.appName)
            if let id = metadata.deploymentID { out.appendMember("deployment_id", id.lowercased) }
            if let duration = metadata.durationMS {
                out.appendRaw(#","duration_ms":"#)
                out.appendRaw(String(duration))
            }
            if let kind = metadata.eventType { out.appendMember("event_type", kind.rawValue) }
            if let phase = metadata.phase { out.appendMember("phase", phase) }
            if let version = metadata.version { out.appendMember("version", version) }
            out.append(UInt8(ascii: "}"))
        }
        out.appendMember("id", id)
        out.appendMember("level", level.rawValue)
        out.appendMember("message", message)
        out.appendRaw(#","source":{"component":"#)
        out.appendJSONString(source.component)
        if let instance = source.instance { out.appendMember("instance", instance) }
        if let project = source.projectID { out.appendMember("project_id", project.lowercased) }
        out.appendMember("service", source.service)
        if let stream = source.stream { out.appendMember("stream", stream) }
        if let tenant = source.tenantID { out.appendMember("tenant_id", tenant.lowercased) }
        out.append(UInt8(ascii: "}"))
        if let spanID { out.appendMember("span_id", spanID) }
        out.appendRaw(#","timestamp":""#)
        RFC3339.append(timestamp, to: &out)
        out.append(UInt8(ascii: "\""))
        if let traceID { out.appendMember("trace_id", traceID) }
        out.append(UInt8(ascii: "}"))
        return out
    }
}

extension [UInt8] {
    fileprivate mutating func appendRaw(_ text: String) { append(contentsOf: text.utf8) }

    /// `,"key":"value"`.
    fileprivate mutating func appendMember(_ key: StaticString, _ value: String) {
        append(UInt8(ascii: ","))
        append(UInt8(ascii: "\""))
        key.withUTF8Buffer { append(contentsOf: $0) }
        append(UInt8(ascii: "\""))
        append(UInt8(ascii: ":"))
        appendJSONString(value)
    }

    /// A JSON string as `JSONEncoder` escapes it (with `.withoutEscapingSlashes`): `"` and `\`,
    /// the short escapes, other C0 controls as `\u00xx`; everything else as it is.
    mutating func appendJSONString(_ value: String) {
        append(UInt8(ascii: "\""))
        var value = value
        // Runs of bytes that need no escape are copied whole: most text has none.
        value.withUTF8 { bytes in
            var start = 0
            for (index, byte) in bytes.enumerated()
            where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<index]))
                appendEscaped(byte)
                start = index + 1
            }
            append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start...]))
        }
        append(UInt8(ascii: "\""))
    }

    private mutating func appendEscaped(_ byte: UInt8) {
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"): append(UInt8(ascii: "\\")); append(byte)
        case 0x08: append(UInt8(ascii: "\\")); append(UInt8(ascii: "b"))
        case 0x0C: append(UInt8(ascii: "\\")); append(UInt8(ascii: "f"))
        case 0x0A: append(UInt8(ascii: "\\")); append(UInt8(ascii: "n"))
        case 0x0D: append(UInt8(ascii: "\\")); append(UInt8(ascii: "r"))
        case 0x09: append(UInt8(ascii: "\\")); append(UInt8(ascii: "t"))
        default:
            let hex: StaticString = "0123456789abcdef"
            hex.withUTF8Buffer { digits in
                append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"),
                                    digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]])
            }
        }
    }
}
