import FlukeModels
import FlukeRuntime
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore

/// A live tail asked for: `ws://host:8767/?app_name=…&level=…` or `/api/v1/logs/stream?…`,
/// checked the same way whether it comes as an upgrade or as a plain request that is then told
/// why not (401 without a valid token, 403 without `logs:read`, 422 for a bad parameter).
struct TailRequest: Sendable {
    enum Resume: Sendable, Equatable {
        /// Replay what came after this entry of the tenant's.
        case afterID(String)
        /// Replay what is stamped later than this.
        case since(Date)
    }

    static let paths: Set<String> = ["/", "/api/v1/logs/stream"]
    static let parameters: Set<String> = TailFilter.fields.union(["since_id", "since", "access_token"])

    var principal: Principal
    var filter: TailFilter
    var resume: Resume?

    /// Reads and authenticates a tail request; throws the problem to answer. The token comes
    /// from `Authorization: Bearer …` or, for browsers, which cannot set headers on a WebSocket,
    /// from `access_token` (RFC 6750 §2.3). The query is never logged.
    static func parse(uri: String, authorization: String?, authenticator: Authenticator) async throws -> TailRequest {
        let query = URI(uri).queryParameters
        func value(_ name: String) -> String? { query[Substring(name)].map(String.init) }
        let token: String
        if let header = authorization {
            guard let bearer = AuthMiddleware.bearerToken(header) else {
                throw AuthError.invalid("the Authorization header must be Bearer <token>").problem
            }
            token = bearer
        } else if let fromQuery = value("access_token"), !fromQuery.isEmpty {
            token = fromQuery
        } else {
            throw AuthError.missingCredentials.problem
        }
        let principal: Principal
        do {
            principal = try await authenticator.authenticate(token: token)
        } catch let error as AuthError {
            throw error.problem
        }
        try principal.require(.logsRead)

        if let unknown = query.map({ String($0.key) }).sorted().first(where: { !parameters.contains($0) }) {
            throw Problem.invalid(unknown, "is not a parameter of the live tail (\(parameters.sorted().joined(separator: ", ")))")
        }
        let filter: TailFilter
        do {
            filter = try TailFilter({ (name: String) throws(TailFilterError) -> String? in value(name) },
                                    boundProject: principal.projectID)
        } catch {
            throw error.field == "project_id" && principal.projectID != nil
                ? Problem.notFound("no such project") : Problem.invalid(error.field, error.detail)
        }
        var resume: Resume?
        if let id = value("since_id") {
            guard (1...128).contains(id.utf8.count), id.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
                throw Problem.invalid("since_id", "must be an entry id: 1-128 printable ASCII characters")
            }
            resume = .afterID(id)
        }
        if let raw = value("since") {
            guard resume == nil else { throw Problem.invalid("since", "cannot be combined with since_id") }
            guard let date = RFC3339.parse(raw) else {
                throw Problem.invalid("since", "must be an RFC 3339 time such as 2026-02-03T10:00:00Z")
            }
            resume = .since(date)
        }
        return TailRequest(principal: principal, filter: filter, resume: resume)
    }
}
