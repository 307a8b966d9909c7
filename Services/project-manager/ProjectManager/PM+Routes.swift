import FlukeModels
import FlukeRuntime
import Foundation
import Hummingbird

/// Every project-manager route. Reads need `context:read`, writes `context:write`, people and the
/// audit log `admin`; a viewer's session holds only read scopes (see ``TenantRole/scopes``).
/// A token bound to a project reaches only that project: the tenant-wide routes (people, the
/// audit log, creating projects) answer it 403 whatever its scopes; its own identity (`/me`) and
/// its project's tokens stay open to it.
struct PMRoutes: Sendable {
    let identity: IdentityService
    let tokens: APITokenService
    let projects: ProjectStore
    let work: WorkStore
    let tenant: TenantStore
    let config: PMConfig

    static let nameLimit = 200
    static let descriptionLimit = 10_000

    func register(_ r: inout RouteRecorder) {
        registerAuth(&r)
        registerKeys(&r)
        registerPeople(&r)
        registerProjects(&r)
        registerWork(&r)
    }

    private func created<T: ResponseEncodable>(_ value: T, _ request: Request, _ context: FleetRequestContext) throws -> Response {
        try value.response(from: request, context: context).withStatus(.created)
    }

    private func clientAddress(_ request: Request, _ context: FleetRequestContext) -> String? {
        config.trustedProxies.clientAddress(peer: context.remoteAddress,
                                            forwardedFor: request.headers[values: .init("X-Forwarded-For")!])
    }

    // MARK: /auth

    private func registerAuth(_ r: inout RouteRecorder) {
        r.on(.post, "/auth/signup") { request, context in
            guard config.signupEnabled else { throw PMError.signupDisabled }
            let f = try await RequestFields.read(request, context: context)
            try f.allowOnly(["email", "password", "name", "tenant_name"])
            let email = try f.email("email")!
            let password = try f.password("password")
            let name = try f.string("name", required: true, maxLength: Self.nameLimit)!
            let tenantName = try f.string("tenant_name", required: true, maxLength: Self.nameLimit)!
            let (tenant, user) = try await identity.signup(email: email, password: password, name: name,
                                                           tenantName: tenantName, requestID: context.requestID)
            return try created(SignupResult(tenant: tenant, user: user), request, context)
        }
        r.on(.post, "/auth/login") { request, context in
            let f = try await RequestFields.read(request, context: context)
            try f.allowOnly(["email", "password", "tenant_id"])
            let email = try f.email("email")!
            guard case .string(let password)? = f.values["password"], !password.isEmpty, password.count <= 256 else {
                throw Problem.invalid("password", "is required (a string of at most 256 characters)")
            }
            return try await identity.login(email: email, password: password, tenantID: try f.uuid("tenant_id"),
                                            clientAddress: clientAddress(request, context), requestID: context.requestID)
        }
        r.on(.post, "/auth/refresh") { request, context in
            let f = try await RequestFields.read(request, context: context)
            try f.allowOnly(["refresh_token"])
            return try await identity.refresh(try f.string("refresh_token", required: true, maxLength: 128)!,
                                              requestID: context.requestID)
        }
        r.on(.post, "/auth/logout") { request, context in
            let f = try await RequestFields.read(request, context: context)
            try f.allowOnly(["refresh_token"])
            try await identity.logout(try f.string("refresh_token", required: true, maxLength: 128)!,
                                      requestID: context.requestID)
            return Response(status: .noContent)
        }
    }

    // MARK: people, tokens, audit

