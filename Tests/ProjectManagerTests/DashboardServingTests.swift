import FlukePostgres
import FlukeRuntime
import FlukeTestSupport
import Foundation
import HTTPTypes
@testable import ProjectManager
import Testing

/// project-manager's side of the dashboard: its files under `/ui/`, `config.json`, CORS for the
/// dashboard's origin, and the cookie session with its CSRF check and tenant switch.
@Suite("project-manager: the dashboard's files, CORS and cookie session", .needsPostgresAndNATS)
struct DashboardServingTests {
    static let origin = "http://127.0.0.1:8000"
    static let settings = ["FLUKE_CORS_ORIGINS": origin, "FLUKE_PUBLIC_DEPLOY_TRACKER_URL": "https://deploy.example.com:8443"]

    @Test("/ui/ serves index.html and its modules with a CSP allowing no inline script, an ETag honoured by If-None-Match; config.json names every service")
    func files() async throws {
        try await PMHarness(Self.settings).run { c, _ in
            let index = try await c.call(.get, "/ui/")
            #expect(index.status == 200)
            #expect(index.headers[.contentType]?.hasPrefix("text/html") == true, "\(index.headers)")
            let html = String(decoding: index.body, as: UTF8.self)
            #expect(html.contains("<script type=\"module\""), "the page loads its code as modules")
            #expect(!html.contains("<script>") && !html.lowercased().contains(" onclick="), "no inline script in index.html")
            let csp = try #require(index.headers[.contentSecurityPolicy])
            #expect(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "\(csp)")
            #expect(csp.contains("https://deploy.example.com:8443") && csp.contains("wss://deploy.example.com:8443"), "\(csp)")
            #expect(csp.contains("ws://127.0.0.1:8767"), "the live tail's origin: \(csp)")
            #expect(csp.contains("frame-ancestors 'none'"))
            #expect(index.headers[.xContentTypeOptions] == "nosniff")
            #expect(index.headers[.cacheControl] == "no-cache")
            let etag = try #require(index.headers[.eTag])
            let again = try await c.call(.get, "/ui/", headers: [.ifNoneMatch: etag])
            #expect(again.status == 304 && again.body.isEmpty)

            let module = try await c.call(.get, "/ui/js/app.js")
            #expect(module.status == 200 && module.headers[.contentType]?.contains("javascript") == true, "\(module.headers)")
            #expect(module.headers[.eTag] != nil && module.headers[.eTag] != etag)

            let config = try await c.call(.get, "/ui/config.json")
            #expect(config.status == 200 && config.headers[.cacheControl] == "no-store")
            let services = try #require(config.json["services"] as? [String: String])
            #expect(Set(services.keys) == ["project_manager", "context_api", "webhook_dispatcher", "deploy_tracker", "log_streamer", "federation"])
            #expect(services["deploy_tracker"] == "https://deploy.example.com:8443")
            #expect(services["project_manager"] == "http://127.0.0.1:8000", "PM_PUBLIC_URL's default")
            #expect(config.json["log_stream_url"] as? String == "ws://127.0.0.1:8767/")
            #expect(config.json["github_login"] as? Bool == false)

            #expect(try await c.call(.get, "/ui/missing.js").status == 404)
            let traversal = try await c.call(.get, "/ui/..%2F..%2Fetc%2Fpasswd")
            #expect(traversal.status == 400 || traversal.status == 404, "\(traversal.status)")
            #expect(!String(decoding: traversal.body, as: UTF8.self).contains("root:"))
            let post = try await c.call(.post, "/ui/", json: [:] as [String: String])
            #expect(post.status == 405 && post.headers[.contentType] == "application/problem+json")
        }
    }

