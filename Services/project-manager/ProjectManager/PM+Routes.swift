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
    let tokens: APITokenStore
    let projects: ProjectStore
    let work: WorkStore
    let tenant: TenantStore
    let connections: ConnectionStore
    let providers: ProviderClient
    let github: GitHubAPI
    let githubAccess: GitHubAccess
    let githubLogin: GitHubLogin
    let status: FleetStatusReader
    let repositories: RepositoryStore
    let issueSync: GitHubIssueSync
    let coder: CoderAPI
    let workspaces: WorkspaceStore
    let workspaceRefresh: WorkspaceRefresh
    let config: PMConfig

    var browserSession: BrowserSession {
        BrowserSession(secure: config.sessionCookieSecure, lifetime: Int(config.refreshTokenTTL.secondsValue))
    }

    static let nameLimit = 200
    static let descriptionLimit = 10_000

    func register(_ routes: inout RouteRecorder) {
        registerAuth(&routes)
        registerKeys(&routes)
        registerDashboardConfig(&routes)
        registerPeople(&routes)
        registerProjects(&routes)
        registerMembers(&routes)
        registerMilestones(&routes)
        registerWork(&routes)
        registerConnections(&routes)
        registerGitHub(&routes)
        registerOverview(&routes)
        registerRepository(&routes)
        registerWorkspaces(&routes)
    }

    func created<T: ResponseEncodable>(_ value: T, _ request: Request, _ context: FleetRequestContext) throws -> Response {
        try value.response(from: request, context: context).withStatus(.created)
    }

    func clientAddress(_ request: Request, _ context: FleetRequestContext) -> String? {
        config.trustedProxies.clientAddress(peer: context.remoteAddress,
                                            forwardedFor: request.headers[values: .init("X-Forwarded-For")!])
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
