import Foundation

/// What a credential may do. Every route names the scope it needs.
public enum Scope: String, Codable, Sendable, CaseIterable, Comparable {
    case contextRead = "context:read"
    case contextWrite = "context:write"
    case secretsRead = "secrets:read"
    case memoriesWrite = "memories:write"
    case deployWrite = "deploy:write"
    case logsRead = "logs:read"
    /// Sending log entries to log-streamer (`POST /api/v1/logs`); viewers do not hold it.
    case logsWrite = "logs:write"
    case webhooksManage = "webhooks:manage"
    case admin = "admin"

    public static func < (a: Scope, b: Scope) -> Bool { a.rawValue < b.rawValue }
}

/// A user's role in a tenant.
public enum TenantRole: String, Codable, Sendable, CaseIterable {
    case owner, admin, member, viewer

    /// The scopes a signed-in user of this role holds.
    public var scopes: Set<Scope> {
        switch self {
        case .owner, .admin: Set(Scope.allCases)
        case .member: Set(Scope.allCases).subtracting([.admin])
        case .viewer: [.contextRead, .logsRead]
        }
    }
}

/// `fluke.rpc.identity.verify`: which tenant, user and scopes a token stands for.
public enum IdentityRPC {
    /// Request/reply subject, answered by project-manager replicas in one queue group.
    public static let verifySubject = "fluke.rpc.identity.verify"
    public static let queueGroup = "project-manager"
    /// Set on a reply when the responder could not decide (its store is down): not an answer.
    public static let errorHeader = "Fluke-Error"

    public struct Request: Codable, Sendable {
        public var token: String
        public init(token: String) { self.token = token }
    }

    /// `{"valid": true, "tenant_id", "user_id", "project_id"?, "scopes", "expires_at"}` or
    /// `{"valid": false, "error"}`.
    public struct Reply: Codable, Sendable, Equatable {
        public var valid: Bool
        public var tenantID: UUID?
        public var userID: UUID?
        public var projectID: UUID?
        public var scopes: [Scope]?
        public var expiresAt: Date?
        /// The API token's id (`fbk_` tokens only), so that `token.revoked` can find it in caches.
        public var tokenID: UUID?
        public var role: TenantRole?
        public var error: String?

        enum CodingKeys: String, CodingKey {
            case valid, scopes, error, role
            case tenantID = "tenant_id", userID = "user_id", projectID = "project_id", expiresAt = "expires_at"
            case tokenID = "token_id"
        }

        public init(valid: Bool, tenantID: UUID? = nil, userID: UUID? = nil, projectID: UUID? = nil,
                    scopes: [Scope]? = nil, expiresAt: Date? = nil, tokenID: UUID? = nil, role: TenantRole? = nil,
                    error: String? = nil) {
            self.valid = valid
            self.tenantID = tenantID
            self.userID = userID
            self.projectID = projectID
            self.scopes = scopes
            self.expiresAt = expiresAt
            self.tokenID = tokenID
            self.role = role
            self.error = error
        }

        public static func invalid(_ error: String) -> Reply { Reply(valid: false, error: error) }
    }
}

/// The claims of the fleet's access tokens (JWT, HS256).
public struct AccessClaims: Codable, Sendable {
    /// Issuer: always ``issuer``.
    public var iss: String
    /// The user id.
    public var sub: String
    /// The tenant the session is in.
    public var tid: String
    public var role: TenantRole
    public var iat: Int
    public var exp: Int
    /// Unique per token (logs may correlate on it; it is not a secret).
    public var jti: String

    public static let issuer = "flukebase-fleet"

    public init(userID: UUID, tenantID: UUID, role: TenantRole, issuedAt: Date, lifetime: TimeInterval) {
        iss = Self.issuer
        sub = userID.uuidString.lowercased()
        tid = tenantID.uuidString.lowercased()
        self.role = role
        iat = Int(issuedAt.timeIntervalSince1970)
        exp = iat + Int(lifetime)
        jti = UUID().uuidString.lowercased()
    }
}

/// `fbk_` API tokens: the prefix and 32 random bytes in base62.
public enum APITokenFormat {
    public static let prefix = "fbk_"
    /// 32 bytes need 43 base62 digits.
    public static let secretLength = 43

    public static func looksLikeAPIToken(_ token: String) -> Bool {
        token.hasPrefix(prefix) && token.utf8.count == prefix.utf8.count + secretLength
    }
}

extension EventType {
    public static let projectCreated: EventType = "project.created"
    public static let projectUpdated: EventType = "project.updated"
    public static let projectDeleted: EventType = "project.deleted"
    public static let memberAdded: EventType = "member.added"
    public static let memberRemoved: EventType = "member.removed"
    public static let taskCreated: EventType = "task.created"
    public static let taskUpdated: EventType = "task.updated"
    public static let tokenRevoked: EventType = "token.revoked"
}
