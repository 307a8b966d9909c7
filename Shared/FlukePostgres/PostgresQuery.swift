/// A SQL statement whose interpolated values become bind parameters (`$1`, `$2`, …).
///
/// There is deliberately no way to splice a value into the SQL text: the only interpolations that
/// write text are ``StringInterpolation/appendInterpolation(identifier:)``, which accepts
/// lower-case identifiers only and quotes them, and ``StringInterpolation/appendInterpolation(sql:)``,
/// which takes compile-time constants only.
///
/// ```swift
/// try await db.query("SELECT name FROM federation.catalog WHERE slug = \(slug)")
/// ```
public struct PostgresQuery: Sendable, ExpressibleByStringInterpolation {
    public var sql: String
    public var binds: [String?]

    public init(stringLiteral value: String) {
        self.sql = value
        self.binds = []
    }

    public init(stringInterpolation: StringInterpolation) {
        self.sql = stringInterpolation.sql
        self.binds = stringInterpolation.binds
    }

    /// Builds a query from literal SQL and explicit parameters, for the few places that are not
    /// written inline (migration bookkeeping, generic helpers).
    public init(_ sql: StaticString, binds: [any PostgresEncodable]) {
        self.sql = "\(sql)"
        self.binds = binds.map { $0.postgresText }
    }

    public struct StringInterpolation: StringInterpolationProtocol {
        var sql = ""
        var binds: [String?] = []

        public init(literalCapacity: Int, interpolationCount: Int) {
            sql.reserveCapacity(literalCapacity + interpolationCount * 3)
        }

        public mutating func appendLiteral(_ literal: String) { sql += literal }

        /// Appends a bind parameter.
        public mutating func appendInterpolation(_ value: some PostgresEncodable) {
            binds.append(value.postgresText)
            sql += "$\(binds.count)"
        }

        /// Appends a bind parameter, `NULL` when the value is absent.
        public mutating func appendInterpolation(_ value: (some PostgresEncodable)?) {
            binds.append(value?.postgresText)
            sql += "$\(binds.count)"
        }

        /// Appends a fragment of SQL known at compile time (a shared column list): a `StaticString`
        /// cannot carry input.
        public mutating func appendInterpolation(sql fragment: StaticString) {
            sql += "\(fragment)"
        }

        /// Appends a quoted identifier (schema or table name). Only `[a-z_][a-z0-9_]*` is accepted;
        /// anything else is a programming error.
        public mutating func appendInterpolation(identifier: String) {
            precondition(PostgresIdentifier.isValid(identifier), "invalid SQL identifier \(identifier)")
            sql += "\"\(identifier)\""
        }
    }
}

/// Validation of the identifiers the fleet interpolates (schema names).
public enum PostgresIdentifier {
    public static func isValid(_ name: String) -> Bool {
        guard let first = name.utf8.first, first == UInt8(ascii: "_") || (first >= 0x61 && first <= 0x7A) else {
            return false
        }
        return name.utf8.count <= 63 && name.utf8.allSatisfy {
            $0 == UInt8(ascii: "_") || ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39)
        }
    }
}
