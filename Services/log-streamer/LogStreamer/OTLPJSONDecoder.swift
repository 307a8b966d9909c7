import Foundation

/// Reads `ExportLogsServiceRequest` in the OTLP/JSON encoding (OTLP spec, "JSON Protobuf
/// Encoding"): lowerCamelCase keys, unknown keys ignored, 64-bit integers as strings or numbers,
/// enums as integers, `traceId`/`spanId` as hex (not base64, unlike protobuf's JSON mapping),
/// `bytesValue` as base64.
enum OTLPJSONDecoder {
    static func decode(_ data: Data) throws -> [OTLPLogRecord] {
        guard let root = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) else {
            throw OTLPDecodingError(path: "", reason: "not JSON")
        }
        guard let request = root as? [String: Any] else { throw OTLPDecodingError(path: "", reason: "must be an object") }
        var records: [OTLPLogRecord] = []
        for (r, resourceLogs) in try objects(request["resourceLogs"], "resourceLogs").enumerated() {
            let base = "resourceLogs[\(r)]"
            let resource = try object(resourceLogs["resource"], base + ".resource")
            let attributes = try keyValues(resource?["attributes"], base + ".resource.attributes", depth: 0)
            for (s, scopeLogs) in try objects(resourceLogs["scopeLogs"], base + ".scopeLogs").enumerated() {
                let scopePath = base + ".scopeLogs[\(s)]"
                let scope = try object(scopeLogs["scope"], scopePath + ".scope")
                let name = try string(scope?["name"], scopePath + ".scope.name")
                let version = try string(scope?["version"], scopePath + ".scope.version")
                for (l, log) in try objects(scopeLogs["logRecords"], scopePath + ".logRecords").enumerated() {
                    var record = try logRecord(log, path: scopePath + ".logRecords[\(l)]")
                    record.resource = attributes
                    record.scopeName = name
                    record.scopeVersion = version
                    records.append(record)
                }
            }
        }
        return records
    }

    private static func logRecord(_ log: [String: Any], path: String) throws -> OTLPLogRecord {
        var record = OTLPLogRecord(path: path)
        record.timeUnixNano = try unsigned(log["timeUnixNano"], path + ".timeUnixNano")
        record.observedTimeUnixNano = try unsigned(log["observedTimeUnixNano"], path + ".observedTimeUnixNano")
        let severity = try unsigned(log["severityNumber"], path + ".severityNumber")
        guard severity <= 24 else { throw OTLPDecodingError(path: path + ".severityNumber", reason: "must be 0 to 24") }
        record.severityNumber = Int(severity)
        record.severityText = try string(log["severityText"], path + ".severityText")
        if let body = log["body"] { record.body = try anyValue(body, path + ".body", depth: 0) }
        record.attributes = try keyValues(log["attributes"], path + ".attributes", depth: 0)
        record.flags = UInt32(truncatingIfNeeded: try unsigned(log["flags"], path + ".flags"))
        record.traceID = try hex(log["traceId"], path + ".traceId", bytes: 16)
        record.spanID = try hex(log["spanId"], path + ".spanId", bytes: 8)
        record.eventName = try string(log["eventName"], path + ".eventName")
        return record
    }

    private static func keyValues(_ value: Any?, _ path: String, depth: Int) throws -> [OTLPAttribute] {
        try objects(value, path).enumerated().map { index, pair in
            let at = path + "[\(index)]"
            return OTLPAttribute(key: try string(pair["key"], at + ".key"),
                                 value: try pair["value"].map { try anyValue($0, at + ".value", depth: depth + 1) } ?? nil)
        }
    }

    private static func anyValue(_ raw: Any, _ path: String, depth: Int) throws -> OTLPValue? {
        guard depth < OTLPProtobufDecoder.maxDepth else {
            throw OTLPDecodingError(path: path, reason: "values nest deeper than \(OTLPProtobufDecoder.maxDepth) levels")
        }
        guard let value = raw as? [String: Any] else { throw OTLPDecodingError(path: path, reason: "must be an AnyValue object") }
        if let text = value["stringValue"] { return .string(try string(text, path + ".stringValue")) }
        if let flag = value["boolValue"] {
            guard let bool = flag as? Bool else { throw OTLPDecodingError(path: path + ".boolValue", reason: "must be true or false") }
            return .bool(bool)
        }
        if let number = value["intValue"] { return .int(try signed(number, path + ".intValue")) }
        if let number = value["doubleValue"] {
            guard let double = (number as? NSNumber)?.doubleValue else {
                throw OTLPDecodingError(path: path + ".doubleValue", reason: "must be a number")
            }
            return .double(double)
        }
        if let array = value["arrayValue"] {
            let items = try object(array, path + ".arrayValue")?["values"]
            return .array(try list(items, path + ".arrayValue.values").enumerated().map { index, item in
                try anyValue(item, path + ".arrayValue.values[\(index)]", depth: depth + 1)
            })
        }
        if let pairs = value["kvlistValue"] {
            return .keyValues(try keyValues(try object(pairs, path + ".kvlistValue")?["values"], path + ".kvlistValue.values",
                                            depth: depth + 1))
        }
        if let encoded = value["bytesValue"] {
            guard let text = encoded as? String, let bytes = Data(base64Encoded: text) else {
                throw OTLPDecodingError(path: path + ".bytesValue", reason: "must be base64")
            }
            return .bytes(Array(bytes))
        }
        return nil
    }

    private static func list(_ value: Any?, _ path: String) throws -> [Any] {
        guard let value, !(value is NSNull) else { return [] }
        guard let items = value as? [Any] else { throw OTLPDecodingError(path: path, reason: "must be an array") }
        return items
    }

    private static func objects(_ value: Any?, _ path: String) throws -> [[String: Any]] {
        try list(value, path).enumerated().map { index, item in
            guard let object = item as? [String: Any] else { throw OTLPDecodingError(path: path + "[\(index)]", reason: "must be an object") }
            return object
        }
    }

    private static func object(_ value: Any?, _ path: String) throws -> [String: Any]? {
        guard let value, !(value is NSNull) else { return nil }
        guard let object = value as? [String: Any] else { throw OTLPDecodingError(path: path, reason: "must be an object") }
        return object
    }

    private static func string(_ value: Any?, _ path: String) throws -> String {
        guard let value, !(value is NSNull) else { return "" }
        guard let text = value as? String else { throw OTLPDecodingError(path: path, reason: "must be a string") }
        return text
    }

    /// A 64-bit field: a decimal string (the OTLP/JSON norm) or a JSON integer.
    private static func unsigned(_ value: Any?, _ path: String) throws -> UInt64 {
        guard let value, !(value is NSNull) else { return 0 }
        if let text = value as? String, let number = UInt64(text) { return number }
        if let number = integer(value), number.int64Value >= 0 || String(cString: number.objCType) == "Q" {
            return number.uint64Value
        }
        throw OTLPDecodingError(path: path, reason: "must be an unsigned integer (a decimal string or a number)")
    }

    private static func signed(_ value: Any, _ path: String) throws -> Int64 {
        if let text = value as? String, let number = Int64(text) { return number }
        if let number = integer(value), String(cString: number.objCType) != "Q" || number.uint64Value <= UInt64(Int64.max) {
            return number.int64Value
        }
        throw OTLPDecodingError(path: path, reason: "must be an integer (a decimal string or a number)")
    }

    /// A JSON integer as JSONSerialization gives it: an NSNumber that is neither a boolean
    /// (objCType `c`) nor a fraction (`d`, `f`).
    private static func integer(_ value: Any) -> NSNumber? {
        guard let number = value as? NSNumber, !["c", "d", "f"].contains(String(cString: number.objCType)) else { return nil }
        return number
    }

    private static func hex(_ value: Any?, _ path: String, bytes count: Int) throws -> [UInt8] {
        let text = try string(value, path)
        guard !text.isEmpty else { return [] }
        let digits = Array(text.utf8)
        guard digits.count == count * 2 else { throw OTLPDecodingError(path: path, reason: "must be \(count * 2) hex digits") }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count)
        for index in stride(from: 0, to: digits.count, by: 2) {
            guard let high = hexValue(digits[index]), let low = hexValue(digits[index + 1]) else {
                throw OTLPDecodingError(path: path, reason: "must be \(count * 2) hex digits")
            }
            bytes.append(high << 4 | low)
        }
        return bytes
    }

    private static func hexValue(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return digit - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
