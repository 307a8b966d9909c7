import FlukeModels
import FlukeRuntime
import Foundation
import Hummingbird

/// `/api/v1/connections`: a tenant's GitHub and Coder connections, for its admins. A credential
/// is checked with the provider before it is kept, sealed, and never shown again.
extension PMRoutes {
    func registerConnections(_ routes: inout RouteRecorder) {
        routes.on(.post, "/api/v1/connections/github") { request, context in
            let principal = try context.tenantWidePrincipal(requiring: .admin)
            let fields = try await RequestFields.read(request, context: context)
            try fields.allowOnly(["token"])
            let token = try Self.credential(fields, "token")
            let account = try await githubAccount(token)
            return try created(try await connections.create(by: principal, requestID: context.requestID, provider: "github",
                                                            kind: "token", account: account, url: nil, credential: token),
                               request, context)
        }
        routes.on(.post, "/api/v1/connections/coder") { request, context in
            let principal = try context.tenantWidePrincipal(requiring: .admin)
            let fields = try await RequestFields.read(request, context: context)
            try fields.allowOnly(["url", "token"])
            let url = try Self.coderURL(try fields.string("url", required: true, maxLength: 2048)!)
            let token = try Self.credential(fields, "token")
            let account = try await coderAccount(url, token)
            return try created(try await connections.create(by: principal, requestID: context.requestID, provider: "coder",
                                                            kind: "token", account: account, url: url, credential: token),
                               request, context)
        }
        routes.on(.get, "/api/v1/connections") { _, context in
            Page(items: try await connections.list(try context.tenantWidePrincipal(requiring: .admin)), nextCursor: nil)
        }
        routes.on(.get, "/api/v1/connections/{connection_id}") { _, context in
            try await connections.get(try Parameters.uuid(context, "connection_id"), try context.tenantWidePrincipal(requiring: .admin))
        }
        routes.on(.delete, "/api/v1/connections/{connection_id}") { _, context in
            let principal = try context.tenantWidePrincipal(requiring: .admin)
            try await connections.delete(try Parameters.uuid(context, "connection_id"), principal, requestID: context.requestID)
            return Response(status: .noContent)
        }
    }

    /// A token as given: no spaces, printable ASCII, at most 1,024 characters.
    static func credential(_ fields: RequestFields, _ name: String) throws -> String {
        let token = try fields.string(name, required: true, maxLength: 1024)!
        guard token.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw PMError.invalid(field: name, "must be printable ASCII without spaces")
        }
        return token
    }

    /// A Coder deployment's base URL: http(s), no credentials, query or fragment; without a trailing slash.
    static func coderURL(_ raw: String) throws -> String {
        guard let components = URLComponents(string: raw), let scheme = components.scheme?.lowercased(),
              ["http", "https"].contains(scheme), components.host?.isEmpty == false,
              components.user == nil, components.password == nil, components.query == nil, components.fragment == nil else {
            throw PMError.invalid(field: "url", "must be the Coder deployment's http(s) base URL, e.g. https://coder.example.com")
        }
        var url = raw
        while url.hasSuffix("/") { url.removeLast() }
        return url
    }

    /// `GET /user` with the token: who it acts as; a refused token is the caller's error.
    func githubAccount(_ token: String) async throws -> JSONValue {
        let answer: ProviderClient.Answer
        do {
            answer = try await providers.get(config.githubAPIURL + "/user", headers: [
                ("Authorization", "Bearer \(token)"), ("Accept", "application/vnd.github+json"),
                ("X-GitHub-Api-Version", "2022-11-28")])
        } catch {
            throw error.refused
                ? PMError.unavailable("GITHUB_API_URL is refused by the outbound policy: \(error.reason)")
                : PMError.upstream("GitHub \(error.reason)")
        }
        switch answer.status {
        case 200:
            guard let login = answer.json?["login"]?.stringValue else { throw PMError.upstream("GitHub's /user answer has no login") }
            var account: [String: JSONValue] = ["login": .string(login)]
            for key in ["id", "name", "html_url"] { if let value = answer.json?[key], value != .null { account[key] = value } }
            return .object(account)
        case 401, 403:
            throw PMError.invalid(field: "token", "GitHub refused it (\(answer.status): \(answer.json?["message"]?.stringValue ?? "no reason given"))")
        default:
            throw PMError.upstream("GitHub answered \(answer.status) to GET /user")
        }
    }

    /// `GET /api/v2/users/me` with the session token: who it acts as.
    func coderAccount(_ url: String, _ token: String) async throws -> JSONValue {
        let answer: ProviderClient.Answer
        do {
            answer = try await providers.get(url + "/api/v2/users/me", headers: [("Coder-Session-Token", token), ("Accept", "application/json")])
        } catch {
            throw PMError.invalid(field: "url", error.refused ? "is refused: \(error.reason)" : "Coder \(error.reason)")
        }
        switch answer.status {
        case 200:
            guard let username = answer.json?["username"]?.stringValue else {
                throw PMError.invalid(field: "url", "answered /api/v2/users/me without a username: is it a Coder deployment?")
            }
            var account: [String: JSONValue] = ["username": .string(username)]
            for key in ["id", "email"] { if let value = answer.json?[key], value != .null { account[key] = value } }
            return .object(account)
        case 401, 403:
            throw PMError.invalid(field: "token", "Coder refused it (\(answer.status): \(answer.json?["message"]?.stringValue ?? "no reason given"))")
        default:
            throw PMError.invalid(field: "url", "answered \(answer.status) to GET /api/v2/users/me: is it a Coder deployment?")
        }
    }
}
