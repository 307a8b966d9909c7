import FlukeModels
import FlukeRuntime
import Foundation
import Hummingbird

extension LogQuery {
    static let defaultLimit = 1000
    static let maximumLimit = 10_000
    /// `since_minutes` reaches back at most ten years (retention bounds it anyway).
    static let maximumMinutes = 5_256_000

    /// The seed's parameters (`app_name`, `deployment_id`, `level`, `event_type`,
    /// `since_minutes`, `limit`, `offset`) and `since`, `until`, `q`, `project_id`, `order`,
    /// `cursor`; 422 naming the parameter for a bad value. A token bound to a project lists only
    /// its project; naming another one is 404, as for every other resource it cannot see.
    init(request: Request, principal: Principal, now: Date = Date()) throws {
        let query = request.uri.queryParameters
        func value(_ name: String) -> String? { query[Substring(name)].map(String.init) }
        func int(_ name: String, default fallback: Int, in range: ClosedRange<Int>) throws -> Int {
            guard let raw = value(name) else { return fallback }
            guard let n = Int(raw), range.contains(n) else {
                throw Problem.invalid(name, "must be an integer from \(range.lowerBound) to \(range.upperBound)")
            }
            return n
        }
        func time(_ name: String) throws -> Date? {
            guard let raw = value(name) else { return nil }
            guard let date = RFC3339.parse(raw) else { throw Problem.invalid(name, "must be an RFC 3339 time such as 2026-02-03T10:00:00Z") }
            return date
        }

        if let app = value("app_name") {
            guard LogEntryValidator.isAppName(app) else { throw Problem.invalid("app_name", "must be 1-63 letters, digits, '-' or '_'") }
            appName = app
        }
        deploymentID = try Parameters.uuidQuery(request, "deployment_id")
        minimumLevel = try Parameters.enumQuery(request, "level", as: UnifiedLogEntry.Level.self, normalise: { $0.lowercased() })?.storedRank ?? 0
        eventType = try Parameters.enumQuery(request, "event_type", as: UnifiedLogEntry.EventKind.self)
        if let q = value("q") {
            guard (1...256).contains(q.count) else { throw Problem.invalid("q", "must have 1 to 256 characters") }
            text = q
        }
        switch value("order") {
        case nil, "desc"?: ascending = false
        case "asc"?: ascending = true
        default: throw Problem.invalid("order", "must be asc or desc")
        }
        limit = try int("limit", default: Self.defaultLimit, in: 1...Self.maximumLimit)
        offset = try int("offset", default: 0, in: 0...1_000_000)

        let minutes = try int("since_minutes", default: 60, in: 1...Self.maximumMinutes)
        if let explicit = try time("since") {
            guard value("since_minutes") == nil else { throw Problem.invalid("since_minutes", "cannot be combined with since") }
            since = explicit
        } else {
            since = now.addingTimeInterval(-Double(minutes) * 60)
        }
        until = try time("until")
        if let until, until <= since { throw Problem.invalid("until", "must be later than since") }
        if let raw = value("cursor") {
            let cursor = try LogCursor(decoding: raw, ascending: ascending)
            afterSequence = cursor.after
            since = cursor.since
        }

        projectID = try Parameters.uuidQuery(request, "project_id")
        if let bound = principal.projectID {
            if let asked = projectID, asked != bound { throw Problem.notFound("no such project") }
            projectID = bound
        }
    }
}
