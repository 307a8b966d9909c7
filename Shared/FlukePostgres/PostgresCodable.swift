import FlukeModels
import Foundation

/// A Swift value that can be sent as a text-format bind parameter.
public protocol PostgresEncodable: Sendable {
    /// The value in Postgres' text input format.
    var postgresText: String { get }
}

/// A Swift value that can be read from a text-format column.
public protocol PostgresDecodable {
    init(postgresText: String) throws
}

public typealias PostgresCodable = PostgresEncodable & PostgresDecodable

extension String: PostgresCodable {
    public var postgresText: String { self }
    public init(postgresText: String) { self = postgresText }
}

/// Numbers travel as their shortest text form, both ways.
public protocol PostgresNumber: PostgresCodable, LosslessStringConvertible {}

extension PostgresNumber {
    public var postgresText: String { description }
    public init(postgresText: String) throws {
        guard let v = Self(postgresText) else { throw PostgresError.decoding(postgresText, as: Self.self) }
        self = v
    }
}

extension Int: PostgresNumber {}
extension Int64: PostgresNumber {}
extension Int32: PostgresNumber {}
extension Double: PostgresNumber {}

extension Bool: PostgresCodable {
    public var postgresText: String { self ? "t" : "f" }
    public init(postgresText: String) throws {
        switch postgresText {
        case "t", "true": self = true
        case "f", "false": self = false
        default: throw PostgresError.decoding(postgresText, as: Bool.self)
        }
    }
}

extension UUID: PostgresCodable {
    public var postgresText: String { uuidString.lowercased() }
    public init(postgresText: String) throws {
        guard let v = UUID(uuidString: postgresText) else { throw PostgresError.decoding(postgresText, as: UUID.self) }
        self = v
    }
}

extension Date: PostgresCodable {
    /// RFC 3339 in UTC with microseconds, which `timestamptz` accepts as is.
    public var postgresText: String { PostgresTimestamp.format(self) }
    public init(postgresText: String) throws {
        guard let v = PostgresTimestamp.parse(postgresText) else {
            throw PostgresError.decoding(postgresText, as: Date.self)
        }
        self = v
    }
}

extension Array: PostgresEncodable where Element == String {
    /// A text array literal, every element quoted and escaped; built as UTF-8 bytes (batch
    /// inserts bind arrays of whole JSON documents, where a `String` appended scalar by scalar
    /// cost more than the statement itself).
    public var postgresText: String {
        var out: [UInt8] = []
        out.reserveCapacity(reduce(2) { $0 + $1.utf8.count + 3 })
        out.append(UInt8(ascii: "{"))
        for (i, element) in enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out.append(UInt8(ascii: "\""))
            for byte in element.utf8 {
                if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { out.append(UInt8(ascii: "\\")) }
                out.append(byte)
            }
            out.append(UInt8(ascii: "\""))
        }
        out.append(UInt8(ascii: "}"))
        return String(decoding: out, as: UTF8.self)
    }
}

extension Array: PostgresDecodable where Element == String {
    /// Parses a one-dimensional text array (`{a,"b c",NULL}`); NULL elements become "".
    public init(postgresText: String) throws {
        var scalars = Substring(postgresText).unicodeScalars
        guard scalars.first == "{", scalars.last == "}" else {
            throw PostgresError.decoding(postgresText, as: [String].self)
        }
        scalars = scalars.dropFirst().dropLast()
        var result: [String] = []
        var current = String.UnicodeScalarView()
        var quoted = false, inQuotes = false, escape = false, any = false
        for ch in scalars {
            any = true
            if escape { current.append(ch); escape = false; continue }
            if inQuotes {
                if ch == "\\" { escape = true } else if ch == "\"" { inQuotes = false } else { current.append(ch) }
                continue
            }
            switch ch {
            case "\"": inQuotes = true; quoted = true
            case ",":
                let s = String(current)
                result.append(!quoted && s == "NULL" ? "" : s)
                current = .init(); quoted = false
            default: current.append(ch)
            }
        }
        if any {
            let s = String(current)
            result.append(!quoted && s == "NULL" ? "" : s)
        }
        self = result
    }
}

extension PostgresError {
    static func decoding(_ text: String, as type: Any.Type) -> PostgresError {
        PostgresError(.decodingFailed, "cannot decode \(text.prefix(64)) as \(type)")
    }
}

/// `timestamptz` text in UTC, through the fleet's own RFC 3339 code rather than Foundation's
/// formatters (slow, and not thread-safe on every platform).
public enum PostgresTimestamp {
    /// RFC 3339 in UTC with microseconds, `timestamptz`'s own precision.
    public static func format(_ date: Date) -> String { RFC3339.format(date, fractionDigits: 6) }

    /// Parses `timestamptz` text as the server prints it with `DateStyle=ISO`.
    public static func parse(_ text: String) -> Date? { TimestampParser.parse(text, strict: false) }
}
