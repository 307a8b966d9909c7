import FlukeModels
import FlukeRuntime
import Foundation
import Hummingbird

/// People, API tokens and the audit log.
extension PMRoutes {
    func registerPeople(_ r: inout RouteRecorder) {
        r.on(.get, "/api/v1/me") { _, context in
            let p = try context.principal()
            let (user, tenant) = try await tenant.me(p)
            return MeView(user: user, tenant: tenant, scopes: p.scopes.sorted(), projectID: p.projectID,
                          authenticatedWith: p.kind.rawValue)
        }
        r.on(.get, "/api/v1/users") { _, context in
            Page(items: try await tenant.users(try context.tenantWidePrincipal(requiring: .contextRead)), nextCursor: nil)
        }
        r.on(.post, "/api/v1/users") { request, context in
            let p = try context.tenantWidePrincipal(requiring: .admin)
            let f = try await RequestFields.read(request, context: context)
            try f.allowOnly(["email", "name", "password", "role"])
            let email = try f.email("email")!
            let name = try f.string("name", required: true, maxLength: Self.nameLimit)!
            let password = try f.password("password")
            let role = try f.oneOf("role", TenantRole.self) ?? .member
            let hash = try await identity.hashPassword(password)
            return try created(try await tenant.createUser(p, requestID: context.requestID, email: email, name: name,
                                                           passwordHash: hash, role: role), request, context)
        }
        r.on(.get, "/api/v1/users/{user_id}") { _, context in
            try await tenant.user(try Parameters.uuid(context, "user_id"), try context.tenantWidePrincipal(requiring: .contextRead))
        }
        r.on(.patch, "/api/v1/users/{user_id}") { request, context in
            let p = try context.tenantWidePrincipal(requiring: .admin)
            let id = try Parameters.uuid(context, "user_id")
            let f = try await RequestFields.read(request, context: context)
            try f.allowOnly(["role"])
            return try await tenant.setRole(id, p, requestID: context.requestID,
                                            role: try f.oneOf("role", TenantRole.self, required: true)!)
        }
        r.on(.delete, "/api/v1/users/{user_id}") { _, context in
            let p = try context.tenantWidePrincipal(requiring: .admin)
            try await tenant.removeUser(try Parameters.uuid(context, "user_id"), p, requestID: context.requestID)
            return Response(status: .noContent)
        }

        r.on(.post, "/api/v1/tokens") { request, context in
            let p = try context.principal()
            let f = try await RequestFields.read(request, context: context)
            try f.allowOnly(["name", "project_id", "scopes", "expires_in_days"])
            let name = try f.string("name", required: true, maxLength: Self.nameLimit)!
            let rawScopes = try f.strings("scopes", required: true, maxCount: Scope.allCases.count, maxLength: 32)!
            guard !rawScopes.isEmpty else { throw Problem.invalid("scopes", "must name at least one scope") }
            let scopes = try rawScopes.enumerated().map { i, raw in
                guard let s = Scope(rawValue: raw) else {
                    throw Problem.invalid("scopes[\(i)]", "must be one of \(Scope.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                return s
            }
            let view = try await tokens.create(
                by: p, name: name, projectID: try f.uuid("project_id", nullable: true) ?? p.projectID, scopes: scopes,
                expiresInDays: try f.int("expires_in_days", in: 1...3650, nullable: true), requestID: context.requestID)
            return try created(view, request, context)
        }
        r.on(.get, "/api/v1/tokens") { request, context in
            let p = try context.principal()
            let (after, limit) = try Pagination.sequence(request)
            let (items, last) = try await tokens.list(for: p, after: after, limit: limit)
            return Page(items: items, lastSequence: last, limit: limit)
        }
        r.on(.delete, "/api/v1/tokens/{token_id}") { _, context in
            let p = try context.principal()
            try await tokens.revoke(try Parameters.uuid(context, "token_id"), by: p, requestID: context.requestID)
            return Response(status: .noContent)
        }
        r.on(.get, "/api/v1/audit") { request, context in
            let p = try context.tenantWidePrincipal(requiring: .admin)
            let (before, limit) = try Pagination.sequence(request)
            let (items, last) = try await tenant.audit(p, before: before, limit: limit)
            return Page(items: items, lastSequence: last, limit: limit)
        }
    }
}
