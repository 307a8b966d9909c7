import FlukeModels
import FlukeRuntime
import Foundation

/// The subset of JSON Schema (2020-12) that plugin settings are described with: `type`,
/// `properties`, `required`, `additionalProperties: false`, `items`, `enum`, `minLength`,
/// `maxLength`, `maxItems`, `minimum`, `maximum`. A violation is a 422 naming the JSON path.
struct SettingsSchema: Sendable {
    let schema: JSONValue

    func validate(_ value: JSONValue, at path: String) throws {
        try Self.check(value, against: schema, path: path)
    }

    static func check(_ value: JSONValue, against schema: JSONValue, path: String) throws {
        guard case .object(let s) = schema else { return }
        if case .string(let type)? = s["type"] {
            let ok: Bool
            switch (type, value) {
            case ("object", .object), ("array", .array), ("string", .string), ("boolean", .bool): ok = true
            case ("number", .number): ok = true
            case ("integer", .number(let n)): ok = n.rounded() == n
            case ("null", .null): ok = true
            default: ok = false
            }
            guard ok else { throw ContextError.invalid(field: path, "must be \(type == "integer" || type == "array" || type == "object" ? "an" : "a") \(type)") }
        }
        if case .array(let allowed)? = s["enum"], !allowed.contains(value) {
            throw ContextError.invalid(field: path, "is not one of the allowed values")
        }
        switch value {
        case .object(let object):
            let properties: [String: JSONValue]
            if case .object(let principal)? = s["properties"] { properties = principal } else { properties = [:] }
            if case .array(let required)? = s["required"] {
                for case .string(let name) in required where object[name] == nil {
                    throw ContextError.invalid(field: path + "." + name, "is required")
                }
            }
            for key in object.keys.sorted() {
                if let sub = properties[key] {
                    try check(object[key]!, against: sub, path: path + "." + key)
                } else if s["additionalProperties"] == .bool(false) {
                    throw ContextError.invalid(field: path + "." + key, "is not a setting of this plugin")
                }
            }
        case .array(let items):
            if case .number(let max)? = s["maxItems"], Double(items.count) > max {
                throw ContextError.invalid(field: path, "must have at most \(Int(max)) items")
            }
            if let itemSchema = s["items"] {
                for (i, item) in items.enumerated() { try check(item, against: itemSchema, path: "\(path)[\(i)]") }
            }
        case .string(let text):
            if case .number(let min)? = s["minLength"], Double(text.count) < min {
                throw ContextError.invalid(field: path, "must have at least \(Int(min)) characters")
            }
            if case .number(let max)? = s["maxLength"], Double(text.count) > max {
                throw ContextError.invalid(field: path, "must have at most \(Int(max)) characters")
            }
        case .number(let n):
            if case .number(let min)? = s["minimum"], n < min { throw ContextError.invalid(field: path, "must be at least \(min.formatted())") }
            if case .number(let max)? = s["maximum"], n > max { throw ContextError.invalid(field: path, "must be at most \(max.formatted())") }
        default:
            break
        }
    }
}

private extension Double {
    func formatted() -> String { rounded() == self ? String(Int(self)) : String(self) }
}
