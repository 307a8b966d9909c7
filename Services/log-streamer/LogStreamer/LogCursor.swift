import FlukeRuntime
import Foundation

/// Where the next page of `GET /api/v1/logs` starts: after a stream sequence, in one order, with
/// the window's lower bound of the first page. Sequences only grow, so entries that arrive while
/// a client pages newest first land before its cursor and never shift a page; and the bound stays
/// put rather than sliding forward with `since_minutes` and the clock.
struct LogCursor: Equatable {
    var ascending: Bool
    var after: Int64
    var since: Date

    /// Opaque to clients (base64url of `a|d:<seq>:<since in ms>`).
    var encoded: String {
        Pagination.cursor("\(ascending ? "a" : "d"):\(after):\(Int64((since.timeIntervalSince1970 * 1000).rounded(.down)))")
    }

    /// 422 naming `cursor` when it is not one of ours, or was made for the other order.
    init(decoding raw: String, ascending: Bool) throws {
        let parts = (try Pagination.decodeCursor(raw) ?? "").split(separator: ":")
        guard parts.count == 3, parts[0] == "a" || parts[0] == "d", let after = Int64(parts[1]), after >= 0,
              let millis = Int64(parts[2]) else {
            throw Problem.invalid("cursor", "is not a cursor returned by this API")
        }
        guard (parts[0] == "a") == ascending else {
            throw Problem.invalid("cursor", "was made for the other order; pass the same order as the first page")
        }
        self.init(ascending: ascending, after: after, since: Date(timeIntervalSince1970: Double(millis) / 1000))
    }

    init(ascending: Bool, after: Int64, since: Date) {
        self.ascending = ascending
        self.after = after
        self.since = since
    }
}