    @Test("CORS: a preflight from FLUKE_CORS_ORIGINS is answered (cached 2 h), its calls carry the origin back; another origin gets no CORS headers")
    func cors() async throws {
        try await PMHarness(Self.settings).run { c, _ in
            let owner = try await c.signup()
            let preflight = try await c.call(.options, "/api/v1/projects", headers: [
                .origin: Self.origin, .accessControlRequestMethod: "POST", .accessControlRequestHeaders: "authorization, content-type"])
            #expect(preflight.status == 204)
            #expect(preflight.headers[.accessControlAllowOrigin] == Self.origin)
            #expect(preflight.headers[.accessControlAllowMethods]?.contains("DELETE") == true)
            #expect(preflight.headers[.accessControlAllowHeaders]?.contains("Authorization") == true)
            #expect(preflight.headers[.accessControlMaxAge] == "7200")
            #expect(preflight.headers[.accessControlAllowCredentials] == nil, "bearer tokens only, never cookies across origins")

            let call = try await c.call(.get, "/api/v1/me", token: owner.accessToken, headers: [.origin: Self.origin])
            #expect(call.status == 200 && call.headers[.accessControlAllowOrigin] == Self.origin)
            #expect(call.headers[.vary]?.contains("Origin") == true)
            // Errors too: the page must be able to read the problem's detail.
            let refused = try await c.call(.get, "/api/v1/me", headers: [.origin: Self.origin])
            #expect(refused.status == 401 && refused.headers[.accessControlAllowOrigin] == Self.origin)

            let other = "https://evil.example"
            let otherPreflight = try await c.call(.options, "/api/v1/projects", headers: [.origin: other, .accessControlRequestMethod: "POST"])
            #expect(otherPreflight.status != 204 && otherPreflight.headers[.accessControlAllowOrigin] == nil)
            let otherCall = try await c.call(.get, "/api/v1/me", token: owner.accessToken, headers: [.origin: other])
            #expect(otherCall.headers[.accessControlAllowOrigin] == nil)
        }
        // A malformed origin list stops the service at startup, naming the variable.
        #expect(throws: ConfigError.self) { try CORSPolicy.parse("http://a.example/path") }
        #expect(throws: ConfigError.self) { try CORSPolicy.parse("*") }
        #expect(try CORSPolicy.parse(" http://a.example:8000 ,https://b.example") == ["http://a.example:8000", "https://b.example"])
    }

