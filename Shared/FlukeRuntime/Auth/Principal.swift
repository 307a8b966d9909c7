import FlukeModels
import Foundation
import Hummingbird

/// Who is calling: a signed-in user (JWT) or an API token, always within one tenant.
public struct Principal: Sendable, Equatable {
    public enum Kind: String, Sendable { case user, apiToken = "api_token" }
    public var kind: Kind
    public var tenantID: UUID
    public var userID: UUID
    /// Set for API tokens bound to one project: everything else is invisible to them.
    public var projectID: UUID?
    public var scopes: Set<Scope>
    /// The user's tenant role when signed in with a JWT.
    public var role: TenantRole?
    /// The API token's id, when the caller is one.
    public var tokenID: UUID?
    public var expiresAt: Date?

    public init(kind: Kind, tenantID: UUID, userID: UUID, projectID: UUID? = nil, scopes: Set<Scope>,
                role: TenantRole? = nil, tokenID: UUID? = nil, expiresAt: Date? = nil) {
        self.kind = kind
        self.tenantID = tenantID
        self.userID = userID
        self.projectID = projectID
        self.scopes = scopes
        self.role = role
        self.tokenID = tokenID
        self.expiresAt = expiresAt
    }

    /// 403 unless the principal holds `scope`.
    public func require(_ scope: Scope) throws {
        guard scopes.contains(scope) else {
            throw Problem(.forbidden, "Missing scope", detail: "this operation needs the \(scope.rawValue) scope",
                          extensions: ["required_scope": .string(scope.rawValue)])
        }
    }

    /// Whether the principal may see `project`: tokens bound to a project see only that one.
    public func canSee(project: UUID) -> Bool { projectID == nil || projectID == project }

    /// 403 for a token bound to a project: the operation reaches beyond any one project (people,
    /// the audit log, tenant settings), and such a token reaches only its project, whatever its
    /// scopes say.
    public func requireTenantWide() throws {
        guard let projectID else { return }
        throw Problem(.forbidden, "Project-bound token",
                      detail: "this operation is tenant-wide; a token bound to a project cannot use it",
                      extensions: ["project_id": .string(projectID.uuidString.lowercased())])
    }
}

extension FleetRequestContext {
    /// The authenticated caller; 401 when the request carried no credentials.
    public func principal() throws -> Principal {
        guard let principal = authenticated else { throw AuthError.missingCredentials.problem }
        return principal
    }

    /// The authenticated caller holding `scope`; 401 without credentials, 403 without the scope.
    public func principal(requiring scope: Scope) throws -> Principal {
        let p = try principal()
        try p.require(scope)
        return p
    }

    /// The authenticated caller holding `scope` and not bound to a project (see
    /// ``Principal/requireTenantWide()``): for routes that act on the whole tenant.
    public func tenantWidePrincipal(requiring scope: Scope) throws -> Principal {
        let p = try principal(requiring: scope)
        try p.requireTenantWide()
        return p
    }
}

/// Why a credential was refused: always a 401 (or 503 when identity cannot be asked).
public enum AuthError: Error, Sendable, ProblemConvertible {
    case missingCredentials
    case invalid(String)
    case identityUnavailable

    public var problem: Problem {
        switch self {
        case .missingCredentials:
            Problem(.unauthorized, "Authentication required", detail: "send Authorization: Bearer <token>",
                    field: "Authorization", headers: [.wwwAuthenticate: #"Bearer realm="flukebase""#])
        case .invalid(let why):
            Problem(.unauthorized, "Invalid token", detail: why, field: "Authorization",
                    headers: [.wwwAuthenticate: #"Bearer realm="flukebase", error="invalid_token""#])
        case .identityUnavailable:
            Problem(.serviceUnavailable, "Identity unavailable",
                    detail: "the token could not be verified now; retry shortly",
                    headers: [.retryAfter: "2"])
        }
    }
}
