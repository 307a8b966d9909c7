import FlukeRuntime
import Hummingbird

/// project-manager's domain errors; HTTP appears only in ``problem``.
enum PMError: Error, ProblemConvertible {
    case notFound(String)
    case conflict(field: String, String)
    /// The input at `field` is not acceptable, for the reason given.
    case invalid(field: String, String)
    case invalidCredentials
    case tooManyAttempts(retryAfter: Int)
    case signupDisabled
    case forbidden(String)
    case invalidRefreshToken
    /// A feature this replica is not configured for.
    case unavailable(String)
    /// GitHub or Coder answered what cannot be used.
    case upstream(String)
    /// Login with GitHub did not go through: `field` says which part (state, code, error).
    case loginRefused(field: String, String)
    /// GitHub's rate limit: ask again after this many seconds.
    case upstreamRateLimited(retryAfter: Int)

    var problem: Problem {
        switch self {
        case .notFound(let what): Problem.notFound("no such \(what)")
        case .conflict(let field, let detail): Problem(.conflict, detail: detail, field: field)
        case .invalid(let field, let detail): Problem.invalid(field, detail)
        case .invalidCredentials:
            Problem(.unauthorized, "Invalid credentials", detail: "the e-mail address or password is wrong")
        case .tooManyAttempts(let seconds):
            Problem(.tooManyRequests, "Too many failed logins", detail: "try again in \(seconds) s",
                    headers: [.retryAfter: String(seconds)])
        case .signupDisabled: Problem(.forbidden, "Signup disabled", detail: "this fleet does not accept signups (PM_SIGNUP_ENABLED)")
        case .forbidden(let detail): Problem(.forbidden, detail: detail)
        case .unavailable(let detail): Problem(.serviceUnavailable, detail: detail)
        case .upstream(let detail): Problem(.badGateway, detail: detail)
        case .loginRefused(let field, let detail): Problem(.unauthorized, "GitHub login refused", detail: detail, field: field)
        case .upstreamRateLimited(let seconds):
            Problem(.tooManyRequests, "GitHub rate limit", detail: "GitHub's rate limit for this connection is spent; try again in \(seconds) s",
                    headers: [.retryAfter: String(seconds)])
        case .invalidRefreshToken:
            Problem(.unauthorized, "Invalid refresh token", detail: "the refresh token is unknown, expired, revoked or already used",
                    field: "refresh_token")
        }
    }
}
