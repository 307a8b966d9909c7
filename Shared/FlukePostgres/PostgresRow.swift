/// The rows a statement returned, copied out of libpq so no C memory outlives the call.
public struct PostgresRows: Sendable, Sequence {
    public let columns: [String]
    public let rows: [PostgresRow]
    /// Rows inserted, updated or deleted (`PQcmdTuples`), 0 when not applicable.
    public let affectedRows: Int

    public func makeIterator() -> IndexingIterator<[PostgresRow]> { rows.makeIterator() }
    public var first: PostgresRow? { rows.first }
    public var count: Int { rows.count }
    public var isEmpty: Bool { rows.isEmpty }
}

/// One row in text format, decoded column by column into Swift types.
public struct PostgresRow: Sendable {
    let columnIndex: ColumnIndex
    public let values: [String?]

    final class ColumnIndex: Sendable {
        let names: [String]
        let positions: [String: Int]
        init(_ names: [String]) {
            self.names = names
            var positions: [String: Int] = [:]
            for (i, n) in names.enumerated() where positions[n] == nil { positions[n] = i }
            self.positions = positions
        }
    }

    /// Decodes the column at `index`; throws when it is NULL or malformed.
    public func decode<T: PostgresDecodable>(_ type: T.Type = T.self, at index: Int) throws -> T {
        guard index < values.count else { throw PostgresError(.decodingFailed, "no column \(index)") }
        guard let text = values[index] else {
            throw PostgresError(.decodingFailed, "column \(columnIndex.names[index]) is NULL, expected \(T.self)")
        }
        return try T(postgresText: text)
    }

    /// Decodes the column named `column`; throws when it is NULL or malformed.
    public func decode<T: PostgresDecodable>(_ type: T.Type = T.self, _ column: String) throws -> T {
        try decode(T.self, at: try position(of: column))
    }

    /// Decodes a nullable column.
    public func decode<T: PostgresDecodable>(_ type: T?.Type, _ column: String) throws -> T? {
        let index = try position(of: column)
        guard let text = values[index] else { return nil }
        return try T(postgresText: text)
    }

    /// Decodes a nullable column by position.
    public func decode<T: PostgresDecodable>(_ type: T?.Type, at index: Int) throws -> T? {
        guard index < values.count else { throw PostgresError(.decodingFailed, "no column \(index)") }
        guard let text = values[index] else { return nil }
        return try T(postgresText: text)
    }

    private func position(of column: String) throws -> Int {
        guard let i = columnIndex.positions[column] else {
            throw PostgresError(.decodingFailed, "no column named \(column)")
        }
        return i
    }
}
