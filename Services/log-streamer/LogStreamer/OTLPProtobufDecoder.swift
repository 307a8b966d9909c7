import Foundation

/// Reads `ExportLogsServiceRequest` in the protobuf encoding (opentelemetry-proto, logs v1):
/// only the fields the mapping uses; unknown fields are skipped by wire type, every length is
/// checked against the buffer and nesting is bounded, so hostile input fails cleanly.
struct OTLPProtobufDecoder {
    /// Deeper `AnyValue` nesting than this is refused (a stack cannot be exhausted).
    static let maxDepth = 32

    static func decode(_ bytes: [UInt8]) throws -> [OTLPLogRecord] {
        var records: [OTLPLogRecord] = []
        var reader = ProtobufWireReader(bytes[...], path: "")
        var resourceIndex = 0
        while let field = try reader.next() {
            guard field.number == 1 else { try reader.skip(field); continue }
            var resource = try reader.message(field, path: "resourceLogs[\(resourceIndex)]")
            try decodeResourceLogs(&resource, into: &records)
            resourceIndex += 1
        }
        return records
    }

    private static func decodeResourceLogs(_ reader: inout ProtobufWireReader, into records: inout [OTLPLogRecord]) throws {
        var attributes: [OTLPAttribute] = []
        var scopes: [(ArraySlice<UInt8>, String)] = []
        let base = reader.path
        while let field = try reader.next() {
            switch field.number {
            case 1:
                var resource = try reader.message(field, path: base + ".resource")
                while let inner = try resource.next() {
                    if inner.number == 1 {
                        var pair = try resource.message(inner, path: resource.path + ".attributes[\(attributes.count)]")
                        attributes.append(try keyValue(&pair, depth: 0))
                    } else {
                        try resource.skip(inner)
                    }
                }
            case 2:
                // Scopes are read after the whole message: protobuf allows the resource to come last.
                scopes.append((try reader.bytes(field), base + ".scopeLogs[\(scopes.count)]"))
            default:
                try reader.skip(field)
            }
        }
        for (bytes, path) in scopes {
            var scope = ProtobufWireReader(bytes, path: path)
            try decodeScopeLogs(&scope, resource: attributes, into: &records)
        }
    }

    private static func decodeScopeLogs(_ reader: inout ProtobufWireReader, resource: [OTLPAttribute],
                                        into records: inout [OTLPLogRecord]) throws {
        var name = "", version = ""
        var logs: [(ArraySlice<UInt8>, String)] = []
        let base = reader.path
        while let field = try reader.next() {
            switch field.number {
            case 1:
                var scope = try reader.message(field, path: base + ".scope")
                while let inner = try scope.next() {
                    switch inner.number {
                    case 1: name = try scope.string(inner)
                    case 2: version = try scope.string(inner)
                    default: try scope.skip(inner)
                    }
                }
            case 2:
                logs.append((try reader.bytes(field), base + ".logRecords[\(logs.count)]"))
            default:
                try reader.skip(field)
            }
        }
        for (bytes, path) in logs {
            var log = ProtobufWireReader(bytes, path: path)
            var record = try logRecord(&log)
            record.resource = resource
            record.scopeName = name
            record.scopeVersion = version
            records.append(record)
        }
    }

    private static func logRecord(_ reader: inout ProtobufWireReader) throws -> OTLPLogRecord {
        var record = OTLPLogRecord(path: reader.path)
        while let field = try reader.next() {
            switch field.number {
            case 1: record.timeUnixNano = try reader.fixed64(field, name: "timeUnixNano")
            case 11: record.observedTimeUnixNano = try reader.fixed64(field, name: "observedTimeUnixNano")
            case 2:
                let number = try reader.varint(field, name: "severityNumber")
                guard number <= 24 else {
                    throw OTLPDecodingError(path: reader.path + ".severityNumber", reason: "must be 0 to 24")
                }
                record.severityNumber = Int(number)
            case 3: record.severityText = try reader.string(field)
            case 5:
                var body = try reader.message(field, path: reader.path + ".body")
                record.body = try anyValue(&body, depth: 0)
            case 6:
                var pair = try reader.message(field, path: reader.path + ".attributes[\(record.attributes.count)]")
                record.attributes.append(try keyValue(&pair, depth: 0))
            case 8: record.flags = try reader.fixed32(field, name: "flags")
            case 9:
                record.traceID = Array(try reader.bytes(field))
                guard record.traceID.count == 16 || record.traceID.isEmpty else {
                    throw OTLPDecodingError(path: reader.path + ".traceId", reason: "must be 16 bytes")
                }
            case 10:
                record.spanID = Array(try reader.bytes(field))
                guard record.spanID.count == 8 || record.spanID.isEmpty else {
                    throw OTLPDecodingError(path: reader.path + ".spanId", reason: "must be 8 bytes")
                }
            case 12: record.eventName = try reader.string(field)
            default: try reader.skip(field)
            }
        }
        return record
    }

    private static func keyValue(_ reader: inout ProtobufWireReader, depth: Int) throws -> OTLPAttribute {
        var pair = OTLPAttribute(key: "", value: nil)
        while let field = try reader.next() {
            switch field.number {
            case 1: pair.key = try reader.string(field)
            case 2:
                var value = try reader.message(field, path: reader.path + ".value")
                pair.value = try anyValue(&value, depth: depth + 1)
            default: try reader.skip(field)
            }
        }
        return pair
    }

    private static func anyValue(_ reader: inout ProtobufWireReader, depth: Int) throws -> OTLPValue? {
        guard depth < maxDepth else {
            throw OTLPDecodingError(path: reader.path, reason: "values nest deeper than \(maxDepth) levels")
        }
        var value: OTLPValue?
        while let field = try reader.next() {
            switch field.number {
            case 1: value = .string(try reader.string(field))
            case 2: value = .bool(try reader.varint(field, name: "boolValue") != 0)
            case 3: value = .int(Int64(bitPattern: try reader.varint(field, name: "intValue")))
            case 4: value = .double(Double(bitPattern: try reader.fixed64(field, name: "doubleValue")))
            case 5:
                var array = try reader.message(field, path: reader.path + ".arrayValue")
                var items: [OTLPValue?] = []
                while let item = try array.next() {
                    guard item.number == 1 else { try array.skip(item); continue }
                    var element = try array.message(item, path: array.path + "[\(items.count)]")
                    items.append(try anyValue(&element, depth: depth + 1))
                }
                value = .array(items)
            case 6:
                var list = try reader.message(field, path: reader.path + ".kvlistValue")
                var pairs: [OTLPAttribute] = []
                while let item = try list.next() {
                    guard item.number == 1 else { try list.skip(item); continue }
                    var pair = try list.message(item, path: list.path + "[\(pairs.count)]")
                    pairs.append(try keyValue(&pair, depth: depth + 1))
                }
                value = .keyValues(pairs)
            case 7: value = .bytes(Array(try reader.bytes(field)))
            default: try reader.skip(field)
            }
        }
        return value
    }
}
