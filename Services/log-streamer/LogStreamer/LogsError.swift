import FlukeRuntime
import Hummingbird

/// What log-streamer refuses, in its own terms; ``problem`` is how the HTTP edge says it.
enum LogsError: Error, ProblemConvertible, CustomStringConvertible {
    /// Entry `index` has a bad `field` (a path below the entry, `source.service`; empty for the
    /// entry itself): 422 naming `[index].field`.
    case invalidEntry(index: Int, field: String, detail: String)
    /// Entry `index` is not JSON at all (an NDJSON line): 400 naming `[index]`.
    case malformedEntry(index: Int, detail: String)
    /// The batch as a whole (empty, too many entries, not an array): 422 or 400 naming `body`.
    case invalidBatch(status: HTTPResponse.Status, detail: String)

    /// The field path an error names: `[3].level`, `[3]`, or `body`.
    var field: String {
        switch self {
        case .invalidEntry(let index, let field, _): field.isEmpty ? "[\(index)]" : "[\(index)].\(field)"
        case .malformedEntry(let index, _): "[\(index)]"
        case .invalidBatch: "body"
        }
    }

    var detail: String {
        switch self {
        case .invalidEntry(_, _, let detail), .malformedEntry(_, let detail), .invalidBatch(_, let detail): detail
        }
    }

    var description: String { "\(field) \(detail)" }

    var problem: Problem {
        switch self {
        case .invalidEntry: Problem.invalid(field, detail)
        case .malformedEntry: Problem(.badRequest, "Malformed JSON", detail: detail, field: field)
        case .invalidBatch(let status, _): Problem(status, status == .badRequest ? "Malformed JSON" : "Invalid field",
                                                   detail: detail, field: field)
        }
    }
}
