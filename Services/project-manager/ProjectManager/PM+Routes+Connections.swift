import FlukeCrypto
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
            try fields.allowOnly(["token", "app_id", "installation_id", "private_key"])
            let appFields = ["app_id", "installation_id", "private_key"].filter(fields.has)
            if fields.has("token"), let extra = appFields.first {
                throw PMError.invalid(field: extra, "give a token, or an app's app_id, installation_id and private_key: not both")
            }
            if !appFields.isEmpty {
                return try created(try await connectGitHubApp(fields, principal, requestID: context.requestID), request, context)
            }
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

    /// A GitHub App installation: the key must sign an app JWT GitHub accepts for the
    /// installation, and an installation token must be had with it, before anything is kept.
    func connectGitHubApp(_ fields: RequestFields, _ principal: Principal, requestID: String) async throws -> ConnectionView {
        guard let appID = try fields.int("app_id", in: 1...Int(Int32.max)) else { throw PMError.invalid(field: "app_id", "is required (the GitHub App's id)") }
        guard let installation = try fields.int("installation_id", in: 1...Int(Int64.max / 2)) else {
            throw PMError.invalid(field: "installation_id", "is required (the app installation's id)")
        }
        let pem = try fields.string("private_key", required: true, maxLength: 16 << 10)!
        do {
            _ = try RSAPrivateKey(pem: pem)
        } catch {
            throw PMError.invalid(field: "private_key", "must be the app's RSA private key in PEM, 2048 bits or more (\(error))")
        }
        let app = GitHubAccess.AppCredential(appID: String(appID), installationID: installation, privateKey: pem)
        let info: JSONValue
        do throws(GitHubAPI.Failure) {
            info = try await githubAccess.appCall(.GET, "/app/installations/\(installation)", app)
            _ = try await githubAccess.appCall(.POST, "/app/installations/\(installation)/access_tokens", app)
        } catch {
            switch error {
            case .unauthorized(let message): throw PMError.invalid(field: "private_key", "GitHub refused the app JWT signed with it (\(message))")
            case .notFound: throw PMError.invalid(field: "installation_id", "GitHub knows no such installation of app \(appID)")
            case .rateLimited(let seconds): throw PMError.upstreamRateLimited(retryAfter: seconds)
            case .failed(let reason): throw PMError.upstream(reason)
            }
        }
        var account: [String: JSONValue] = ["app_id": .number(Double(appID)), "installation_id": .number(Double(installation))]
        if let login = info["account"]?["login"] { account["login"] = login }
        for key in ["app_slug", "repository_selection", "target_type"] { if let value = info[key], value != .null { account[key] = value } }
        let sealed = String(decoding: try JSONEncoder().encode(app), as: UTF8.self)
        return try await connections.create(by: principal, requestID: requestID, provider: "github", kind: "app",
                                            account: .object(account), url: nil, credential: sealed)
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
