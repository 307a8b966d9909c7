import FlukeRuntime
import Foundation

/// project-manager's settings: the fleet's common ones, bearer auth, and identity policy.
public struct PMConfig: Sendable {
    public var common: FleetConfig
    public var auth: AuthConfig
    /// `PM_JWT_PRIVATE_KEYS`: the first signs access tokens; all are published and accepted.
    public var signingKeys: JWTSigningKeys
    public var signupEnabled: Bool
    public var accessTokenTTL: Duration
    public var refreshTokenTTL: Duration
    public var scryptLogN: Int
    public var maxFailuresPerAccount: Int
    public var maxFailuresPerAddress: Int
    public var failureWindow: Duration
    /// Bytes of projects the project cache may hold.
    public var projectCacheMaxBytes: Int
    var trustedProxies: TrustedProxies
    /// `FLUKE_ENCRYPTION_KEY`: seals the connections' credentials; without it they are refused (503).
    public var keyring: Keyring?
    /// `GITHUB_API_URL`: GitHub's REST API (GitHub Enterprise, or a test's fake).
    public var githubAPIURL: String
    /// Which URLs connections may call (GitHub's and each Coder deployment's).
    public var connectionsPolicy: OutboundURLPolicy
    /// `PM_STATUS_STALE_AFTER`: how long an event consumer may lag before its status parts read stale.
    public var statusStaleAfter: Duration
    /// `PM_GITHUB_SYNC_INTERVAL`: how often a linked repository's issues and pull requests are read again.
    public var githubSyncInterval: Duration
    /// `PM_CODER_REFRESH_INTERVAL`: how often linked Coder workspaces' status is read again.
    public var coderRefreshInterval: Duration
    /// Login with GitHub: on when `GITHUB_OAUTH_CLIENT_ID` is set.
    public var githubOAuth: GitHubOAuthConfig?
    /// `PM_SESSION_COOKIE_SECURE`: the dashboard's session cookies carry `Secure`.
    public var sessionCookieSecure: Bool
    /// The dashboard under `/ui/`.
    public var dashboard: DashboardConfig

    public static let variables: [ConfigVariable] = FleetConfig.variables(defaultPort: 8000) + AuthConfig.variables + [
        ConfigVariable("PM_JWT_PRIVATE_KEYS", default: nil,
                       "Ed25519 keys that sign access tokens: <kid>:<base64 of the 32-byte seed>, comma-separated; the first signs, all are published at /.well-known/jwks.json (keep a retired key listed until its tokens expire)",
                       secret: true),
        ConfigVariable("PM_SIGNUP_ENABLED", default: "false", "whether POST /auth/signup creates tenants"),
        ConfigVariable("PM_ACCESS_TOKEN_TTL", default: "900", "seconds an access token (JWT) is valid"),
        ConfigVariable("PM_REFRESH_TOKEN_TTL", default: "2592000", "seconds a refresh token is valid (rotated on use)"),
        ConfigVariable("PM_SCRYPT_LOG_N", default: "15", "scrypt cost: N = 2^value (r = 8, p = 1); 15 uses 32 MiB per hash"),
        ConfigVariable("PM_LOGIN_MAX_FAILURES", default: "5", "failed logins per account within the window before 429"),
        ConfigVariable("PM_LOGIN_MAX_FAILURES_PER_ADDRESS", default: "20", "failed logins per client address within the window before 429"),
        ConfigVariable("PM_LOGIN_FAILURE_WINDOW", default: "900", "seconds over which failed logins are counted"),
        ConfigVariable("PM_TRUSTED_PROXIES", default: "", "comma-separated CIDRs (or addresses) of proxies whose X-Forwarded-For entries are believed; the header is read from the right"),
        ConfigVariable("PM_TRUST_FORWARDED_FOR", default: "false", "deprecated: true adds loopback (127.0.0.0/8, ::1) to PM_TRUSTED_PROXIES"),
        Keyring.variable,
        ConfigVariable("GITHUB_API_URL", default: "https://api.github.com", "GitHub's REST API, for GitHub connections"),
        ConfigVariable("PM_CONNECTIONS_ALLOW_HTTP", default: "false", "whether connections may call plain-http URLs (local fakes in tests)"),
        ConfigVariable("PM_CONNECTIONS_ALLOWED_HOSTS", default: "", "comma-separated hosts connections may call even where they resolve to private addresses (a Coder inside the network)"),
        ConfigVariable("PM_GITHUB_SYNC_INTERVAL", default: "300", "seconds between two reads of a linked repository's open issues (kept as github tasks) and pull requests; conditional requests, so an unchanged repository costs no rate limit"),
        ConfigVariable("PM_CODER_REFRESH_INTERVAL", default: "60", "seconds between two reads of a linked Coder workspace's status"),
        ConfigVariable("GITHUB_OAUTH_CLIENT_ID", default: "", "the GitHub OAuth (or GitHub App) client id for login with GitHub (GET /auth/github); empty: login with GitHub is off"),
        ConfigVariable("GITHUB_OAUTH_CLIENT_SECRET", default: "", "its client secret", secret: true),
        ConfigVariable("GITHUB_OAUTH_URL", default: "https://github.com", "where GitHub's /login/oauth/authorize and /login/oauth/access_token are (GitHub Enterprise, or a test's fake)"),
        ConfigVariable("GITHUB_OAUTH_SCOPES", default: "read:user user:email", "the scopes login with GitHub asks for (space-separated); add repo for the grant to list private repositories"),
        ConfigVariable("PM_PUBLIC_URL", default: "http://127.0.0.1:8000", "project-manager's URL as browsers reach it: GitHub sends them back to <PM_PUBLIC_URL>/auth/callback"),
        ConfigVariable("PM_STATUS_STALE_AFTER", default: "15", "seconds the deploy or federation event consumer may go without catching up with the stream before a project's status marks those parts stale"),
        ConfigVariable("PM_SESSION_COOKIE_SECURE", default: "true", "whether the dashboard's session cookies carry Secure (browsers keep Secure cookies from http://localhost and 127.0.0.1 too; turn off only for plain http on another host)"),
        ConfigVariable("PM_PROJECT_CACHE_MAX_BYTES", default: "16777216", "bytes of projects kept in the project cache (GET /api/v1/projects/{id}; least recently stored dropped first)"),
    ] + DashboardConfig.variables

