/// An error from the Postgres layer: a stable code for programs, the server's SQLSTATE when
/// there is one, and a message for people. Mapped to HTTP only at the edge.
public struct PostgresError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let raw: String
        public var description: String { raw }
        /// The server could not be reached or the connection broke.
        public static let connectionFailed = Code(raw: "connection_failed")
        /// The server rejected the statement (see ``PostgresError/sqlState``).
        public static let queryFailed = Code(raw: "query_failed")
        /// No connection became free within the pool's acquire timeout.
        public static let poolTimeout = Code(raw: "pool_timeout")
        /// The pool has been shut down.
        public static let poolClosed = Code(raw: "pool_closed")
        /// A column could not be decoded into the requested Swift type.
        public static let decodingFailed = Code(raw: "decoding_failed")
        /// A migration file could not be read or applied.
        public static let migrationFailed = Code(raw: "migration_failed")
        /// A parameter could not be sent as it is (a NUL character, which Postgres text cannot hold).
        public static let invalidParameter = Code(raw: "invalid_parameter")
    }

    public var code: Code
    /// The five-character SQLSTATE the server reported, if any (e.g. `23505` unique violation).
    public var sqlState: String?
    public var message: String

    public init(_ code: Code, sqlState: String? = nil, _ message: String) {
        self.code = code
        self.sqlState = sqlState
        self.message = message
    }

    public var description: String {
        if let sqlState { return "postgres \(code) [\(sqlState)]: \(message)" }
        return "postgres \(code): \(message)"
    }

    /// True when the statement failed on a unique constraint (SQLSTATE 23505).
    public var isUniqueViolation: Bool { sqlState == "23505" }
    /// True when Postgres broke a deadlock by failing this transaction (SQLSTATE 40P01): it was
    /// rolled back whole, so running it again is safe.
    public var isDeadlock: Bool { sqlState == "40P01" }
    /// True when the database could not do the work now, whatever the statement: unreachable,
    /// restarting, out of connections, or the statement ran past `statement_timeout` (57014) or sat
    /// in a transaction past `idle_in_transaction_session_timeout` (25P03). Worth retrying later.
    public var isUnavailable: Bool {
        isConnectionFailure || code == .poolTimeout || code == .poolClosed
            || ["57014", "25P03", "53300", "57P02", "57P03"].contains(sqlState ?? "")
    }

    /// True when the failure says nothing about the statement, only about the connection.
    public var isConnectionFailure: Bool {
        code == .connectionFailed || (sqlState?.hasPrefix("08") ?? false) || sqlState == "57P01"
    }
}
