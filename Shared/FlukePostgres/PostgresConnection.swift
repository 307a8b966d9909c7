import CLibPQ
import Foundation

/// One libpq connection: owns the `PGconn *` and turns every libpq return code into a Swift error
/// in one place.
///
/// Not thread-safe, and every call blocks: only ``PostgresClient`` uses it, one thread at a time,
/// from its dedicated thread pool.
public final class PostgresConnection: @unchecked Sendable {
    private var conn: OpaquePointer?
    /// Statements prepared on this connection, by SQL text: each is parsed and planned once per
    /// connection instead of on every call (planning can cost more than executing).
    private var prepared: [String: String] = [:]
    static let maxPreparedStatements = 512
    /// When the connection was opened; the pool discards connections opened before an outage.
    public let openedAt: ContinuousClock.Instant

    /// Connects (blocking). `url` is a libpq connection URI or key/value string.
    /// `settings` become `-c name=value` server options of the session (values without spaces).
    public init(url: String, applicationName: String, connectTimeout: Int = 5, settings: [String: String] = [:]) throws {
        let keys = ["dbname", "application_name", "connect_timeout", "options",
                    "keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count"]
        let options = (["TimeZone": "UTC", "DateStyle": "ISO"].merging(settings) { _, new in new })
            .sorted { $0.key < $1.key }.map { "-c \($0.key)=\($0.value)" }.joined(separator: " ")
        let values = [url, applicationName, String(connectTimeout), options, "1", "10", "5", "3"]
        let conn = withArrayOfCStrings(keys) { k in
            withArrayOfCStrings(values) { v in PQconnectdbParams(k, v, 1) }
        }
        guard let conn else { throw PostgresError(.connectionFailed, "out of memory") }
        guard PQstatus(conn) == CONNECTION_OK else {
            let message = Self.message(conn)
            PQfinish(conn)
            throw PostgresError(.connectionFailed, message)
        }
        // Server notices (e.g. "already exists, skipping") would go straight to stderr.
        PQsetNoticeProcessor(conn, { _, _ in }, nil)
        self.conn = conn
        self.openedAt = .now
    }

    deinit { close() }

    /// Closes the connection; later calls fail with `connectionFailed`.
    public func close() {
        if let conn { PQfinish(conn) }
        conn = nil
    }

    /// True while libpq believes the socket is usable.
    public var isHealthy: Bool {
        guard let conn else { return false }
        return PQstatus(conn) == CONNECTION_OK
    }

    /// True when no transaction is open (or failed) on this connection.
    public var isIdle: Bool {
        guard let conn else { return false }
        return PQtransactionStatus(conn) == PQTRANS_IDLE
    }

    /// Runs one parameterized statement (prepared on first use, then `PQexecPrepared`; text format).
    public func execute(_ query: PostgresQuery) throws -> PostgresRows {
        guard let conn else { throw PostgresError(.connectionFailed, "connection is closed") }
        var name = prepared[query.sql]
        if name == nil, prepared.count < Self.maxPreparedStatements {
            let candidate = "fluke_\(prepared.count)"
            _ = try consume(PQprepare(conn, candidate, query.sql, Int32(query.binds.count), nil), conn)
            prepared[query.sql] = candidate
            name = candidate
        }
        let result: OpaquePointer? = try withParameters(query.binds) { params, lengths, formats in
            if let name {
                return PQexecPrepared(conn, name, Int32(params.count), params, lengths, formats, 0)
            }
            return PQexecParams(conn, query.sql, Int32(params.count), nil, params, lengths, formats, 0)
        }
        return try consume(result, conn)
    }

    /// Runs `queries` as one libpq pipeline: sent together and answered together, one round trip
    /// instead of one per statement. Statements already prepared on this connection run prepared.
    /// After an error the server skips the rest up to the sync point; the first error is thrown
    /// (an explicit `BEGIN` among them then leaves a failed transaction for the caller to roll back).
    public func executePipeline(_ queries: [PostgresQuery]) throws -> [PostgresRows] {
        guard let conn else { throw PostgresError(.connectionFailed, "connection is closed") }
        // Refused before the pipeline starts: a statement refused half-way would leave it half-sent.
        for query in queries { try checkParameters(query.binds) }
        guard PQenterPipelineMode(conn) == 1 else { throw PostgresError(.queryFailed, Self.message(conn)) }
        for query in queries {
            let sent = try withParameters(query.binds) { params, lengths, formats -> Int32 in
                if let name = prepared[query.sql] {
                    return PQsendQueryPrepared(conn, name, Int32(params.count), params, lengths, formats, 0)
                }
                return PQsendQueryParams(conn, query.sql, Int32(params.count), nil, params, lengths, formats, 0)
            }
            // A half-sent pipeline leaves the connection in an unknown state: the pool drops it.
            guard sent == 1 else { throw PostgresError(.connectionFailed, Self.message(conn)) }
        }
        guard PQpipelineSync(conn) == 1, PQflush(conn) == 0 else {
            throw PostgresError(.connectionFailed, Self.message(conn))
        }
        var results: [PostgresRows] = []
        var firstError: (any Error)?
        for _ in queries {
            // Each statement yields its result, then NULL.
            while let result = PQgetResult(conn) {
                if PQresultStatus(result) == PGRES_PIPELINE_ABORTED {
                    PQclear(result)
                    firstError = firstError ?? PostgresError(.queryFailed, "skipped after an earlier error in the pipeline")
                    continue
                }
                do { results.append(try consume(result, conn)) } catch { firstError = firstError ?? error }
            }
        }
        guard let sync = PQgetResult(conn), PQresultStatus(sync) == PGRES_PIPELINE_SYNC else {
            throw PostgresError(.connectionFailed, "the pipeline did not end with its sync point")
        }
        PQclear(sync)
        guard PQexitPipelineMode(conn) == 1 else { throw PostgresError(.connectionFailed, Self.message(conn)) }
        if let firstError { throw firstError }
        return results
    }

