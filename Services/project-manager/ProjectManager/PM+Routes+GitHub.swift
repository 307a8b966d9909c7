import FlukeModels
import FlukeRuntime
import Foundation
import Hummingbird

/// What a GitHub connection can see: repositories, and a repository's open issues and pull
/// requests (`?connection_id=`, which may be left out when the tenant has one GitHub connection).
extension PMRoutes {
    /// A listing from GitHub: every item (up to 1,000) and whether GitHub had more.
    struct GitHubList: Codable, Sendable, ResponseEncodable {
        var items: [JSONValue]
        var truncated: Bool
    }

    func registerGitHub(_ routes: inout RouteRecorder) {
        routes.on(.get, "/api/v1/connections/github/repos") { request, context in
            // An app installation lists what it was given; a user's token, what the user can see.
            let items = try await githubList(request, context, "/user/repos", query: "sort=updated",
                                             app: ("/installation/repositories", "repositories"))
            return GitHubList(items: items.items.map(Self.repository), truncated: items.truncated)
        }
        routes.on(.get, "/api/v1/connections/github/repos/{owner}/{repo}/issues") { request, context in
            let path = try Self.repositoryPath(context)
            let items = try await githubList(request, context, path + "/issues", query: "state=open")
            // GitHub lists pull requests among issues: they carry `pull_request`.
            return GitHubList(items: items.items.filter { $0["pull_request"] == nil }.map(Self.issue), truncated: items.truncated)
        }
        routes.on(.get, "/api/v1/connections/github/repos/{owner}/{repo}/pulls") { request, context in
            let path = try Self.repositoryPath(context)
            let items = try await githubList(request, context, path + "/pulls", query: "state=open")
            return GitHubList(items: items.items.map(Self.pull), truncated: items.truncated)
        }
    }

    private func githubList(_ request: Request, _ context: FleetRequestContext, _ path: String, query: String,
                            app: (path: String, itemsKey: String)? = nil) async throws -> (items: [JSONValue], truncated: Bool) {
        let principal = try context.tenantWidePrincipal(requiring: .admin)
        let (id, kind, token) = try await githubAccess.token(try Parameters.uuidQuery(request, "connection_id"), tenant: principal.tenantID)
        do throws(GitHubAPI.Failure) {
            if kind == "app", let app { return try await github.list(app.path, itemsKey: app.itemsKey, token: token, connection: id) }
            return try await github.list(path, query: query, token: token, connection: id)
        } catch {
            throw try await githubProblem(error, connection: id, principal)
        }
    }

    /// What a GitHub failure is to the caller; a refused token also marks the connection invalid.
    func githubProblem(_ error: GitHubAPI.Failure, connection id: UUID, _ principal: Principal) async throws -> PMError {
        switch error {
        case .unauthorized(let message):
            try await connections.markInvalid(id, principal, reason: "GitHub refused the token: \(message)")
            return PMError.conflict(field: "connection_id", "GitHub refused the connection's token (\(message)); it is now marked invalid")
        case .rateLimited(let seconds): return PMError.upstreamRateLimited(retryAfter: seconds)
        case .notFound: return PMError.notFound("repository (or the token cannot see it)")
        case .failed(let reason): return PMError.upstream(reason)
        }
    }

    /// `/repos/{owner}/{repo}` from the path, each part as GitHub allows it.
    static func repositoryPath(_ context: FleetRequestContext) throws -> String {
        var parts: [String] = []
        for name in ["owner", "repo"] {
            let value = context.parameters.get(name) ?? ""
            guard (1...100).contains(value.count), value != ".", value != "..",
                  value.unicodeScalars.allSatisfy({ $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "-_.".unicodeScalars.contains($0)) })
            else { throw PMError.invalid(field: name, "must be a GitHub \(name) name: letters, digits, -, _ and .") }
            parts.append(value)
        }
        return "/repos/\(parts[0])/\(parts[1])"
    }

    static func pick(_ item: JSONValue, _ keys: [String]) -> JSONValue {
        var out: [String: JSONValue] = [:]
        for key in keys { out[key] = item[key] ?? .null }
        return .object(out)
    }

    static func repository(_ item: JSONValue) -> JSONValue {
        pick(item, ["id", "node_id", "full_name", "private", "default_branch", "html_url", "description", "updated_at"])
    }

    static func issue(_ item: JSONValue) -> JSONValue {
        guard case .object(var out) = pick(item, ["id", "node_id", "number", "title", "state", "html_url", "updated_at"]) else { return .null }
        if case .array(let labels)? = item["labels"] { out["labels"] = .array(labels.compactMap { $0["name"] }) }
        return .object(out)
    }

    static func pull(_ item: JSONValue) -> JSONValue {
        guard case .object(var out) = pick(item, ["id", "node_id", "number", "title", "state", "draft", "html_url", "updated_at"]) else { return .null }
        out["head"] = item["head"]?["ref"] ?? .null
        out["base"] = item["base"]?["ref"] ?? .null
        return .object(out)
    }
}