    private func registerPeople(_ r: inout RouteRecorder) {
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

    // MARK: projects, team, milestones

    private func registerProjects(_ r: inout RouteRecorder) {
        r.on(.get, "/api/v1/projects") { request, context in
            let p = try context.principal(requiring: .contextRead)
            let (after, limit) = try Pagination.sequence(request)
            let (items, last) = try await projects.list(p, after: after, limit: limit)
            return Page(items: items, lastSequence: last, limit: limit)
        }
        r.on(.post, "/api/v1/projects") { request, context in
            let p = try context.tenantWidePrincipal(requiring: .contextWrite)
            let f = try await RequestFields.read(request, context: context)
            try f.allowOnly(["name", "description", "stage", "repository_url"])
            let project = try await projects.create(
                p, requestID: context.requestID, name: try f.string("name", required: true, maxLength: Self.nameLimit)!,
                description: try f.string("description", minLength: 0, maxLength: Self.descriptionLimit) ?? "",
                stage: try f.oneOf("stage", ProjectStage.self) ?? .idea,
                repositoryURL: try Self.repositoryURL(f) ?? nil)
            return try created(project, request, context)
        }
        r.on(.get, "/api/v1/projects/{project_id}") { _, context in
            try await projects.get(try Parameters.uuid(context, "project_id"), try context.principal(requiring: .contextRead))
        }
        r.on(.patch, "/api/v1/projects/{project_id}") { request, context in
            let p = try context.principal(requiring: .contextWrite)
            let id = try Parameters.uuid(context, "project_id")
            let f = try await RequestFields.read(request, context: context)
            try f.allowOnly(["name", "description", "stage", "repository_url"])
            return try await projects.update(
                id, p, requestID: context.requestID, name: try f.string("name", maxLength: Self.nameLimit),
                description: try f.string("description", minLength: 0, maxLength: Self.descriptionLimit),
                stage: try f.oneOf("stage", ProjectStage.self), repositoryURL: try Self.repositoryURL(f))
        }
        r.on(.delete, "/api/v1/projects/{project_id}") { _, context in
            let p = try context.principal(requiring: .contextWrite)
            try await projects.delete(try Parameters.uuid(context, "project_id"), p, requestID: context.requestID)
            return Response(status: .noContent)
        }
        r.on(.get, "/api/v1/projects/{project_id}/status") { _, context in
            try await projects.status(try Parameters.uuid(context, "project_id"), try context.principal(requiring: .contextRead))
        }

        r.on(.get, "/api/v1/projects/{project_id}/members") { _, context in
            let members = try await projects.members(try Parameters.uuid(context, "project_id"),
                                                     try context.principal(requiring: .contextRead))
            return Page(items: members, nextCursor: nil)
        }
        r.on(.post, "/api/v1/projects/{project_id}/members") { request, context in
            let p = try context.principal(requiring: .contextWrite)
            let project = try Parameters.uuid(context, "project_id")
            let f = try await RequestFields.read(request, context: context)
            try f.allowOnly(["user_id", "role"])
            let member = try await projects.setMember(
                project, user: try f.uuid("user_id", required: true)!, role: try f.oneOf("role", ProjectRole.self) ?? .developer,
                p, requestID: context.requestID, isNew: true)
            return try created(member, request, context)
        }
        r.on(.patch, "/api/v1/projects/{project_id}/members/{user_id}") { request, context in
            let p = try context.principal(requiring: .contextWrite)
            let project = try Parameters.uuid(context, "project_id")
            let user = try Parameters.uuid(context, "user_id")
            let f = try await RequestFields.read(request, context: context)
            try f.allowOnly(["role"])
            return try await projects.setMember(project, user: user, role: try f.oneOf("role", ProjectRole.self, required: true)!,
                                                p, requestID: context.requestID, isNew: false)
        }
        r.on(.delete, "/api/v1/projects/{project_id}/members/{user_id}") { _, context in
            let p = try context.principal(requiring: .contextWrite)
            try await projects.removeMember(try Parameters.uuid(context, "project_id"), user: try Parameters.uuid(context, "user_id"),
                                            p, requestID: context.requestID)
            return Response(status: .noContent)
        }

        r.on(.get, "/api/v1/projects/{project_id}/milestones") { request, context in
            let p = try context.principal(requiring: .contextRead)
            let (after, limit) = try Pagination.sequence(request)
            let (items, last) = try await work.milestones(try Parameters.uuid(context, "project_id"), p, after: after, limit: limit)
            return Page(items: items, lastSequence: last, limit: limit)
        }
        r.on(.post, "/api/v1/projects/{project_id}/milestones") { request, context in
            let p = try context.principal(requiring: .contextWrite)
            let project = try Parameters.uuid(context, "project_id")
            let f = try await RequestFields.read(request, context: context)
            try f.allowOnly(["title", "description", "due_date", "status"])
            let m = try await work.createMilestone(
                project, p, requestID: context.requestID, title: try f.string("title", required: true, maxLength: Self.nameLimit)!,
                description: try f.string("description", minLength: 0, maxLength: Self.descriptionLimit) ?? "",
                dueDate: try f.date("due_date"), status: try f.oneOf("status", MilestoneStatus.self) ?? .planned)
            return try created(m, request, context)
        }
        r.on(.get, "/api/v1/projects/{project_id}/milestones/{milestone_id}") { _, context in
            try await work.milestone(try Parameters.uuid(context, "project_id"), try Parameters.uuid(context, "milestone_id"),
                                     try context.principal(requiring: .contextRead))
        }
        r.on(.patch, "/api/v1/projects/{project_id}/milestones/{milestone_id}") { request, context in
            let p = try context.principal(requiring: .contextWrite)
            let project = try Parameters.uuid(context, "project_id")
            let id = try Parameters.uuid(context, "milestone_id")
            let f = try await RequestFields.read(request, context: context)
            try f.allowOnly(["title", "description", "due_date", "status"])
            return try await work.updateMilestone(
                project, id, p, requestID: context.requestID, title: try f.string("title", maxLength: Self.nameLimit),
                description: try f.string("description", minLength: 0, maxLength: Self.descriptionLimit),
                dueDate: f.has("due_date") ? .some(try f.date("due_date")) : nil,
                status: try f.oneOf("status", MilestoneStatus.self))
        }
        r.on(.delete, "/api/v1/projects/{project_id}/milestones/{milestone_id}") { _, context in
            let p = try context.principal(requiring: .contextWrite)
            try await work.deleteMilestone(try Parameters.uuid(context, "project_id"), try Parameters.uuid(context, "milestone_id"),
                                           p, requestID: context.requestID)
            return Response(status: .noContent)
        }
    }

    static func repositoryURL(_ f: RequestFields) throws -> String?? {
        guard f.has("repository_url") else { return nil }
        guard let raw = try f.string("repository_url", maxLength: 2048, nullable: true) else { return .some(nil) }
        guard let url = URLComponents(string: raw), ["https", "http", "ssh", "git"].contains(url.scheme?.lowercased() ?? ""),
              url.host?.isEmpty == false else {
            throw Problem.invalid("repository_url", "must be an absolute https, http, ssh or git URL")
        }
        return .some(raw)
    }

    // MARK: tasks

    private func taskInput(_ f: RequestFields, creating: Bool) throws -> WorkStore.TaskInput {
        try f.allowOnly(["title", "description", "status", "assignee_id", "project_id", "due_date", "labels", "source"])
        return WorkStore.TaskInput(
            title: try f.string("title", required: creating, maxLength: Self.nameLimit),
            description: try f.string("description", minLength: 0, maxLength: Self.descriptionLimit),
            status: try f.oneOf("status", TaskStatus.self),
            assignee: f.has("assignee_id") ? .some(try f.uuid("assignee_id", nullable: true)) : nil,
            dueDate: f.has("due_date") ? .some(try f.date("due_date")) : nil,
            labels: try f.strings("labels", maxCount: 20, maxLength: 50),
            source: try f.oneOf("source", TaskSource.self))
    }

    private func registerWork(_ r: inout RouteRecorder) {
        r.on(.get, "/api/v1/tasks") { request, context in
            let p = try context.principal(requiring: .contextRead)
            let q = request.uri.queryParameters
            var filter = WorkStore.TaskFilter()
            filter.project = try Parameters.uuidQuery(request, "project_id")
            filter.assignee = try Parameters.uuidQuery(request, "assignee_id")
            filter.status = try Parameters.enumQuery(request, "status", as: TaskStatus.self)
            if let label = q["label"].map(String.init) {
                guard !label.isEmpty, label.count <= 50 else { throw Problem.invalid("label", "must have 1 to 50 characters") }
                filter.label = label
            }
            let (after, limit) = try Pagination.sequence(request)
            let (items, last) = try await work.tasks(p, filter: filter, after: after, limit: limit)
            return Page(items: items, lastSequence: last, limit: limit)
        }
        r.on(.post, "/api/v1/tasks") { request, context in
            let p = try context.principal(requiring: .contextWrite)
            let f = try await RequestFields.read(request, context: context)
            let input = try taskInput(f, creating: true)
            guard let project = try f.uuid("project_id", required: p.projectID == nil) ?? p.projectID else {
                throw Problem.invalid("project_id", "is required")
            }
            return try created(try await work.createTask(project: project, p, requestID: context.requestID, input),
                               request, context)
        }
        r.on(.get, "/api/v1/tasks/{task_id}") { _, context in
            try await work.task(try Parameters.uuid(context, "task_id"), try context.principal(requiring: .contextRead))
        }
        r.on(.patch, "/api/v1/tasks/{task_id}") { request, context in
            let p = try context.principal(requiring: .contextWrite)
            let id = try Parameters.uuid(context, "task_id")
            let f = try await RequestFields.read(request, context: context)
            guard !f.has("project_id") else { throw Problem.invalid("project_id", "a task cannot move between projects") }
            return try await work.updateTask(id, p, requestID: context.requestID, try taskInput(f, creating: false))
        }
        r.on(.delete, "/api/v1/tasks/{task_id}") { _, context in
            let p = try context.principal(requiring: .contextWrite)
            try await work.deleteTask(try Parameters.uuid(context, "task_id"), p, requestID: context.requestID)
            return Response(status: .noContent)
        }
    }
}

struct SignupResult: Codable, Sendable, ResponseEncodable {
    var tenant: Tenant
    var user: UserView
}

struct MeView: Codable, Sendable, ResponseEncodable {
    var user: UserView
    var tenant: Tenant
    var scopes: [Scope]
    var projectID: UUID?
    var authenticatedWith: String
    enum CodingKeys: String, CodingKey {
        case user, tenant, scopes
        case projectID = "project_id", authenticatedWith = "authenticated_with"
    }
}

extension AuditEntry: ResponseEncodable {}
