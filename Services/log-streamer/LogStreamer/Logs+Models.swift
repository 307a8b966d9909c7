import FlukeModels
import FlukeRuntime
import Foundation

/// Levels as the table stores them: `level=warn` asks for `level >= 2`, warn and error.
extension UnifiedLogEntry.Level {
    var storedRank: Int {
        switch self {
        case .debug: 0
        case .info: 1
        case .warn: 2
        case .error: 3
        }
    }
}

/// An entry that passed ``LogEntryValidator``, with the tenant it belongs to, and its JSON as it
/// is published and stored.
struct CheckedEntry: Sendable {
    var tenantID: UUID
    var entry: UnifiedLogEntry
    /// The entry encoded once (sorted keys, RFC 3339 timestamps with milliseconds).
    var json: String

    init(tenantID: UUID, entry: UnifiedLogEntry) throws {
        self.tenantID = tenantID
        self.entry = entry
        json = String(decoding: try entry.canonicalJSON(), as: UTF8.self)
    }

    /// `fluke.logs.<tenant>.<app_name>`, or `….<tenant>._` for an entry of no app.
    var subject: String { UnifiedLogEntry.subject(tenantID: tenantID, app: entry.flukedeployMetadata?.appName ?? "_") }
}

/// A row of `logs.entries`: a checked entry and its place in `FLUKE_LOGS`.
struct StoredEntry: Sendable {
    var checked: CheckedEntry
    /// The entry's `FLUKE_LOGS` stream sequence: the order lists and cursors follow.
    var seq: Int64
}

/// `GET /api/v1/logs`, parsed (see `Logs+Routes+Query.swift`).
struct LogQuery: Sendable {
    var appName: String?
    var deploymentID: UUID?
    /// The lowest level rank listed (0: every level).
    var minimumLevel = 0
    var eventType: UnifiedLogEntry.EventKind?
    /// Entries with `timestamp >= since` (from `since`, or now minus `since_minutes`).
    var since: Date
    /// Entries with `timestamp < until`.
    var until: Date?
    /// A substring of `message`.
    var text: String?
    /// Only this project's entries (a project-bound token's own project, always).
    var projectID: UUID?
    /// Oldest first (`order=asc`); newest first otherwise.
    var ascending = false
    /// Entries after this stream sequence in the listing's order (from `cursor`).
    var afterSequence: Int64?
    var limit = 1000
    var offset = 0
}

/// A page of entries as JSON text (stored entries are never decoded to be listed again).
struct LogPage: Sendable {
    var items: [String]
    var nextCursor: String?

    /// `{"items":[…],"next_cursor":…}`, the fleet's ``Page`` shape.
    var json: String {
        let cursor = nextCursor.map { "\"\($0)\"" } ?? "null"
        return "{\"items\":[" + items.joined(separator: ",") + "],\"next_cursor\":" + cursor + "}"
    }
}
