import FlukeCrypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Synchronization

/// GitHub's REST API as far as connections use it (`GET /user`), with its wire format: a
/// `Bearer` (or `token`) credential, `Bad credentials` 401s, the 403 GitHub gives a request
/// without `User-Agent`, rate-limit headers on every answer.
public final class FakeGitHub: Sendable {
    /// token → the `/user` answer for it (JSON).
    let users: [String: Data]
    /// How many repositories `/user/repos` lists (in pages, as GitHub does).
    let repositories: Int
    private let seen = Mutex<[HTTPFields]>([])
    private let revoked = Mutex<Set<String>>([])
    private let notModified = Mutex(0)
    private let limited = Mutex<Set<String>>([])
    /// octo/app's issues and pull requests (GitHub lists both under `/issues`).
    private let issues = Mutex<[Issue]>([
        Issue(number: 1, title: "Checkout fails", labels: ["bug"], body: "Steps:\n1. add to cart\n2. pay"),
        Issue(number: 2, title: "Fix checkout", isPull: true),
    ])
    /// octo/app's repository id.
    public static let appRepositoryID = 4242

    /// An issue (or pull request) of octo/app.
    public struct Issue: Sendable {
        public var number: Int
        public var title: String
        public var open = true
        public var labels: [String] = []
        public var body = ""
        public var isPull = false

        public init(number: Int, title: String, open: Bool = true, labels: [String] = [], body: String = "", isPull: Bool = false) {
            self.number = number
            self.title = title
            self.open = open
            self.labels = labels
            self.body = body
            self.isPull = isPull
        }

        /// As GitHub's REST API and `issues` webhooks write an issue.
        public var json: [String: Any] {
            var out: [String: Any] = [
                "id": 100 + number, "node_id": (isPull ? "PR_" : "I_") + "\(number)", "number": number, "title": title,
                "state": open ? "open" : "closed", "body": body, "labels": labels.map { ["name": $0, "color": "d73a4a"] },
                "html_url": "https://github.com/octo/app/\(isPull ? "pull" : "issues")/\(number)", "updated_at": "2026-11-20T10:00:00Z",
                "user": ["login": "octocat", "id": 1],
            ]
            if isPull { out["pull_request"] = ["url": "https://api.github.com/repos/octo/app/pulls/\(number)"] }
            return out
        }
    }

    public init(users: [String: Data], repositories: Int = 3) {
        self.users = users
        self.repositories = repositories
    }

    /// A GitHub App with one installation, on account `octo-org`: its JWTs must be RS256 under
    /// `publicKeyPEM` with `iss` the app id and at most 10 minutes of life, as GitHub checks them.
    public struct App: Sendable {
        public var id: Int
        public var installationID: Int
        public var publicKeyPEM: String
        /// How long the installation tokens it hands out live.
        public var tokenLifetime: TimeInterval = 3600

        public init(id: Int, installationID: Int, publicKeyPEM: String, tokenLifetime: TimeInterval = 3600) {
            (self.id, self.installationID, self.publicKeyPEM, self.tokenLifetime) = (id, installationID, publicKeyPEM, tokenLifetime)
        }
    }

    private let app = Mutex<App?>(nil)
    /// Installation token → when it expires.
    private let installationTokens = Mutex<[String: Date]>([:])
    private let exchanges = Mutex(0)

    public func register(_ app: App) { self.app.withLock { $0 = app } }

    // MARK: OAuth (login with GitHub)

    /// An OAuth app: its client credentials, and the GitHub user who approves its sign-ins.
    public struct OAuthApp: Sendable {
        public var clientID: String
        public var clientSecret: String
        public var login: String
        public var userID: Int
        public var email: String
        public var emailVerified: Bool
        /// How long user access tokens live (GitHub's default for expiring tokens: 8 hours).
        public var tokenLifetime: Int

        public init(clientID: String, clientSecret: String, login: String, userID: Int, email: String, emailVerified: Bool = true,
                    tokenLifetime: Int = 28_800) {
            (self.clientID, self.clientSecret, self.login, self.userID) = (clientID, clientSecret, login, userID)
            (self.email, self.emailVerified, self.tokenLifetime) = (email, emailVerified, tokenLifetime)
        }
    }

    private struct PendingCode: Sendable {
        var redirectURI: String
        var challenge: String
    }