    @Test("cookie session: login puts the refresh token in an HttpOnly Secure SameSite=Strict cookie for /auth/refresh only; refresh wants the CSRF header; sign out clears it")
    func cookieSession() async throws {
        try await PMHarness(Self.settings).run { c, _ in
            let owner = try await c.signup()
            let login = try await c.call(.post, "/auth/login", json: ["email": owner.email, "password": owner.password, "session": "cookie"])
            #expect(login.status == 200 && login.json["access_token"] is String)
            #expect(login.json["refresh_token"] == nil, "the body never carries the refresh token in this mode")
            let cookies = login.headers[values: .setCookie]
            let refreshCookie = try #require(cookies.first { $0.hasPrefix("fluke_refresh=") })
            let attributes = Set(refreshCookie.split(separator: ";").dropFirst().map { $0.trimmingCharacters(in: .whitespaces) })
            #expect(attributes.isSuperset(of: ["HttpOnly", "Secure", "SameSite=Strict", "Path=/auth/refresh"]), "\(refreshCookie)")
            let csrfCookie = try #require(cookies.first { $0.hasPrefix("fluke_csrf=") })
            // Attributes come in any order: compared as a set.
            let csrfAttributes = Set(csrfCookie.split(separator: ";").dropFirst().map { $0.trimmingCharacters(in: .whitespaces) })
            #expect(!csrfAttributes.contains("HttpOnly") && csrfAttributes.isSuperset(of: ["SameSite=Strict", "Secure", "Path=/"]),
                    "the page reads it: \(csrfCookie)")
            func value(_ cookie: String) -> String { String(cookie.split(separator: ";")[0].split(separator: "=", maxSplits: 1)[1]) }
            let refresh = value(refreshCookie), csrf = value(csrfCookie)

            // No header, or another one: refused, and the session survives.
            let cookieHeader = "fluke_refresh=\(refresh); fluke_csrf=\(csrf)"
            let bare = try await c.call(.post, "/auth/refresh", json: [:] as [String: String], headers: [.cookie: cookieHeader])
            #expect(bare.status == 403 && bare.json["field"] as? String == "X-CSRF-Token")
            let forged = try await c.call(.post, "/auth/refresh", json: [:] as [String: String],
                                          headers: [.cookie: cookieHeader, BrowserSession.csrfHeader: String(repeating: "0", count: 40)])
            #expect(forged.status == 403)
            let refreshed = try await c.call(.post, "/auth/refresh", json: [:] as [String: String],
                                             headers: [.cookie: cookieHeader, BrowserSession.csrfHeader: csrf])
            #expect(refreshed.status == 200 && refreshed.json["access_token"] is String && refreshed.json["refresh_token"] == nil)
            let rotated = try #require(refreshed.headers[values: .setCookie].first { $0.hasPrefix("fluke_refresh=") })
            #expect(value(rotated) != refresh, "the refresh token rotates")
            let me = try await c.call(.get, "/api/v1/me", token: refreshed.json["access_token"] as? String)
            #expect(me.status == 200)

            // Sign out: the rotated session is revoked, both cookies expire.
            let rotatedCSRF = BrowserSession.csrfToken(for: value(rotated))
            let out = try await c.call(.delete, "/auth/refresh", headers: [.cookie: "fluke_refresh=\(value(rotated))",
                                                                          BrowserSession.csrfHeader: rotatedCSRF])
            #expect(out.status == 204)
            #expect(out.headers[values: .setCookie].allSatisfy { $0.contains("Max-Age=0") } && out.headers[values: .setCookie].count == 2)
            let after = try await c.call(.post, "/auth/refresh", json: [:] as [String: String],
                                         headers: [.cookie: "fluke_refresh=\(value(rotated))", BrowserSession.csrfHeader: rotatedCSRF])
            #expect(after.status == 401)
            // Body mode is unchanged for API clients.
            let api = try await c.call(.post, "/auth/login", json: ["email": owner.email, "password": owner.password])
            #expect(api.json["refresh_token"] is String && api.headers[values: .setCookie].isEmpty)
            #expect(try await c.call(.post, "/auth/login", json: ["email": owner.email, "password": owner.password,
                                                                   "session": "jar"]).json["field"] as? String == "session")
        }
    }

    @Test("tenant switcher: /api/v1/me/tenants lists the user's tenants; refresh with tenant_id moves the session; a tenant not theirs is 422 and the session stays")
    func tenantSwitch() async throws {
        let h = try await PMHarness(Self.settings)
        try await h.run { c, _ in
            let first = try await c.signup(tenant: "First")
            let second = try await c.signup(tenant: "Second")
            // The first tenant's owner is also a member of the second (no API adds an existing
            // user to another tenant yet).
            try await h.database.withAdminClient { admin in
                try await admin.query("""
                    INSERT INTO pm.memberships (tenant_id, user_id, role)
                    VALUES (\(UUID(uuidString: second.tenantID)!), \(UUID(uuidString: first.userID)!), 'member')
                    """)
            }
            let login = try await c.call(.post, "/auth/login", json: ["email": first.email, "password": first.password,
                                                                       "tenant_id": first.tenantID])
            let token = try #require(login.json["access_token"] as? String)
            let tenants = try await c.call(.get, "/api/v1/me/tenants", token: token)
            #expect(Set(tenants.items.compactMap { $0["name"] as? String }) == ["First", "Second"], "\(tenants.json)")
            #expect(tenants.items.first { $0["name"] as? String == "First" }?["role"] as? String == "owner")

            let refresh = try #require(login.json["refresh_token"] as? String)
            let stranger = try await c.signup(tenant: "Stranger")
            let refused = try await c.call(.post, "/auth/refresh", json: ["refresh_token": refresh, "tenant_id": stranger.tenantID])
            #expect(refused.status == 422 && refused.json["field"] as? String == "tenant_id")
            let moved = try await c.call(.post, "/auth/refresh", json: ["refresh_token": refresh, "tenant_id": second.tenantID])
            #expect(moved.status == 200 && moved.json["tenant_id"] as? String == second.tenantID, "\(moved.json)")
            let me = try await c.call(.get, "/api/v1/me", token: moved.json["access_token"] as? String)
            #expect((me.json["tenant"] as? [String: Any])?["id"] as? String == second.tenantID)
            // An API token sees only its own tenant.
            let minted = try await c.createToken(token, scopes: ["context:read"])
            let listed = try await c.call(.get, "/api/v1/me/tenants", token: minted.json["token"] as? String)
            #expect(listed.items.compactMap { $0["id"] as? String } == [first.tenantID])
        }
    }
}
