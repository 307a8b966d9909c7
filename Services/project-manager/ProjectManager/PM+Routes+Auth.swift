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
            try fields.allowOnly(["email", "password", "tenant_id"])
            let email = try fields.email("email")!
            guard case .string(let password)? = fields.values["password"], !password.isEmpty, password.count <= 256 else {
                throw Problem.invalid("password", "is required (a string of at most 256 characters)")
            }
            return try await identity.login(email: email, password: password, tenantID: try fields.uuid("tenant_id"),
                                            clientAddress: clientAddress(request, context), requestID: context.requestID)
        }
        routes.on(.post, "/auth/refresh") { request, context in
            let fields = try await RequestFields.read(request, context: context)
            try fields.allowOnly(["refresh_token"])
            return try await identity.refresh(try fields.string("refresh_token", required: true, maxLength: 128)!,
                                              requestID: context.requestID)
        }
        routes.on(.post, "/auth/logout") { request, context in
            let fields = try await RequestFields.read(request, context: context)
            try fields.allowOnly(["refresh_token"])
            try await identity.logout(try fields.string("refresh_token", required: true, maxLength: 128)!,
                                      requestID: context.requestID)
            return Response(status: .noContent)
        }
        routes.on(.get, "/auth/github") { _, _ in
            let location = try await githubLogin.start()
            return Response(status: .found, headers: [.location: location, .cacheControl: "no-store"])
        }
        routes.on(.get, "/auth/callback") { request, context in
            let query = request.uri.queryParameters
            let pair = try await githubLogin.callback(code: query["code"].map(String.init), state: query["state"].map(String.init),
                                                      error: query["error"].map(String.init), requestID: context.requestID)
            var response = try pair.response(from: request, context: context)
            response.headers[.cacheControl] = "no-store"
            return response
        }
    }
}