    private let oauth = Mutex<OAuthApp?>(nil)
    private let codes = Mutex<[String: PendingCode]>([:])
    /// User access tokens → when they expire; refresh tokens not yet used.
    private let userTokens = Mutex<[String: Date]>([:])
    private let refreshTokens = Mutex<Set<String>>([])
    private let refreshes = Mutex(0)

    public func register(_ app: OAuthApp) { oauth.withLock { $0 = app } }
    /// How many refresh tokens it took (each once).
    public var refreshCount: Int { refreshes.withLock { $0 } }

    /// What a person's browser does at GitHub's authorize URL when they approve: GitHub checks
    /// the client and PKCE parameters, then sends the browser to `redirect_uri` with a code and
    /// the state. Returns that redirect's URL (or GitHub's refusal).
    public func approve(_ authorizeURL: String) -> (redirect: String?, refusal: String?) {
        guard let url = URLComponents(string: authorizeURL), url.path == "/login/oauth/authorize" else { return (nil, "not the authorize URL") }
        let q = Dictionary((url.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { a, _ in a })
        guard let app = oauth.withLock({ $0 }), q["client_id"] == app.clientID else { return (nil, "unknown client_id") }
        guard q["code_challenge_method"] == "S256", let challenge = q["code_challenge"], challenge.count == 43,
              let redirect = q["redirect_uri"], let state = q["state"] else { return (nil, "missing PKCE, redirect_uri or state") }
        let code = UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(20).lowercased()
        codes.withLock { $0[code] = PendingCode(redirectURI: redirect, challenge: challenge) }
        var back = URLComponents(string: redirect)!
        back.queryItems = [URLQueryItem(name: "code", value: code), URLQueryItem(name: "state", value: state)]
        return (back.string, nil)
    }

    /// GitHub's token endpoint: an authorization code with its PKCE verifier, or a refresh token
    /// (each usable once: refresh tokens rotate). Errors are 200 with `error`, as GitHub answers.
    private func token(_ request: Request) async throws -> Response {
        let headers: HTTPFields = [.contentType: "application/json; charset=utf-8"]
        let body = String(buffer: try await request.body.collect(upTo: 1 << 16))
        var form: [String: String] = [:]
        for pair in body.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? "" }
            if parts.count == 2 { form[parts[0]] = parts[1] }
        }
        guard let app = oauth.withLock({ $0 }), form["client_id"] == app.clientID, form["client_secret"] == app.clientSecret else {
            return Self.json(.ok, headers, ["error": "incorrect_client_credentials",
                                            "error_description": "The client_id and/or client_secret passed are incorrect."])
        }
        switch form["grant_type"] ?? "authorization_code" {
        case "refresh_token":
            guard let refresh = form["refresh_token"], refreshTokens.withLock({ $0.remove(refresh) != nil }) else {
                return Self.json(.ok, headers, ["error": "bad_refresh_token", "error_description": "The refresh token passed is incorrect or expired."])
            }
            refreshes.withLock { $0 += 1 }
        default:
            guard let code = form["code"], let pending = codes.withLock({ $0.removeValue(forKey: code) }) else {
                return Self.json(.ok, headers, ["error": "bad_verification_code", "error_description": "The code passed is incorrect or expired."])
            }
            guard form["redirect_uri"] == pending.redirectURI else {
                return Self.json(.ok, headers, ["error": "redirect_uri_mismatch", "error_description": "The redirect_uri MUST match the registered callback URL for this application."])
            }
            let verifier = form["code_verifier"] ?? ""
            guard Base64URL.encode(Crypto.sha256(Array(verifier.utf8))) == pending.challenge else {
                return Self.json(.ok, headers, ["error": "bad_verification_code", "error_description": "The code_verifier does not match the code_challenge."])
            }
        }
        let access = "ghu_" + UUID().uuidString.replacingOccurrences(of: "-", with: "")
        let refresh = "ghr_" + UUID().uuidString.replacingOccurrences(of: "-", with: "")
        userTokens.withLock { $0[access] = Date().addingTimeInterval(TimeInterval(app.tokenLifetime)) }
        refreshTokens.withLock { _ = $0.insert(refresh) }
        return Self.json(.ok, headers, ["access_token": access, "expires_in": app.tokenLifetime, "refresh_token": refresh,
                                        "refresh_token_expires_in": 15_897_600, "scope": "", "token_type": "bearer"])
    }
    /// How many installation tokens it handed out.
    public var tokenExchanges: Int { exchanges.withLock { $0 } }

    /// GitHub's check of an app JWT: nil when accepted, else the 401 it answers.
    private func checkAppJWT(_ request: Request, installation: String?) -> Response? {
        var headers: HTTPFields = [.contentType: "application/json; charset=utf-8"]
        headers[HTTPField.Name("x-github-request-id")!] = "F00D:1234"
        guard let app = app.withLock({ $0 }), let key = try? RSAPublicKey(pem: app.publicKeyPEM) else {
            return Self.json(.unauthorized, headers, ["message": "Integration not found"])
        }
        let auth = request.headers[.authorization] ?? ""
        guard auth.hasPrefix("Bearer "), let claims = RS256JWT.verify(String(auth.dropFirst(7)), key: key) else {
            return Self.json(.unauthorized, headers, ["message": "A JSON web token could not be decoded",
                                                     "documentation_url": "https://docs.github.com/rest"])
        }
        let now = Date().timeIntervalSince1970
        guard let iat = claims["iat"] as? Double, let exp = claims["exp"] as? Double, exp - iat <= 600, exp > now, iat <= now + 60 else {
            return Self.json(.unauthorized, headers, ["message": "'Expiration time' claim ('exp') is too far in the future",
                                                     "documentation_url": "https://docs.github.com/rest"])
        }
        guard claims["iss"] as? String == String(app.id) || claims["iss"] as? Int == app.id else {
            return Self.json(.unauthorized, headers, ["message": "'Issuer' claim ('iss') must be an Integer"])
        }
        if let installation, installation != String(app.installationID) {
            return Self.json(.notFound, headers, ["message": "Not Found", "documentation_url": "https://docs.github.com/rest"])
        }
        return nil
    }

    /// Adds or replaces an issue of octo/app (as someone on GitHub would).
    public func put(_ issue: Issue) {
        issues.withLock { list in
            if let i = list.firstIndex(where: { $0.number == issue.number }) { list[i] = issue } else { list.append(issue) }
        }
    }

    public func issue(_ number: Int) -> Issue? { issues.withLock { $0.first { $0.number == number } } }

    /// A webhook delivery as GitHub sends it for octo/app: the JSON body and its headers
    /// (`X-GitHub-Event`, `X-GitHub-Delivery`, `X-Hub-Signature-256` = HMAC-SHA256 of the body under `secret`).
    public static func delivery(event: String, action: String?, issue: Issue?, secret: String) -> (body: Data, headers: HTTPFields) {
        var payload: [String: Any] = [
            "repository": ["id": appRepositoryID, "node_id": "R_app", "full_name": "octo/app", "private": false,
                           "html_url": "https://github.com/octo/app", "owner": ["login": "octo"]],
            "sender": ["login": "octocat", "id": 1],
        ]
        if let action { payload["action"] = action }
        if let issue { payload["issue"] = issue.json }
        if event == "ping" { payload["zen"] = "Keep it logically awesome."; payload["hook_id"] = 1 }
        let body = try! JSONSerialization.data(withJSONObject: payload, options: [.sortedKeys])
        var headers: HTTPFields = [.contentType: "application/json", .userAgent: "GitHub-Hookshot/044aadd"]
        headers[HTTPField.Name("X-GitHub-Event")!] = event
        headers[HTTPField.Name("X-GitHub-Delivery")!] = UUID().uuidString.lowercased()
        headers[HTTPField.Name("X-GitHub-Hook-ID")!] = "1"
        headers[HTTPField.Name("X-Hub-Signature-256")!] = "sha256=" + Crypto.hex(Crypto.hmacSHA256(key: Array(secret.utf8), message: Array(body)))
        return (body, headers)
    }

    public var requests: [HTTPFields] { seen.withLock { $0 } }
    /// How many 304s it answered (a matching `If-None-Match`).
    public var notModifiedCount: Int { notModified.withLock { $0 } }
    /// From now on the token gets 403 with `x-ratelimit-remaining: 0`, as GitHub answers a spent rate limit.
    public func spendRateLimit(_ token: String) { _ = limited.withLock { $0.insert(token) } }
    /// From now on the token gets 401, as a token revoked on GitHub does.
    public func revoke(_ token: String) { _ = revoked.withLock { $0.insert(token) } }

    /// Serves on a free port of 127.0.0.1 while `body` runs with its base URL.
    public func run<T: Sendable>(_ body: @escaping @Sendable (String) async throws -> T) async throws -> T {
        let router = Router()
        router.get("/user") { request, _ -> Response in
            switch self.authorize(request) {
            case .failure(let refusal): return refusal.response
            case .success(let (token, headers)):
                if let user = self.users[token] { return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: user))) }
                guard let app = self.oauth.withLock({ $0 }) else { return Self.json(.notFound, headers, ["message": "Not Found"]) }
                return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: Self.user(login: app.login, id: app.userID))))
            }
        }
        router.post("/login/oauth/access_token") { request, _ -> Response in try await self.token(request) }
        router.get("/user/emails") { request, _ -> Response in
            switch self.authorize(request) {
            case .failure(let refusal): return refusal.response
            case .success(let (_, headers)):
                guard let app = self.oauth.withLock({ $0 }) else { return Self.json(.notFound, headers, ["message": "Not Found"]) }
                let emails: [[String: Any]] = [
                    ["email": "\(app.login)@users.noreply.github.com", "primary": false, "verified": true, "visibility": NSNull()],
                    ["email": app.email, "primary": true, "verified": app.emailVerified, "visibility": "private"],
                ]
                let body = try! JSONSerialization.data(withJSONObject: emails)
                return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
            }
        }
        router.get("/app/installations/{id}") { request, context -> Response in
            if let refusal = self.checkAppJWT(request, installation: context.parameters.get("id")) { return refusal }
            let app = self.app.withLock { $0 }!
            return Self.json(.ok, [.contentType: "application/json; charset=utf-8"], [
                "id": app.installationID, "app_id": app.id, "app_slug": "fluke-fleet", "target_type": "Organization",
                "account": ["login": "octo-org", "id": 9919, "type": "Organization"], "repository_selection": "selected",
                "permissions": ["issues": "read", "pull_requests": "read", "metadata": "read"], "events": ["issues"]])
        }
        router.post("/app/installations/{id}/access_tokens") { request, context -> Response in
            if let refusal = self.checkAppJWT(request, installation: context.parameters.get("id")) { return refusal }
            let app = self.app.withLock { $0 }!
            let token = "ghs_" + UUID().uuidString.replacingOccurrences(of: "-", with: "")
            self.installationTokens.withLock { $0[token] = Date().addingTimeInterval(app.tokenLifetime) }
            self.exchanges.withLock { $0 += 1 }
            let expires = ISO8601DateFormatter().string(from: Date().addingTimeInterval(app.tokenLifetime))
            return Self.json(.created, [.contentType: "application/json; charset=utf-8"], [
                "token": token, "expires_at": expires, "permissions": ["issues": "read", "metadata": "read"],
                "repository_selection": "selected"])
        }
        router.get("/installation/repositories") { request, _ -> Response in
            switch self.authorize(request) {
            case .failure(let refusal): return refusal.response
            case .success(let (token, headers)):
                guard token.hasPrefix("ghs_") else {
                    return Self.json(.forbidden, headers, ["message": "You must authenticate with an installation access token in order to list repositories for an installation."])
                }
                return Self.json(.ok, headers, ["total_count": 1, "repository_selection": "selected", "repositories": [
                    ["id": Self.appRepositoryID, "node_id": "R_app", "full_name": "octo/app", "private": false, "default_branch": "main",
                     "html_url": "https://github.com/octo/app", "description": "The app", "updated_at": "2026-11-20T10:00:00Z"]]])
            }
        }
        router.get("/user/repos") { request, _ -> Response in
            let items: [[String: Any]] = (1...max(1, self.repositories)).prefix(self.repositories).map { n in
                ["id": 1000 + n, "node_id": "R_\(n)", "full_name": "octo/repo-\(n)", "private": n % 2 == 0, "default_branch": "main",
                 "html_url": "https://github.com/octo/repo-\(n)", "description": NSNull(), "updated_at": "2026-11-0\(n % 9 + 1)T10:00:00Z",
                 "owner": ["login": "octo"]]
            }
            return self.page(request, path: "/user/repos", items)
        }
        router.get("/repos/{owner}/{repo}") { request, context -> Response in
            guard context.parameters.get("owner") == "octo", context.parameters.get("repo") == "app" else {
                return Self.json(.notFound, [.contentType: "application/json"], ["message": "Not Found"])
            }
            switch self.authorize(request) {
            case .failure(let refusal): return refusal.response
            case .success(let (_, headers)):
                return Self.json(.ok, headers, ["id": Self.appRepositoryID, "node_id": "R_app", "name": "app", "full_name": "octo/app",
                                                "private": false, "html_url": "https://github.com/octo/app", "default_branch": "main",
                                                "owner": ["login": "octo", "id": 2], "open_issues_count": 2])
            }
        }
        router.get("/repos/{owner}/{repo}/issues") { request, context -> Response in
            guard context.parameters.get("owner") == "octo", context.parameters.get("repo") == "app" else {
                return Self.json(.notFound, [.contentType: "application/json"], ["message": "Not Found"])
            }
            let state = request.uri.queryParameters["state"].map(String.init) ?? "open"
            let items = self.issues.withLock { $0 }.filter { state == "all" || ($0.open == (state == "open")) }.map(\.json)
            return self.page(request, path: "/repos/octo/app/issues", items)
        }
        router.get("/repos/{owner}/{repo}/pulls") { request, _ -> Response in
            let pulls = self.issues.withLock { $0 }.filter { $0.isPull && $0.open }.map { pull -> [String: Any] in
                var json = pull.json
                json["pull_request"] = nil
                json["draft"] = false
                json["head"] = ["ref": "fix-checkout"]
                json["base"] = ["ref": "main"]
                return json
            }
            return self.page(request, path: "/repos/octo/app/pulls", pulls)
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)), logger: TestEnvironment.logger)
        return try await app.test(.live) { client in try await body("http://127.0.0.1:\(client.port!)") }
    }

    /// GitHub's checks before any answer: a `User-Agent`, a known token, a rate limit not spent.
    private func authorize(_ request: Request) -> Result<(String, HTTPFields), Refusal> {
        seen.withLock { $0.append(request.headers) }
        var headers: HTTPFields = [.contentType: "application/json; charset=utf-8"]
        headers[HTTPField.Name("x-ratelimit-limit")!] = "5000"
        headers[HTTPField.Name("x-ratelimit-reset")!] = String(Int(Date().timeIntervalSince1970) + 120)
        guard request.headers[.userAgent] != nil else {
            return .failure(Refusal(Self.json(.forbidden, headers, ["message": "Request forbidden by administrative rules. Please make sure your request has a User-Agent header (https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-required)."])))
        }
        let auth = request.headers[.authorization] ?? ""
        let token = auth.hasPrefix("Bearer ") ? String(auth.dropFirst(7)) : auth.hasPrefix("token ") ? String(auth.dropFirst(6)) : ""
        if limited.withLock({ $0.contains(token) }) {
            headers[HTTPField.Name("x-ratelimit-remaining")!] = "0"
            return .failure(Refusal(Self.json(.forbidden, headers, ["message": "API rate limit exceeded for user ID 1.",
                                                                   "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"])))
        }
        let installationValid = installationTokens.withLock { $0[token].map { $0 > Date() } ?? false }
        let userTokenValid = userTokens.withLock { $0[token].map { $0 > Date() } ?? false }
        guard users[token] != nil || installationValid || userTokenValid, !revoked.withLock({ $0.contains(token) }) else {
            return .failure(Refusal(Self.json(.unauthorized, headers, ["message": "Bad credentials", "documentation_url": "https://docs.github.com/rest",
                                                                      "status": "401"])))
        }
        headers[HTTPField.Name("x-ratelimit-remaining")!] = "4999"
        return .success((token, headers))
    }

    struct Refusal: Error { let response: Response; init(_ response: Response) { self.response = response } }

    /// One page of `items` as GitHub answers a list: `per_page` (default 30, at most 100) and
    /// `page`, a `Link` header to the next and last pages, an `ETag`, and 304 for a matching
    /// `If-None-Match`.
    private func page(_ request: Request, path: String, _ items: [[String: Any]]) -> Response {
        let headers: HTTPFields
        switch authorize(request) {
        case .failure(let refusal): return refusal.response
        case .success(let (_, h)): headers = h
        }
        let query = request.uri.queryParameters
        let perPage = min(100, max(1, query["per_page"].flatMap { Int(String($0)) } ?? 30))
        let number = max(1, query["page"].flatMap { Int(String($0)) } ?? 1)
        let last = max(1, (items.count + perPage - 1) / perPage)
        let slice = Array(items.dropFirst((number - 1) * perPage).prefix(perPage))
        let body = try! JSONSerialization.data(withJSONObject: slice, options: [.sortedKeys])
        var out = headers
        let etag = "W/\"\(body.count)-\(path.count)-\(number)-\(body.reduce(0) { ($0 &* 31) &+ Int($1) })\""
        out[.eTag] = etag
        let base = "http://\(request.head.authority ?? "127.0.0.1")\(path)?per_page=\(perPage)"
        var links: [String] = []
        if number < last { links.append("<\(base)&page=\(number + 1)>; rel=\"next\"") }
        links.append("<\(base)&page=\(last)>; rel=\"last\"")
        out[HTTPField.Name("Link")!] = links.joined(separator: ", ")
        if request.headers[.ifNoneMatch] == etag {
            notModified.withLock { $0 += 1 }
            return Response(status: .notModified, headers: out)
        }
        return Response(status: .ok, headers: out, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    static func json(_ status: HTTPResponse.Status, _ headers: HTTPFields, _ object: [String: Any]) -> Response {
        Response(status: status, headers: headers,
                 body: .init(byteBuffer: ByteBuffer(bytes: try! JSONSerialization.data(withJSONObject: object))))
    }

    /// A `/user` answer as GitHub writes it (the fields connections read, and some they do not).
    public static func user(login: String, id: Int) -> Data {
        try! JSONSerialization.data(withJSONObject: ["login": login, "id": id, "node_id": "MDQ6VXNlcj\(id)", "name": "The \(login)", "type": "User",
         "html_url": "https://github.com/\(login)", "site_admin": false, "created_at": "2020-01-02T03:04:05Z"] as [String: Any])
    }
}

/// Coder's API as far as connections use it (`GET /api/v2/users/me` with `Coder-Session-Token`).
public final class FakeCoder: Sendable {
    let tokens: [String: String]   // token → username
    private let workspaces = Mutex<[Workspace]>([])
    private let builds = Mutex<[(UUID, String)]>([])

    /// A workspace as Coder keeps it: its latest build's status and transition, its agents' health.
    public struct Workspace: Sendable {
        public var id: UUID
        public var name: String
        public var owner: String
        public var status: String
        public var transition: String
        public var healthy: Bool

        public init(id: UUID = UUID(), name: String, owner: String, status: String = "running", transition: String = "start",
                    healthy: Bool = true) {
            (self.id, self.name, self.owner, self.status, self.transition, self.healthy) = (id, name, owner, status, transition, healthy)
        }

        /// As Coder's `codersdk.Workspace` JSON.
        var json: [String: Any] {
            ["id": id.uuidString.lowercased(), "name": name, "owner_id": "8f0e4a1c-6a4e-4d4b-9b70-2a6c1f5d3e21", "owner_name": owner,
             "organization_id": "0c9c4f3e-1d6a-4b7e-9d51-6f2a3c4b5d6e", "template_id": "c6d67e98-83ea-49f0-8812-e4abae2b68bc",
             "template_name": "docker", "template_display_name": "Docker", "template_icon": "/icon/docker.png",
             "latest_build": ["id": UUID().uuidString.lowercased(), "build_number": 3, "status": status, "transition": transition,
                              "workspace_id": id.uuidString.lowercased(), "workspace_name": name, "workspace_owner_name": owner,
                              "job": ["status": status == "failed" ? "failed" : "succeeded"], "created_at": "2026-11-30T09:00:00Z"],
             "health": ["healthy": healthy, "failing_agents": healthy ? [] as [String] : ["c2511c51-045f-4dd0-925a-f9b8bbda5064"]],
             "outdated": false, "automatic_updates": "never", "autostart_schedule": NSNull(), "ttl_ms": NSNull(),
             "last_used_at": "2026-12-01T08:00:00Z", "created_at": "2026-11-01T08:00:00Z", "updated_at": "2026-12-01T08:00:00Z",
             "dormant_at": NSNull(), "deleting_at": NSNull(), "favorite": false]
        }
    }

    public init(tokens: [String: String], workspaces: [Workspace] = []) {
        self.tokens = tokens
        self.workspaces.withLock { $0 = workspaces }
    }

    /// Adds or replaces a workspace (as its owner would, in Coder).
    public func put(_ workspace: Workspace) {
        workspaces.withLock { list in
            if let i = list.firstIndex(where: { $0.id == workspace.id }) { list[i] = workspace } else { list.append(workspace) }
        }
    }

    public func remove(_ id: UUID) { workspaces.withLock { $0.removeAll { $0.id == id } } }
    public func workspace(_ id: UUID) -> Workspace? { workspaces.withLock { $0.first { $0.id == id } } }
    /// The builds asked for: workspace and transition.
    public var requestedBuilds: [(UUID, String)] { builds.withLock { $0 } }

    private func user(_ request: Request) -> String? {
        request.headers[HTTPField.Name("Coder-Session-Token")!].flatMap { tokens[$0] }
    }

    private static var unauthorized: [String: Any] { [
        "message": "You must be logged in to do that.",
        "detail": "Ensure the Coder-Session-Token header or coder_session_token cookie is set."] }

    /// Serves on a free port of 127.0.0.1 while `body` runs with its base URL.
    public func run<T: Sendable>(_ body: @escaping @Sendable (String) async throws -> T) async throws -> T {
        let router = Router()
        router.get("/api/v2/users/me") { request, _ -> Response in
            let headers: HTTPFields = [.contentType: "application/json"]
            guard let token = request.headers[HTTPField.Name("Coder-Session-Token")!], let username = self.tokens[token] else {
                return FakeGitHub.json(.unauthorized, headers, [
                    "message": "You must be logged in to do that.",
                    "detail": "Ensure the Coder-Session-Token header or coder_session_token cookie is set."])
            }
            return FakeGitHub.json(.ok, headers, ["id": "8f0e4a1c-6a4e-4d4b-9b70-2a6c1f5d3e21", "username": username,
                                                  "email": "\(username)@example.com", "status": "active",
                                                  "created_at": "2024-05-06T07:08:09Z", "roles": [] as [Any]])
        }
        router.get("/api/v2/workspaces") { request, _ -> Response in
            let headers: HTTPFields = [.contentType: "application/json"]
            guard let user = self.user(request) else { return FakeGitHub.json(.unauthorized, headers, Self.unauthorized) }
            let q = request.uri.queryParameters["q"].map(String.init) ?? ""
            let owner = q == "owner:me" ? user : q.hasPrefix("owner:") ? String(q.dropFirst(6)) : nil
            let items = self.workspaces.withLock { $0 }.filter { owner == nil || $0.owner == owner }.map(\.json)
            return FakeGitHub.json(.ok, headers, ["workspaces": items, "count": items.count])
        }
        router.get("/api/v2/workspaces/{id}") { request, context -> Response in
            let headers: HTTPFields = [.contentType: "application/json"]
            guard self.user(request) != nil else { return FakeGitHub.json(.unauthorized, headers, Self.unauthorized) }
            guard let id = context.parameters.get("id").flatMap(UUID.init(uuidString:)), let w = self.workspace(id) else {
                return FakeGitHub.json(.notFound, headers, ["message": "Resource not found or you do not have access to this resource"])
            }
            return FakeGitHub.json(.ok, headers, w.json)
        }
        router.post("/api/v2/workspaces/{id}/builds") { request, context -> Response in
            let headers: HTTPFields = [.contentType: "application/json"]
            guard self.user(request) != nil else { return FakeGitHub.json(.unauthorized, headers, Self.unauthorized) }
            guard let id = context.parameters.get("id").flatMap(UUID.init(uuidString:)), var w = self.workspace(id) else {
                return FakeGitHub.json(.notFound, headers, ["message": "Resource not found or you do not have access to this resource"])
            }
            let body = try await request.body.collect(upTo: 1 << 16)
            guard let json = try? JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any],
                  let transition = json["transition"] as? String, ["start", "stop", "delete"].contains(transition) else {
                return FakeGitHub.json(.badRequest, headers, ["message": "Request body must be valid JSON.",
                                                              "validations": [["field": "transition", "detail": "Validation failed"]]])
            }
            self.builds.withLock { $0.append((id, transition)) }
            // The build runs at once here; Coder answers it pending and moves the workspace on.
            w.transition = transition
            w.status = transition == "start" ? "running" : "stopped"
            self.put(w)
            return FakeGitHub.json(.created, headers, ["id": UUID().uuidString.lowercased(), "build_number": 4, "status": "pending",
                                                       "transition": transition, "workspace_id": id.uuidString.lowercased(),
                                                       "job": ["status": "pending"], "created_at": "2026-12-03T10:00:00Z"])
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)), logger: TestEnvironment.logger)
        return try await app.test(.live) { client in try await body("http://127.0.0.1:\(client.port!)") }
    }
}