    /// Waits up to `timeoutMilliseconds` for notifications (`LISTEN`ed channels) and returns
    /// those that arrived as (channel, payload); throws when the connection is lost.
    public func waitForNotifications(timeoutMilliseconds: Int32) throws -> [(channel: String, payload: String)] {
        guard let conn else { throw PostgresError(.connectionFailed, "connection is closed") }
        var descriptor = pollfd(fd: PQsocket(conn), events: Int16(POLLIN), revents: 0)
        guard descriptor.fd >= 0 else { throw PostgresError(.connectionFailed, "no socket") }
        let ready = poll(&descriptor, 1, timeoutMilliseconds)
        if ready < 0 && errno != EINTR { throw PostgresError(.connectionFailed, "poll failed") }
        guard PQconsumeInput(conn) == 1, PQstatus(conn) == CONNECTION_OK else {
            throw PostgresError(.connectionFailed, Self.message(conn))
        }
        var out: [(String, String)] = []
        while let notify = PQnotifies(conn) {
            out.append((String(cString: notify.pointee.relname), String(cString: notify.pointee.extra)))
            PQfreemem(notify)
        }
        return out
    }

    /// Runs a script of several statements without parameters (`PQexec`): migrations only.
    public func executeScript(_ sql: String) throws {
        guard let conn else { throw PostgresError(.connectionFailed, "connection is closed") }
        _ = try consume(PQexec(conn, sql), conn)
    }

    private func consume(_ result: OpaquePointer?, _ conn: OpaquePointer) throws -> PostgresRows {
        guard let result else {
            throw PostgresError(.connectionFailed, Self.message(conn))
        }
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_TUPLES_OK, PGRES_COMMAND_OK, PGRES_EMPTY_QUERY:
            let nrows = Int(PQntuples(result))
            let ncols = Int(PQnfields(result))
            var names: [String] = []
            names.reserveCapacity(ncols)
            for c in 0..<ncols { names.append(String(cString: PQfname(result, Int32(c)))) }
            let index = PostgresRow.ColumnIndex(names)
            var rows: [PostgresRow] = []
            rows.reserveCapacity(nrows)
            for r in 0..<nrows {
                var values: [String?] = []
                values.reserveCapacity(ncols)
                for c in 0..<ncols {
                    if PQgetisnull(result, Int32(r), Int32(c)) == 1 {
                        values.append(nil)
                    } else {
                        values.append(String(cString: PQgetvalue(result, Int32(r), Int32(c))))
                    }
                }
                rows.append(PostgresRow(columnIndex: index, values: values))
            }
            let affected = Int(String(cString: PQcmdTuples(result))) ?? 0
            return PostgresRows(columns: names, rows: rows, affectedRows: affected)
        default:
            let sqlState = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
            let primary = PQresultErrorField(result, Int32(UInt8(ascii: "M"))).map { String(cString: $0) }
            let message = primary ?? String(cString: PQresultErrorMessage(result))
            if PQstatus(conn) != CONNECTION_OK {
                throw PostgresError(.connectionFailed, sqlState: sqlState, message)
            }
            throw PostgresError(.queryFailed, sqlState: sqlState, message)
        }
    }

    private static func message(_ conn: OpaquePointer) -> String {
        String(cString: PQerrorMessage(conn)).trimmingWhitespace()
    }
}

extension String {
    func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let l = s.last, l.isWhitespace { s.removeLast() }
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        return String(s)
    }
}

private func withArrayOfCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    let pointers = strings.map { strdup($0) }
    defer { pointers.forEach { free($0) } }
    var constPointers = pointers.map { UnsafePointer($0) } + [nil]
    return constPointers.withUnsafeMutableBufferPointer { body($0.baseAddress!) }
}

/// Refuses a parameter holding a NUL. libpq reads a text-format parameter up to its first NUL
/// (lengths are honoured only for binary format), so the value would reach the server cut short
/// and silently mean something else; Postgres text cannot hold a NUL anyway. Refused before
/// anything is sent, with the SQLSTATE the server uses for it (22021).
private func checkParameters(_ strings: [String?]) throws {
    for (i, value) in strings.enumerated() {
        guard var value else { continue }
        // memchr over the contiguous UTF-8: a batch's parameters run to megabytes, and
        // `utf8.contains` walks them a byte at a time.
        let hasNUL = value.withUTF8 { bytes in
            guard let base = bytes.baseAddress else { return false }
            return memchr(base, 0, bytes.count) != nil
        }
        if hasNUL {
            throw PostgresError(.invalidParameter, sqlState: "22021",
                                "parameter $\(i + 1) contains a NUL character, which Postgres text cannot hold")
        }
    }
}

/// Bind parameters as libpq takes them: NUL-terminated copies, their byte lengths, text format.
private func withParameters<R>(_ strings: [String?],
                               _ body: ([UnsafePointer<CChar>?], [Int32], [Int32]) throws -> R) throws -> R {
    try checkParameters(strings)
    let pointers = strings.map { $0.map { strdup($0) } ?? nil }
    defer { pointers.forEach { free($0) } }
    let lengths = strings.map { Int32(clamping: $0?.utf8.count ?? 0) }
    let formats = [Int32](repeating: 0, count: strings.count)
    return try body(pointers.map { UnsafePointer($0) }, lengths, formats)
}
