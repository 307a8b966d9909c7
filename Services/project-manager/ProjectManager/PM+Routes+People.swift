import FlukeModels
import FlukeRuntime
import Foundation
import Hummingbird

/// People, API tokens and the audit log.
extension PMRoutes {
    func registerPeople(_ routes: inout RouteRecorder) {
        routes.on(.get, "/api/v1/me") { _, context in
            let principal = try context.principal()
            let (user, tenant) = try await tenant.me(principal)
            return MeView(user: user, tenant: tenant, scopes: principal.scopes.sorted(), projectID: principal.projectID,
                          authenticatedWith: principal.kind.rawValue)
        }
        routes.on(.get, "/api/v1/me/tenants") { _, context in
            Page(items: try await tenant.memberships(try context.principal()), nextCursor: nil)
        }
        routes.on(.get, "/api/v1/users") { _, context in
            Page(items: try await tenant.users(try context.tenantWidePrincipal(requiring: .contextRead)), nextCursor: nil)
        }
        routes.on(.post, "/api/v1/users") { request, context in
            let principal = try context.tenantWidePrincipal(requiring: .admin)
            let fields = try await RequestFields.read(request, context: context)
            try fields.allowOnly(["email", "name", "password", "role"])
            let email = try fields.email("email")!
            let name = try fields.string("name", required: true, maxLength: Self.nameLimit)!
            let password = try fields.password("password")
            let role = try fields.oneOf("role", TenantRole.self) ?? .member
            let hash = try await identity.hashPassword(password)
            return try created(try await tenant.createUser(principal, requestID: context.requestID, email: email, name: name,
                                                           passwordHash: hash, role: role), request, context)
        }
        routes.on(.get, "/api/v1/users/{user_id}") { _, context in
            try await tenant.user(try Parameters.uuid(context, "user_id"), try context.tenantWidePrincipal(requiring: .contextRead))
        }
        routes.on(.patch, "/api/v1/users/{user_id}") { request, context in
            let principal = try context.tenantWidePrincipal(requiring: .admin)
            let id = try Parameters.uuid(context, "user_id")
            let fields = try await RequestFields.read(request, context: context)
            try fields.allowOnly(["role"])
            return try await tenant.setRole(id, principal, requestID: context.requestID,
                                            role: try fields.oneOf("role", TenantRole.self, required: true)!)
        }
        routes.on(.delete, "/api/v1/users/{user_id}") { _, context in
            let principal = try context.tenantWidePrincipal(requiring: .admin)
            try await tenant.removeUser(try Parameters.uuid(context, "user_id"), principal, requestID: context.requestID)
            return Response(status: .noContent)
        }

        routes.on(.post, "/api/v1/tokens") { request, context in
            let principal = try context.principal()
            let fields = try await RequestFields.read(request, context: context)
            try fields.allowOnly(["name", "project_id", "scopes", "expires_in_days"])
            let name = try fields.string("name", required: true, maxLength: Self.nameLimit)!
            let rawScopes = try fields.strings("scopes", required: true, maxCount: Scope.allCases.count, maxLength: 32)!
            guard !rawScopes.isEmpty else { throw Problem.invalid("scopes", "must name at least one scope") }
            let scopes = try rawScopes.enumerated().map { i, raw in
                guard let s = Scope(rawValue: raw) else {
                    throw Problem.invalid("scopes[\(i)]", "must be one of \(Scope.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                return s
            }
            let view = try await tokens.create(
                by: principal, name: name, projectID: try fields.uuid("project_id", nullable: true) ?? principal.projectID, scopes: scopes,
                expiresInDays: try fields.int("expires_in_days", in: 1...3650, nullable: true), requestID: context.requestID)
            return try created(view, request, context)
        }
        routes.on(.get, "/api/v1/tokens") { request, context in
            let principal = try context.principal()
            let (after, limit) = try Pagination.sequence(request)
            let (items, last) = try await tokens.list(for: principal, after: after, limit: limit)
            return Page(items: items, lastSequence: last, limit: limit)
        }
        routes.on(.delete, "/api/v1/tokens/{token_id}") { _, context in
            let principal = try context.principal()
            try await tokens.revoke(try Parameters.uuid(context, "token_id"), by: principal, requestID: context.requestID)
            return Response(status: .noContent)
        }
        routes.on(.get, "/api/v1/audit") { request, context in
            let principal = try context.tenantWidePrincipal(requiring: .admin)
            let (before, limit) = try Pagination.sequence(request)
            let (items, last) = try await tenant.audit(principal, before: before, limit: limit)
            return Page(items: items, lastSequence: last, limit: limit)
        }
    }
}
