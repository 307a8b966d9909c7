import FlukeCrypto
import FlukeModels
import FlukePostgres
import FlukeRuntime
import Foundation

/// Login with GitHub: OAuth 2.0's authorization code flow with PKCE (RFC 7636, `S256`).
/// `start` keeps a state (single use, 10 minutes) and its verifier, sealed; `callback` takes the
/// state back once, exchanges the code with the verifier, reads the user's verified primary
/// e-mail and signs them in. The grant (access and refresh tokens) is kept as the tenant's
/// `oauth` GitHub connection, whose refresh tokens rotate (``refreshed(_:tenant:)``).
struct GitHubLogin: Sendable {
    let config: GitHubOAuthConfig?
    let postgres: PostgresClient
    let keyring: Keyring?
    let providers: ProviderClient
    let githubAPIURL: String
    let identity: IdentityService
    let connections: ConnectionStore
    static let stateLifetime: TimeInterval = 600
    /// The most sign-ins that may be under way at once (a flood of /auth/github cannot fill the table).
    static let maxPending = 10_000

    /// What a grant connection keeps sealed.
    struct Grant: Codable, Sendable {
        var accessToken: String
        var refreshToken: String?
        var expiresAt: Date?
        var refreshTokenExpiresAt: Date?

        enum CodingKeys: String, CodingKey {
            case accessToken = "access_token", refreshToken = "refresh_token", expiresAt = "expires_at",
                 refreshTokenExpiresAt = "refresh_token_expires_at"
        }
    }

    private func enabled() throws -> (GitHubOAuthConfig, Keyring) {
        guard let config else { throw PMError.unavailable("login with GitHub is off: GITHUB_OAUTH_CLIENT_ID is not set") }
        guard let keyring else { throw PMError.unavailable("login with GitHub needs FLUKE_ENCRYPTION_KEY on project-manager") }
        return (config, keyring)
    }

    static func stateContext(_ hash: String) -> String { "oauth-state/\(hash)" }

    /// Where to send the browser: GitHub's authorize URL with a new state and PKCE challenge.
    func start(cookieSession: Bool = false) async throws -> String {
        let (config, keyring) = try enabled()
        let state = Base64URL.encode(Crypto.randomBytes(32))
        let verifier = Base64URL.encode(Crypto.randomBytes(32))
        let challenge = Base64URL.encode(Crypto.sha256(Array(verifier.utf8)))
        let hash = Crypto.sha256Hex(state)
        let sealed = try keyring.sealEnvelope(verifier, context: Self.stateContext(hash))
        let kept = try await postgres.withTransaction { tx in
            let pending = try await tx.query("SELECT count(*) FROM pm.oauth_states WHERE expires_at > now()").first!.decode(Int.self, at: 0)
            guard pending < Self.maxPending else { return false }
            try await tx.query("""
                INSERT INTO pm.oauth_states (state_hash, kek_id, wrapped_key, sealed, expires_at, cookie_session)
                VALUES (\(hash), \(sealed.kekID), \(sealed.wrappedKey), \(sealed.sealed), now() + make_interval(secs => \(Self.stateLifetime)),
                        \(cookieSession))
                """)
            return true
        }
        guard kept else { throw PMError.unavailable("too many GitHub sign-ins are under way; try again in a few minutes") }
        var url = URLComponents(string: config.baseURL + "/login/oauth/authorize")!
        url.queryItems = [
            URLQueryItem(name: "client_id", value: config.clientID), URLQueryItem(name: "redirect_uri", value: config.redirectURI),
            URLQueryItem(name: "scope", value: config.scopes), URLQueryItem(name: "state", value: state),
            URLQueryItem(name: "code_challenge", value: challenge), URLQueryItem(name: "code_challenge_method", value: "S256"),
            URLQueryItem(name: "allow_signup", value: "false"),
        ]
        return url.string!
    }

    /// The session for GitHub's answer: the state taken (once), the code exchanged with its verifier.
    /// `cookie`: the sign-in was started by the dashboard, which wants its session in cookies.
    func callback(code: String?, state: String?, error: String?, requestID: String) async throws -> (pair: TokenPair, cookie: Bool) {
        let (config, keyring) = try enabled()
        guard let state, (1...200).contains(state.utf8.count) else { throw PMError.invalid(field: "state", "is required") }
        // Taken first, whatever follows: a state is good for one try only.
        let hash = Crypto.sha256Hex(state)
        let row = try await postgres.withTransaction { tx in
            try await tx.query("""
                DELETE FROM pm.oauth_states WHERE state_hash = \(hash)
                RETURNING kek_id, wrapped_key, sealed, expires_at > now() AS live, cookie_session
                """).first.map { row in
                (SealedEnvelope(kekID: try row.decode(String.self, at: 0), wrappedKey: try row.decode(String.self, at: 1),
                                sealed: try row.decode(String.self, at: 2)), try row.decode(Bool.self, at: 3), try row.decode(Bool.self, at: 4))
            }
        }
        guard let (envelope, live, cookie) = row, live else {
            throw PMError.loginRefused(field: "state", "the state is unknown, expired or already used: start again at /auth/github")
        }
        if let error { throw PMError.loginRefused(field: "error", "GitHub did not grant the login: \(String(error.prefix(200)))") }
        guard let code, (1...500).contains(code.utf8.count) else { throw PMError.invalid(field: "code", "is required") }
        let verifier = try keyring.openEnvelope(envelope, context: Self.stateContext(hash))
        let grant = try await exchange(config, [("grant_type", "authorization_code"), ("code", code), ("redirect_uri", config.redirectURI),
                                                ("code_verifier", verifier)], field: "code")
        let email = try await verifiedEmail(grant.accessToken)
        let user = try await apiGet("/user", token: grant.accessToken)
        guard let login = user["login"]?.stringValue, case .number(let githubID)? = user["id"] else {
            throw PMError.upstream("GitHub's /user answer has no login or id")
        }
        let name = user["name"]?.stringValue.flatMap { $0.isEmpty ? nil : String($0.prefix(PMRoutes.nameLimit)) } ?? login
        let pair = try await identity.loginVerified(email: email, name: name, tenantName: String(login.prefix(PMRoutes.nameLimit)),
                                                    action: "auth.login_github", requestID: requestID)
        var account: [String: JSONValue] = ["login": .string(login), "id": .number(githubID)]
        if let html = user["html_url"], html != .null { account["html_url"] = html }
        try await connections.keepGrant(tenant: pair.tenantID, user: pair.userID, account: .object(account),
                                        credential: String(decoding: try JSONEncoder().encode(grant), as: UTF8.self), requestID: requestID)
        return (pair, cookie)
    }

