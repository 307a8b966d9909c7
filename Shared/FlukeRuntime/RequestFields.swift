import FlukeModels
import Foundation
import Hummingbird

/// A JSON object body read field by field, so that every rejection names its field (422) and a
/// PATCH can tell an absent field from an explicit `null`.
public struct RequestFields: Sendable {
    public let values: [String: JSONValue]

    public init(_ values: [String: JSONValue]) { self.values = values }

    /// Reads the body: 415 unless JSON, 400 when malformed or not an object, 422 naming the field
    /// when any string or key anywhere in it (free-form values such as `metadata` or `tools`
    /// included) holds a control character other than tab, newline and carriage return. Checked
    /// here once for every route: a NUL cannot be stored in Postgres text or jsonb, and would
    /// otherwise surface as a 500 from whichever store meets it first.
    public static func read(_ request: Request, context: FleetRequestContext) async throws -> RequestFields {
        let value = try await request.decode(as: JSONValue.self, context: context)
        guard case .object(let object) = value else {
            throw Problem(.badRequest, "Malformed JSON", detail: "the body must be a JSON object", field: "body")
        }
        if let path = value.pathOfControlCharacter(at: "") {
            throw Problem.invalid(path.isEmpty ? "body" : path, Self.controlCharacterDetail)
        }
        return RequestFields(object)
    }

    static let controlCharacterDetail = "must not contain control characters (tab, newline and carriage return excepted)"