    public init(reader: ConfigReader) throws {
        common = try FleetConfig(serviceName: "project-manager", reader: reader)
        auth = try AuthConfig(reader: reader, requireKeys: false)
        signingKeys = try JWTSigningKeys(parsing: try reader.string("PM_JWT_PRIVATE_KEYS"), variable: "PM_JWT_PRIVATE_KEYS")
        signupEnabled = try reader.bool("PM_SIGNUP_ENABLED")
        accessTokenTTL = try reader.seconds("PM_ACCESS_TOKEN_TTL", minimum: 1)
        refreshTokenTTL = try reader.seconds("PM_REFRESH_TOKEN_TTL", minimum: 1)
        scryptLogN = try reader.int("PM_SCRYPT_LOG_N", in: 10...20)
        maxFailuresPerAccount = try reader.int("PM_LOGIN_MAX_FAILURES", in: 1...1000)
        maxFailuresPerAddress = try reader.int("PM_LOGIN_MAX_FAILURES_PER_ADDRESS", in: 1...100_000)
        failureWindow = try reader.seconds("PM_LOGIN_FAILURE_WINDOW", minimum: 1)
        projectCacheMaxBytes = try reader.int("PM_PROJECT_CACHE_MAX_BYTES", in: 0...(1 << 40))
        trustedProxies = try TrustedProxies.parse(try reader.string("PM_TRUSTED_PROXIES"),
                                                  trustLoopback: try reader.bool("PM_TRUST_FORWARDED_FOR"))
        keyring = try reader.optionalString(Keyring.variable.name).map { try Keyring(parsing: $0, variable: Keyring.variable.name) }
        githubAPIURL = try reader.string("GITHUB_API_URL")
        let hosts = try reader.string("PM_CONNECTIONS_ALLOWED_HOSTS").split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces).lowercased() }.filter { !$0.isEmpty }
        statusStaleAfter = try reader.seconds("PM_STATUS_STALE_AFTER", minimum: 1)
        githubSyncInterval = try reader.seconds("PM_GITHUB_SYNC_INTERVAL", minimum: 0.5)
        coderRefreshInterval = try reader.seconds("PM_CODER_REFRESH_INTERVAL", minimum: 0.5)
        let clientID = try reader.string("GITHUB_OAUTH_CLIENT_ID")
        if clientID.isEmpty {
            githubOAuth = nil
        } else {
            let secret = try reader.string("GITHUB_OAUTH_CLIENT_SECRET")
            guard !secret.isEmpty else { throw ConfigError("GITHUB_OAUTH_CLIENT_SECRET", "is required with GITHUB_OAUTH_CLIENT_ID") }
            var publicURL = try reader.string("PM_PUBLIC_URL")
            while publicURL.hasSuffix("/") { publicURL.removeLast() }
            var oauthURL = try reader.string("GITHUB_OAUTH_URL")
            while oauthURL.hasSuffix("/") { oauthURL.removeLast() }
            guard URLComponents(string: publicURL)?.host != nil else { throw ConfigError("PM_PUBLIC_URL", "must be an absolute URL") }
            guard URLComponents(string: oauthURL)?.host != nil else { throw ConfigError("GITHUB_OAUTH_URL", "must be an absolute URL") }
            githubOAuth = GitHubOAuthConfig(clientID: clientID, clientSecret: secret, baseURL: oauthURL,
                                            scopes: try reader.string("GITHUB_OAUTH_SCOPES"), redirectURI: publicURL + "/auth/callback")
        }
        var publicURL = try reader.string("PM_PUBLIC_URL")
        while publicURL.hasSuffix("/") { publicURL.removeLast() }
        dashboard = try DashboardConfig(reader: reader, publicURL: publicURL, githubLogin: githubOAuth != nil)
        sessionCookieSecure = try reader.bool("PM_SESSION_COOKIE_SECURE")
        connectionsPolicy = OutboundURLPolicy(allowHTTP: try reader.bool("PM_CONNECTIONS_ALLOW_HTTP"), allowedHosts: Set(hosts))
    }
}

/// Login with GitHub (OAuth 2.0 authorization code with PKCE).
public struct GitHubOAuthConfig: Sendable {
    public var clientID: String
    public var clientSecret: String
    /// `https://github.com`: `/login/oauth/authorize` and `/login/oauth/access_token` are under it.
    public var baseURL: String
    public var scopes: String
    /// `<PM_PUBLIC_URL>/auth/callback`.
    public var redirectURI: String
}
