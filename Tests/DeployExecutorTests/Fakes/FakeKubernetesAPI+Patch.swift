import FlukeModels
import Foundation

/// JSON helpers and the three PATCH flavours the API server applies, for the fields the
/// executor sends (apps/v1 Deployment and v1 Service).
enum FakeKube {
    /// Lists strategic merge merges element by element, with the key it matches elements on
    /// (from the `patchMergeKey` tags of the core/v1 and apps/v1 types).
    static let mergeKeys: [String: String] = [
        "containers": "name", "initContainers": "name", "env": "name", "volumes": "name", "volumeMounts": "mountPath",
        "ports": "containerPort", "imagePullSecrets": "name", "conditions": "type",
    ]

    /// `application/strategic-merge-patch+json`: maps merge (null deletes), listed lists merge by
    /// key, other lists are replaced, and a `{"$patch": "replace"}` element or key replaces.
    static func strategicMerge(_ original: JSONValue?, _ patch: JSONValue, key: String? = nil) -> JSONValue {
        switch patch {
        case .object(var fields):
            if fields["$patch"]?.stringValue == "replace" {
                fields["$patch"] = nil
                return .object(fields)
            }
            guard case .object(var merged)? = original else { return strip(patch) }
            for (name, value) in fields {
                if value == .null { merged[name] = nil } else { merged[name] = strategicMerge(merged[name], value, key: name) }
            }
            return .object(merged)
        case .array(let elements):
            let directive = elements.contains { $0["$patch"]?.stringValue == "replace" && $0.kubeFieldCount == 1 }
            let items = elements.filter { !($0["$patch"]?.stringValue == "replace" && $0.kubeFieldCount == 1) }
            guard !directive, let mergeKey = key.flatMap({ mergeKeys[$0] }), case .array(var merged)? = original else {
                return .array(items.map(strip))
            }
            for item in items {
                if let index = merged.firstIndex(where: { $0[mergeKey] != nil && $0[mergeKey] == item[mergeKey] }) {
                    merged[index] = strategicMerge(merged[index], item, key: nil)
                } else {
                    merged.append(strip(item))
                }
            }
            return .array(merged)
        default:
            return patch
        }
    }

    /// Directives never reach the stored object.
    static func strip(_ value: JSONValue) -> JSONValue {
        switch value {
        case .object(let fields):
            return .object(fields.filter { !$0.key.hasPrefix("$") }.mapValues(strip))
        case .array(let items):
            return .array(items.filter { !($0["$patch"] != nil && $0.kubeFieldCount == 1) }.map(strip))
        default:
            return value
        }
    }

    /// `application/merge-patch+json` (RFC 7386).
    static func mergePatch(_ original: JSONValue?, _ patch: JSONValue) -> JSONValue {
        guard case .object(let fields) = patch else { return patch }
        guard case .object(var merged)? = original else { return mergePatch(.object([:]), patch) }
        for (name, value) in fields {
            merged[name] = value == .null ? nil : mergePatch(merged[name], value)
        }
        return .object(merged)
    }

    struct PatchError: Error { var message: String }

    /// `application/json-patch+json` (RFC 6902), the `add` and `replace` operations.
    static func jsonPatch(_ original: JSONValue, _ patch: JSONValue) throws -> JSONValue {
        guard case .array(let operations) = patch else { throw PatchError(message: "a JSON patch is an array") }
        var result = original
        for operation in operations {
            guard let op = operation["op"]?.stringValue, ["add", "replace"].contains(op),
                  let path = operation["path"]?.stringValue, let value = operation["value"] else {
                throw PatchError(message: "unsupported JSON patch operation")
            }
            let segments = path.split(separator: "/").map {
                $0.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            }
            if op == "replace", get(result, segments) == nil {
                throw PatchError(message: "replace operation does not apply: doc is missing path: \(path)")
            }
            set(&result, segments, value)
        }
        return result
    }

    static func get(_ value: JSONValue?, _ path: [String]) -> JSONValue? {
        path.reduce(value) { current, key in current?[key] }
    }

    static func set(_ value: inout JSONValue, _ path: [String], _ newValue: JSONValue?) {
        guard let first = path.first else {
            value = newValue ?? .null
            return
        }
        var fields: [String: JSONValue] = [:]
        if case .object(let existing) = value { fields = existing }
        if path.count == 1 {
            fields[first] = newValue
        } else {
            var child = fields[first] ?? .object([:])
            set(&child, Array(path.dropFirst()), newValue)
            fields[first] = child
        }
        value = .object(fields)
    }

    static func int(_ value: JSONValue?) -> Int? {
        if case .number(let n)? = value { return Int(n) }
        return nil
    }

    static func strings(_ value: JSONValue?) -> [String: String] {
        guard case .object(let fields)? = value else { return [:] }
        return fields.compactMapValues(\.stringValue)
    }

    static func object(_ labels: [String: String]) -> JSONValue {
        .object(labels.mapValues { .string($0) })
    }

    /// A JSON value from Swift dictionaries, arrays, strings, numbers and booleans.
    static func value(_ any: Any?) -> JSONValue {
        switch any {
        case let v as JSONValue: return v
        case let v as String: return .string(v)
        case let v as Bool: return .bool(v)
        case let v as Int: return .number(Double(v))
        case let v as Double: return .number(v)
        case let v as [String: Any?]: return .object(v.mapValues(value))
        case let v as [String: Any]: return .object(v.mapValues(value))
        case let v as [Any]: return .array(v.map(value))
        default: return .null
        }
    }

    static func encode(_ value: JSONValue) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return (try? encoder.encode(value)) ?? Data("null".utf8)
    }

    static func decode(_ data: Data) -> JSONValue? {
        try? JSONDecoder().decode(JSONValue.self, from: data)
    }
}

extension JSONValue {
    /// How many fields an object has (0 for anything else).
    var kubeFieldCount: Int {
        if case .object(let fields) = self { return fields.count }
        return 0
    }
}