    /// 422 for the first field not in `allowed` (a typo must not be silently ignored).
    public func allowOnly(_ allowed: Set<String>) throws {
        if let unknown = values.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw Problem.invalid(unknown, "is not a known field")
        }
    }

    public func has(_ name: String) -> Bool { values[name] != nil }
    public func isNull(_ name: String) -> Bool { if case .null = values[name] { return true } else { return false } }

    /// A trimmed string of `minLength…maxLength` characters; `nil` when absent (or `null` and `nullable`).
    public func string(_ name: String, required: Bool = false, minLength: Int = 1, maxLength: Int,
                       nullable: Bool = false) throws -> String? {
        switch values[name] {
        case nil:
            if required { throw Problem.invalid(name, "is required") }
            return nil
        case .null?:
            if required || !nullable { throw Problem.invalid(name, "must be a string, not null") }
            return nil
        case .string(let raw)?:
            let s = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            guard s.count >= minLength else {
                throw Problem.invalid(name, minLength == 1 ? "must not be empty" : "must have at least \(minLength) characters")
            }
            guard s.count <= maxLength else { throw Problem.invalid(name, "must have at most \(maxLength) characters") }
            guard !s.hasDisallowedControlCharacter else { throw Problem.invalid(name, Self.controlCharacterDetail) }
            return s
        default:
            throw Problem.invalid(name, "must be a string")
        }
    }

    /// A password: kept exactly as sent (no trimming), 8…256 characters.
    public func password(_ name: String) throws -> String {
        guard case .string(let s)? = values[name] else {
            throw Problem.invalid(name, values[name] == nil ? "is required" : "must be a string")
        }
        guard s.count >= 8 else { throw Problem.invalid(name, "must have at least 8 characters") }
        guard s.count <= 256 else { throw Problem.invalid(name, "must have at most 256 characters") }
        return s
    }

    /// An e-mail address (a pragmatic subset of RFC 5322: one `@`, a dotted domain, no spaces), lower-cased.
    public func email(_ name: String, required: Bool = true) throws -> String? {
        guard let s = try string(name, required: required, maxLength: 254) else { return nil }
        let parts = s.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[0].count <= 64, parts[1].contains("."),
              !parts[1].hasPrefix("."), !parts[1].hasSuffix("."), !s.contains(where: { $0.isWhitespace }) else {
            throw Problem.invalid(name, "must be an e-mail address")
        }
        return s.lowercased()
    }

    /// One of an enum's raw values.
    public func oneOf<E: RawRepresentable & CaseIterable>(_ name: String, _ type: E.Type, required: Bool = false)
        throws -> E? where E.RawValue == String {
        guard let raw = try string(name, required: required, maxLength: 64) else { return nil }
        guard let value = E(rawValue: raw) else {
            throw Problem.invalid(name, "must be one of \(E.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return value
    }

    public func uuid(_ name: String, required: Bool = false, nullable: Bool = false) throws -> UUID? {
        guard let raw = try string(name, required: required, maxLength: 36, nullable: nullable) else { return nil }
        guard let id = UUID(uuidString: raw) else { throw Problem.invalid(name, "must be a UUID") }
        return id
    }

    /// A calendar date, `YYYY-MM-DD`.
    public func date(_ name: String, nullable: Bool = true) throws -> String? {
        guard let raw = try string(name, maxLength: 10, nullable: nullable) else { return nil }
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd"
        guard raw.count == 10, let d = f.date(from: raw), f.string(from: d) == raw else {
            throw Problem.invalid(name, "must be a date (YYYY-MM-DD)")
        }
        return raw
    }

    public func int(_ name: String, in range: ClosedRange<Int>, nullable: Bool = false) throws -> Int? {
        switch values[name] {
        case nil: return nil
        case .null?:
            if nullable { return nil }
            throw Problem.invalid(name, "must be an integer, not null")
        case .number(let n)? where n.rounded() == n && range.contains(Int(exactly: n) ?? Int.min):
            return Int(n)
        default:
            throw Problem.invalid(name, "must be an integer from \(range.lowerBound) to \(range.upperBound)")
        }
    }

    /// An array of strings, each checked by `element`.
    public func strings(_ name: String, required: Bool = false, maxCount: Int, maxLength: Int) throws -> [String]? {
        switch values[name] {
        case nil:
            if required { throw Problem.invalid(name, "is required") }
            return nil
        case .array(let items)?:
            guard items.count <= maxCount else { throw Problem.invalid(name, "must have at most \(maxCount) items") }
            return try items.enumerated().map { i, item in
                guard case .string(let raw) = item else { throw Problem.invalid("\(name)[\(i)]", "must be a string") }
                let s = raw.trimmingCharacters(in: .whitespaces)
                guard !s.isEmpty, s.count <= maxLength else {
                    throw Problem.invalid("\(name)[\(i)]", "must have 1 to \(maxLength) characters")
                }
                guard !s.hasDisallowedControlCharacter else {
                    throw Problem.invalid("\(name)[\(i)]", Self.controlCharacterDetail)
                }
                return s
            }
        default:
            throw Problem.invalid(name, "must be an array of strings")
        }
    }
}

/// Path and query parameters with 422s naming them.
public enum Parameters {
    /// The query parameter (or `query`, when a name is itself bad) whose decoded text holds a
    /// control character other than tab, newline and carriage return; `nil` when none does.
    /// Only a percent-encoded query can carry one, so others are not decoded here.
    static func withControlCharacter(_ request: Request) -> String? {
        let uri = request.uri
        guard let query = uri.query, query.utf8.contains(UInt8(ascii: "%")) else { return nil }
        for (name, value) in uri.queryParameters {
            if String(name).hasDisallowedControlCharacter { return "query" }
            if String(value).hasDisallowedControlCharacter { return String(name) }
        }
        return nil
    }

    /// A UUID path parameter; 422 naming it when malformed.
    public static func uuid(_ context: FleetRequestContext, _ name: String) throws -> UUID {
        guard let raw = context.parameters.get(name), let id = UUID(uuidString: raw) else {
            throw Problem.invalid(name, "must be a UUID")
        }
        return id
    }

    /// A UUID query parameter; 422 naming it when malformed.
    public static func uuidQuery(_ request: Request, _ name: String) throws -> UUID? {
        guard let raw = request.uri.queryParameters[Substring(name)].map(String.init) else { return nil }
        guard let id = UUID(uuidString: raw) else { throw Problem.invalid(name, "must be a UUID") }
        return id
    }

    /// A boolean query parameter (`true` or `false`); 422 naming it otherwise.
    public static func boolQuery(_ request: Request, _ name: String) throws -> Bool? {
        switch request.uri.queryParameters[Substring(name)].map(String.init) {
        case nil: return nil
        case "true": return true
        case "false": return false
        default: throw Problem.invalid(name, "must be true or false")
        }
    }

    /// A query parameter holding one of an enum's raw values (after `normalise`, e.g. upper-casing);
    /// 422 naming the parameter and listing the values when it holds another.
    public static func enumQuery<E: RawRepresentable & CaseIterable>(
        _ request: Request, _ name: String, as type: E.Type, normalise: (String) -> String = { $0 }
    ) throws -> E? where E.RawValue == String {
        guard let raw = request.uri.queryParameters[Substring(name)].map(String.init) else { return nil }
        guard let value = E(rawValue: normalise(raw)) else {
            throw Problem.invalid(name, "must be one of \(E.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return value
    }
}
