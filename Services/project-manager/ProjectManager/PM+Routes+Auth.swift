import FlukeModels
import FlukeRuntime
import Foundation
import Hummingbird

/// `/auth`: signing up, logging in and out, refreshing a session.
extension PMRoutes {
    func registerAuth(_ routes: inout RouteRecorder) {
        routes.on(.post, "/auth/signup") { request, context in
            guard config.signupEnabled else { throw PMError.signupDisabled }
            let fields = try await RequestFields.read(request, context: context)
            try fields.allowOnly(["email", "password", "name", "tenant_name"])
            let email = try fields.email("email")!
            let password = try fields.password("password")
            let name = try fields.string("name", required: true, maxLength: Self.nameLimit)!
            let tenantName = try fields.string("tenant_name", required: true, maxLength: Self.nameLimit)!
            let (tenant, user) = try await identity.signup(email: email, password: password, name: name,
                                                           tenantName: tenantName, requestID: context.requestID)
            return try created(SignupResult(tenant: tenant, user: user), request, context)
        }
        routes.on(.post, "/auth/login") { request, context in
            let fields = try await RequestFields.read(request, context: context)
            try fields.allowOnly(["email", "password", "tenant_id", "session"])
            let email = try fields.email("email")!
            guard case .string(let password)? = fields.values["password"], !password.isEmpty, password.count <= 256 else {
                throw Problem.invalid("password", "is required (a string of at most 256 characters)")
            }
            let cookie = try Self.cookieSession(fields)
            let pair = try await identity.login(email: email, password: password, tenantID: try fields.uuid("tenant_id"),
                                                clientAddress: clientAddress(request, context), requestID: context.requestID)
            return cookie ? try browserSession.response(pair) : try pair.response(from: request, context: context)
        }
        // A refresh token in the body (API clients), or the dashboard's cookie with its CSRF
        // header; `tenant_id` moves the session to another of the user's tenants.
        routes.on(.post, "/auth/refresh") { request, context in
            let fields = try await RequestFields.read(request, context: context)
            try fields.allowOnly(["refresh_token", "tenant_id"])
            let tenantID = try fields.uuid("tenant_id")
            if let token = try fields.string("refresh_token", maxLength: 128) {
                return try await identity.refresh(token, switchingTo: tenantID, requestID: context.requestID)
                    .response(from: request, context: context)
            }
            guard request.cookies[BrowserSession.refreshCookie] != nil else {
                throw Problem.invalid("refresh_token", "is required (or the dashboard's session cookie)")
            }
            let token = try BrowserSession.refreshToken(request)
            return try browserSession.response(try await identity.refresh(token, switchingTo: tenantID, requestID: context.requestID))
        }
        // The dashboard signs out: its cookie's session is revoked and both cookies expire.
        routes.on(.delete, "/auth/refresh") { request, context in
            if request.cookies[BrowserSession.refreshCookie]?.value.isEmpty == false {
                try await identity.logout(try BrowserSession.refreshToken(request), requestID: context.requestID)
            }
            return browserSession.cleared()
        }
        routes.on(.post, "/auth/logout") { request, context in
            let fields = try await RequestFields.read(request, context: context)
            try fields.allowOnly(["refresh_token"])
            try await identity.logout(try fields.string("refresh_token", required: true, maxLength: 128)!,
                                      requestID: context.requestID)
            return Response(status: .noContent)
        }
        routes.on(.get, "/auth/github") { request, _ in
            let session = request.uri.queryParameters["session"].map(String.init)
            guard session == nil || session == "cookie" else { throw Problem.invalid("session", "must be cookie when given") }
            let location = try await githubLogin.start(cookieSession: session == "cookie")
            return Response(status: .found, headers: [.location: location, .cacheControl: "no-store"])
        }
        routes.on(.get, "/auth/callback") { request, context in
            let query = request.uri.queryParameters
            let (pair, cookie) = try await githubLogin.callback(code: query["code"].map(String.init), state: query["state"].map(String.init),
                                                                error: query["error"].map(String.init), requestID: context.requestID)
            // The dashboard's sign-in comes back to it with the session in its cookies.
            var response = cookie ? try browserSession.response(pair, status: .found) : try pair.response(from: request, context: context)
            if cookie { response.headers[.location] = DashboardMiddleware.prefix + "/" }
            response.headers[.cacheControl] = "no-store"
            return response
        }
    }

    /// `session`: `"cookie"` for the dashboard (refresh token in cookies), `"body"` (the default) for API clients.
    static func cookieSession(_ fields: RequestFields) throws -> Bool {
        switch try fields.string("session", maxLength: 16) {
        case nil, "body": return false
        case "cookie": return true
        default: throw Problem.invalid("session", "must be body or cookie")
        }
    }
}
