import FlukeModels
import FlukeRuntime
import Foundation
import Hummingbird

/// A tenant (organisation).
public struct Tenant: Codable, Sendable {
    public var id: UUID
    public var name: String
    public var createdAt: Date
    enum CodingKeys: String, CodingKey { case id, name, createdAt = "created_at" }
}

/// One of the caller's tenants, with their role in it.
public struct MembershipView: Codable, Sendable {
    public var id: UUID
    public var name: String
    public var role: TenantRole
}

/// A user as the tenant sees them (never the password hash).
public struct UserView: Codable, Sendable {
    public var id: UUID
    public var email: String
    public var name: String
    public var role: TenantRole
    public var createdAt: Date
    enum CodingKeys: String, CodingKey { case id, email, name, role, createdAt = "created_at" }
}

/// `POST /auth/login` and `POST /auth/refresh` answers (RFC 6749 §5.1 names).
public struct TokenPair: Codable, Sendable {
    public var accessToken: String
    public var refreshToken: String
    public var tokenType = "Bearer"
    public var expiresIn: Int
    public var tenantID: UUID
    public var userID: UUID
    enum CodingKeys: String, CodingKey {
        case accessToken = "access_token", refreshToken = "refresh_token", tokenType = "token_type"
        case expiresIn = "expires_in", tenantID = "tenant_id", userID = "user_id"
    }
}

/// An API token as listed: never its secret.
public struct APITokenView: Codable, Sendable {
    public var id: UUID
    public var name: String
    public var prefix: String
    public var projectID: UUID?
    public var userID: UUID
    public var scopes: [Scope]
    public var createdAt: Date
    public var expiresAt: Date?
    public var lastUsedAt: Date?
    public var revokedAt: Date?
    /// The token that minted this one, if a token did (a session mints parentless tokens).
    public var parentTokenID: UUID?
    /// Only in the creation response, once.
    public var token: String?
    enum CodingKeys: String, CodingKey {
        case id, name, prefix, scopes, token
        case projectID = "project_id", userID = "user_id", createdAt = "created_at", expiresAt = "expires_at"
        case lastUsedAt = "last_used_at", revokedAt = "revoked_at", parentTokenID = "parent_token_id"
    }
}

public enum ProjectStage: String, Codable, Sendable, CaseIterable { case idea, prototype, mvp, production }
public enum MilestoneStatus: String, Codable, Sendable, CaseIterable { case planned, inProgress = "in_progress", done, cancelled }
public enum TaskStatus: String, Codable, Sendable, CaseIterable { case todo, inProgress = "in_progress", blocked, done }
public enum TaskSource: String, Codable, Sendable, CaseIterable { case manual, deployment, github }
public enum ProjectRole: String, Codable, Sendable, CaseIterable { case lead, developer, designer, reviewer, observer }

public struct Project: Codable, Sendable {
    public var id: UUID
    public var tenantID: UUID
    public var name: String
    public var description: String
    public var stage: ProjectStage
    public var repositoryURL: String?
    public var createdBy: UUID?
    public var createdAt: Date
    public var updatedAt: Date
    enum CodingKeys: String, CodingKey {
        case id, name, description, stage
        case tenantID = "tenant_id", repositoryURL = "repository_url", createdBy = "created_by"
        case createdAt = "created_at", updatedAt = "updated_at"
    }
}

public struct ProjectMember: Codable, Sendable {
    public var projectID: UUID
    public var userID: UUID
    public var name: String
    public var email: String
    public var role: ProjectRole
    public var addedAt: Date
    enum CodingKeys: String, CodingKey {
        case name, email, role
        case projectID = "project_id", userID = "user_id", addedAt = "added_at"
    }
}

public struct Milestone: Codable, Sendable {
    public var id: UUID
    public var projectID: UUID
    public var title: String
    public var description: String
    public var dueDate: String?
    public var status: MilestoneStatus
    public var createdAt: Date
    public var updatedAt: Date
    enum CodingKeys: String, CodingKey {
        case id, title, description, status
        case projectID = "project_id", dueDate = "due_date", createdAt = "created_at", updatedAt = "updated_at"
    }
}

public struct WorkTask: Codable, Sendable {
    public var id: UUID
    public var projectID: UUID
    public var title: String
    public var description: String
    public var status: TaskStatus
    public var assigneeID: UUID?
    public var dueDate: String?
    public var labels: [String]
    public var source: TaskSource
    /// The deployment a `deployment` task follows (see ``DeploymentTaskUpdate``).
    public var deploymentID: UUID?
    /// A `github` task's issue: its node id, and its page.
    public var externalID: String?
    public var externalURL: String?
    public var createdAt: Date
    public var updatedAt: Date
    enum CodingKeys: String, CodingKey {
        case id, title, description, status, labels, source
        case projectID = "project_id", assigneeID = "assignee_id", dueDate = "due_date", deploymentID = "deployment_id"
        case externalID = "external_id", externalURL = "external_url"
        case createdAt = "created_at", updatedAt = "updated_at"
    }
}

public struct AuditEntry: Codable, Sendable {
    public var id: Int
    public var at: Date
    public var actorUserID: UUID?
    public var actorTokenID: UUID?
    public var action: String
    public var objectType: String
    public var objectID: String?
    public var requestID: String?
    public var details: JSONValue
    enum CodingKeys: String, CodingKey {
        case id, at, action, details
        case actorUserID = "actor_user_id", actorTokenID = "actor_token_id", objectType = "object_type"
        case objectID = "object_id", requestID = "request_id"
    }
}

extension Tenant: ResponseEncodable {}
extension UserView: ResponseEncodable {}
extension TokenPair: ResponseEncodable {}
extension APITokenView: ResponseEncodable {}
extension Project: ResponseEncodable {}
extension ProjectMember: ResponseEncodable {}
extension Milestone: ResponseEncodable {}
extension WorkTask: ResponseEncodable {}
