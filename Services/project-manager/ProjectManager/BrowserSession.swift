import FlukeCrypto
import FlukeModels
import FlukeRuntime
import Foundation
import HTTPTypes
import Hummingbird

/// The dashboard's session: the refresh token lives in an `HttpOnly; Secure; SameSite=Strict`
/// cookie that only `/auth/refresh` receives, so page scripts never see it; the access token
/// stays in the page's memory.
///
/// CSRF: `/auth/refresh` also wants `X-CSRF-Token` equal to a second cookie, readable by the
/// page, derived from the refresh token. Another site can neither read that cookie nor send a
/// custom header without a preflight the fleet refuses; SameSite=Strict keeps the cookie off its
/// requests in the first place.
struct BrowserSession: Sendable {
    static let refreshCookie = "fluke_refresh"
    static let csrfCookie = "fluke_csrf"
    static let refreshPath = "/auth/refresh"
    static let csrfHeader = HTTPField.Name("X-CSRF-Token")!

    let secure: Bool
    /// Seconds the cookies live: the refresh token's lifetime.
    let lifetime: Int

    /// What the page reads from the CSRF cookie and sends back: a digest of the refresh token, so
    /// it changes with each rotation and says nothing about the token.
    static func csrfToken(for refreshToken: String) -> String {
        String(Crypto.sha256Hex("fluke-csrf:" + refreshToken).prefix(40))
    }

    /// The login or refresh answer for a browser: the pair without its refresh token, which goes
    /// into the cookies.
    func response(_ pair: TokenPair, status: HTTPResponse.Status = .ok) throws -> Response {
        let body = SessionView(accessToken: pair.accessToken, expiresIn: pair.expiresIn, tenantID: pair.tenantID, userID: pair.userID)
        var response = Response(status: status, headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "no-store"],
                                body: .init(byteBuffer: ByteBuffer(data: try FleetJSON.encoder.encode(body))))
        setCookies(&response, refresh: pair.refreshToken, maxAge: lifetime)
        return response
    }

    /// 204 with both cookies expired (sign out).
    func cleared() -> Response {
        var response = Response(status: .noContent, headers: [.cacheControl: "no-store"])
        setCookies(&response, refresh: "", maxAge: 0)
        return response
    }

    private func setCookies(_ response: inout Response, refresh: String, maxAge: Int) {
        response.setCookie(Cookie(name: Self.refreshCookie, value: refresh, maxAge: maxAge, path: Self.refreshPath,
                                  secure: secure, httpOnly: true, sameSite: .strict))
        response.setCookie(Cookie(name: Self.csrfCookie, value: refresh.isEmpty ? "" : Self.csrfToken(for: refresh), maxAge: maxAge,
                                  path: "/", secure: secure, httpOnly: false, sameSite: .strict))
    }

    /// The refresh token a browser presents: its cookie, once `X-CSRF-Token` matches it.
    static func refreshToken(_ request: Request) throws -> String {
        guard let token = request.cookies[refreshCookie]?.value, !token.isEmpty, token.utf8.count <= 128 else {
            throw PMError.invalidRefreshToken
        }
        guard let presented = request.headers[csrfHeader],
              Crypto.constantTimeEquals(Array(presented.utf8), Array(csrfToken(for: token).utf8)) else {
            throw Problem(.forbidden, "CSRF check failed",
                          detail: "X-CSRF-Token must repeat the fluke_csrf cookie set with the session", field: "X-CSRF-Token")
        }
        return token
    }
}

/// A session as the dashboard receives it: no refresh token (it is in the cookie).
struct SessionView: Codable, Sendable {
    var accessToken: String
    var tokenType = "Bearer"
    var expiresIn: Int
    var tenantID: UUID
    var userID: UUID
    enum CodingKeys: String, CodingKey {
        case accessToken = "access_token", tokenType = "token_type", expiresIn = "expires_in"
        case tenantID = "tenant_id", userID = "user_id"
    }
}