    /// Exchanges at GitHub's token endpoint (a code, or a refresh token); GitHub answers errors
    /// with 200 and `error`.
    func exchange(_ config: GitHubOAuthConfig, _ fields: [(String, String)], field: String) async throws -> Grant {
        let answer: ProviderClient.Answer
        do {
            answer = try await providers.postForm(config.baseURL + "/login/oauth/access_token", headers: [("Accept", "application/json")],
                                                  fields: [("client_id", config.clientID), ("client_secret", config.clientSecret)] + fields)
        } catch {
            throw PMError.upstream("GitHub's token endpoint \(error.reason)")
        }
        guard answer.status == 200, let json = answer.json else { throw PMError.upstream("GitHub's token endpoint answered \(answer.status)") }
        if let error = json["error"]?.stringValue {
            throw PMError.loginRefused(field: field, "GitHub refused it (\(error): \(json["error_description"]?.stringValue ?? "no reason given"))")
        }
        guard let access = json["access_token"]?.stringValue, !access.isEmpty else {
            throw PMError.upstream("GitHub's token answer has no access_token")
        }
        func at(_ key: String) -> Date? {
            if case .number(let seconds)? = json[key], seconds > 0 { return Date().addingTimeInterval(seconds) }
            return nil
        }
        return Grant(accessToken: access, refreshToken: json["refresh_token"]?.stringValue, expiresAt: at("expires_in"),
                     refreshTokenExpiresAt: at("refresh_token_expires_in"))
    }

    /// The user's primary e-mail address, which GitHub must have verified.
    func verifiedEmail(_ token: String) async throws -> String {
        guard case .array(let emails) = try await apiGet("/user/emails", token: token) else {
            throw PMError.upstream("GitHub's /user/emails answer is not a list")
        }
        guard let primary = emails.first(where: { $0["primary"] == .bool(true) && $0["verified"] == .bool(true) }),
              let email = primary["email"]?.stringValue, email.contains("@"), email.utf8.count <= 254 else {
            throw PMError.forbidden("the GitHub account has no verified primary e-mail address")
        }
        return email
    }

    private func apiGet(_ path: String, token: String) async throws -> JSONValue {
        let answer: ProviderClient.Answer
        do {
            answer = try await providers.get(githubAPIURL + path, headers: [
                ("Authorization", "Bearer \(token)"), ("Accept", "application/vnd.github+json"), ("X-GitHub-Api-Version", "2022-11-28")])
        } catch {
            throw PMError.upstream("GitHub \(error.reason)")
        }
        guard answer.status == 200, let json = answer.json else { throw PMError.upstream("GitHub answered \(answer.status) to GET \(path)") }
        return json
    }

    /// The grant of connection `id`, refreshed first when it expires within five minutes. The
    /// connection's row is locked while GitHub rotates the refresh token, and the new pair is
    /// stored in the same transaction: replicas refresh one at a time, and a second one finds the
    /// new pair instead of spending the old refresh token again.
    func refreshed(_ id: UUID, tenant: UUID) async throws -> String {
        let (config, keyring) = try enabled()
        return try await connections.db.inTenant(tenant) { tx in
            guard let row = try await tx.query("""
                SELECT kek_id, wrapped_key, sealed FROM pm.connections WHERE id = \(id) AND kind = 'oauth' FOR UPDATE
                """).first else { throw PMError.notFound("connection") }
            let context = ConnectionStore.context(tenant: tenant, id: id)
            let envelope = SealedEnvelope(kekID: try row.decode(String.self, at: 0), wrappedKey: try row.decode(String.self, at: 1),
                                          sealed: try row.decode(String.self, at: 2))
            let grant = try JSONDecoder().decode(Grant.self, from: Data(try keyring.openEnvelope(envelope, context: context).utf8))
            guard let expires = grant.expiresAt, expires.timeIntervalSinceNow < GitHubAccess.renewBefore, let refresh = grant.refreshToken else {
                return grant.accessToken
            }
            let next: Grant
            do {
                next = try await exchange(config, [("grant_type", "refresh_token"), ("refresh_token", refresh)], field: "refresh_token")
            } catch PMError.loginRefused(_, let reason) {
                try await tx.query("""
                    UPDATE pm.connections SET status = 'invalid', status_reason = \("GitHub refused the refresh token: " + reason),
                        updated_at = now() WHERE id = \(id)
                    """)
                return grant.accessToken
            }
            let sealed = try keyring.sealEnvelope(String(decoding: try JSONEncoder().encode(next), as: UTF8.self), context: context)
            try await tx.query("""
                UPDATE pm.connections SET kek_id = \(sealed.kekID), wrapped_key = \(sealed.wrappedKey), sealed = \(sealed.sealed),
                    updated_at = now(), checked_at = now() WHERE id = \(id)
                """)
            return next.accessToken
        }
    }
}
