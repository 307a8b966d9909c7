import FlukeModels
import Foundation

/// The fields OpenTelemetry brought to UnifiedLogEntry: `trace_id`, `span_id`, and the free-form
/// `attributes` and `resource` maps, each bounded so that one entry stays a small row.
extension EntryReader {
    /// A W3C trace or span id: `digits` lowercase hex digits, not all zero (the W3C's "invalid"
    /// id; OTLP's mapping leaves such an id out). `nil` when absent or null.
    func hexIdentifier(_ value: JSONValue?, _ field: String, digits: Int) throws -> String? {
        switch value {
        case nil, .null?:
            return nil
        case .string(let id)?:
            let lowercaseHex = id.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
            guard id.utf8.count == digits, lowercaseHex else { throw fail(field, "must be \(digits) lowercase hex digits") }
            guard id.utf8.contains(where: { $0 != UInt8(ascii: "0") }) else { throw fail(field, "must not be all zeros") }
            return id
        default:
            throw fail(field, "must be a string of \(digits) lowercase hex digits")
        }
    }

    /// An object of at most ``LogEntryValidator/maxAttributes`` keys, nested at most
    /// ``LogEntryValidator/maxAttributeDepth`` levels, of at most ``LogEntryValidator/maxAttributeBytes``
    /// (keys and strings as UTF-8, 8 bytes for any other value); keys of 1–256 characters without
    /// control characters at every level. A NUL inside a string (Postgres' `jsonb` cannot hold
    /// one) is refused over HTTP and replaced by U+FFFD from the stream, as in `message`.
    /// `nil` when absent, null or empty.
    func attributes(_ value: JSONValue?, _ field: String) throws -> [String: JSONValue]? {
        switch value {
        case nil, .null?:
            return nil
        case .object(let object)?:
            guard object.count <= LogEntryValidator.maxAttributes else {
                throw fail(field, "must have at most \(LogEntryValidator.maxAttributes) keys")
            }
            var budget = LogEntryValidator.maxAttributeBytes
            guard case .object(let checked) = try attribute(.object(object), field, depth: 0, budget: &budget) else { return nil }
            return checked.isEmpty ? nil : checked
        default:
            throw fail(field, "must be an object")
        }
    }

    private func attribute(_ value: JSONValue, _ path: String, depth: Int, budget: inout Int) throws -> JSONValue {
        guard depth <= LogEntryValidator.maxAttributeDepth else {
            throw fail(path, "nests deeper than \(LogEntryValidator.maxAttributeDepth) levels")
        }
        func spend(_ bytes: Int) throws {
            budget -= bytes
            guard budget >= 0 else {
                throw fail(path, "makes its map larger than \(LogEntryValidator.maxAttributeBytes) bytes")
            }
        }
        switch value {
        case .null, .bool, .number:
            try spend(8)
            return value
        case .string(let text):
            try spend(text.utf8.count + 2)
            guard text.utf8.contains(0) else { return value }
            guard !fromHTTP else { throw fail(path, "must not contain NUL characters") }
            return .string(text.replacingOccurrences(of: "\u{0}", with: "\u{FFFD}"))
        case .array(let items):
            try spend(2)
            var checked: [JSONValue] = []
            checked.reserveCapacity(items.count)
            for (index, item) in items.enumerated() {
                checked.append(try attribute(item, "\(path)[\(index)]", depth: depth + 1, budget: &budget))
            }
            return .array(checked)
        case .object(let object):
            try spend(2)
            var checked: [String: JSONValue] = [:]
            // Sorted: the same body always names the same key.
            for key in object.keys.sorted() {
                guard !key.isEmpty, key.count <= 256 else { throw fail(path, "has a key that is empty or over 256 characters") }
                guard !key.hasControlCharacter else {
                    throw fail(path, "has a key with control characters")
                }
                try spend(key.utf8.count + 3)
                checked[key] = try attribute(object[key]!, path + "." + key, depth: depth + 1, budget: &budget)
            }
            return .object(checked)
        }
    }
}
