import FlukeModels
import Foundation

// project-manager's answers (its OpenAPI document's schemas).

/// `GET /api/v1/me`.
public struct Me: Decodable, Sendable {
    public var scopes: [String]
    public var projectID: UUID?
    public var authenticatedWith: String
    public var user: JSONValue
    public var tenant: JSONValue

    enum CodingKeys: String, CodingKey {
        case scopes, projectID = "project_id", authenticatedWith = "authenticated_with", user, tenant
    }
}

/// `POST /auth/login` and `/auth/refresh`.
public struct TokenPair: Decodable, Sendable {
    public var accessToken: String
    public var refreshToken: String
    public var expiresIn: Int
    public var tenantID: UUID
    public var userID: UUID

    enum CodingKeys: String, CodingKey {
        case accessToken = "access_token", refreshToken = "refresh_token", expiresIn = "expires_in"
        case tenantID = "tenant_id", userID = "user_id"
    }
}

public struct Project: Decodable, Sendable {
    public var id: UUID
    public var tenantID: UUID
    public var name: String
    public var description: String
    public var stage: String
    public var repositoryURL: String?
    public var createdAt: Date
    public var updatedAt: Date

    enum CodingKeys: String, CodingKey {
        case id, tenantID = "tenant_id", name, description, stage, repositoryURL = "repository_url"
        case createdAt = "created_at", updatedAt = "updated_at"
    }
}

/// `GET /api/v1/projects/{id}/status`: counts per task and milestone status.
public struct ProjectStatus: Decodable, Sendable {
    public var projectID: UUID
    public var tasks: [String: Int]
    public var milestones: [String: Int]
    public var teamSize: Int

    enum CodingKeys: String, CodingKey {
        case projectID = "project_id", tasks, milestones, teamSize = "team_size"
    }
}

public struct Milestone: Decodable, Sendable {
    public var id: UUID
    public var title: String
    public var description: String?
    public var status: String
    public var dueDate: String?

    enum CodingKeys: String, CodingKey { case id, title, description, status, dueDate = "due_date" }
}

public struct ProjectTask: Decodable, Sendable {
    public var id: UUID
    public var projectID: UUID
    public var title: String
    public var description: String?
    public var status: String
    public var labels: [String]
    public var source: String
    public var deploymentID: UUID?

    enum CodingKeys: String, CodingKey {
        case id, projectID = "project_id", title, description, status, labels, source, deploymentID = "deployment_id"
    }
}

public struct APIToken: Decodable, Sendable {
    public var id: UUID
    public var name: String
    public var prefix: String
    public var projectID: UUID?
    public var scopes: [String]
    public var expiresAt: Date?
    public var lastUsedAt: Date?
    /// The secret: only in the answer that created it.
    public var token: String?

    enum CodingKeys: String, CodingKey {
        case id, name, prefix, projectID = "project_id", scopes, expiresAt = "expires_at", lastUsedAt = "last_used_at", token
    }
}

/// A tenant's connection to GitHub or Coder (never its credential).
public struct Connection: Decodable, Sendable {
    public var id: UUID
    public var provider: String
    public var kind: String
    public var status: String
    public var statusReason: String?
    public var account: JSONValue
    public var url: String?

    /// Who it acts as: GitHub's login or Coder's username.
    public var accountName: String? { account["login"]?.stringValue ?? account["username"]?.stringValue }

    enum CodingKeys: String, CodingKey {
        case id, provider, kind, status, account, url, statusReason = "status_reason"
    }
}

/// `GET /api/v1/overview`: every project the token can see, and what needs attention first.
public struct TenantOverview: Decodable, Sendable {
    public struct Attention: Decodable, Sendable {
        public var projectID: UUID
        public var projectName: String
        /// `deploy_failed`, `deploy_rolled_back`, `offline`, `tasks_blocked`, `tasks_overdue` or `milestones_overdue`.
        public var kind: String
        public var detail: String
        public var since: Date?

        enum CodingKeys: String, CodingKey {
            case kind, detail, since, projectID = "project_id", projectName = "project_name"
        }
    }

    public struct ProjectLine: Decodable, Sendable {
        public struct Federation: Decodable, Sendable {
            /// `ONLINE`, `OFFLINE` or `UNKNOWN`.
            public var status: String
        }

        public var id: UUID
        public var name: String
        public var stage: String
        public var tasks: [String: Int]
        public var federation: Federation
        public var attention: Int
    }

    public struct Staleness: Decodable, Sendable {
        public var deployments: Bool
        public var federation: Bool
    }

    public var generatedAt: Date
    public var attention: [Attention]
    public var projects: [ProjectLine]
    public var stale: Staleness
    public var truncated: Bool

    enum CodingKeys: String, CodingKey {
        case attention, projects, stale, truncated, generatedAt = "generated_at"
    }
}

/// `POST /api/v1/connections/github` for a GitHub App installation.
struct GitHubAppConnect: Encodable {
    var appID: Int
    var installationID: Int
    var privateKey: String
    enum CodingKeys: String, CodingKey { case appID = "app_id", installationID = "installation_id", privateKey = "private_key" }
}

struct LinkWorkspaces: Encodable {
    var connectionID: String
    var workspaceIDs: [String]
    enum CodingKeys: String, CodingKey { case connectionID = "connection_id", workspaceIDs = "workspace_ids" }
}

/// `PUT /api/v1/projects/{id}/repository`: the link, and how GitHub is to call the fleet.
public struct RepositoryLink: Decodable, Sendable {
    public struct Webhook: Decodable, Sendable {
        public var path: String
        /// Only in the answer that made the link.
        public var secret: String?
        public var events: [String]
    }

    public var projectID: UUID
    public var fullName: String
    public var htmlURL: String?
    public var webhook: Webhook

    enum CodingKeys: String, CodingKey { case webhook, projectID = "project_id", fullName = "full_name", htmlURL = "html_url" }
}

/// A Coder workspace, as project-manager shows it.
public struct CoderWorkspace: Decodable, Sendable {
    public var id: UUID
    public var name: String
    public var owner: String
    public var status: String
    public var healthy: Bool?
    public var url: String
}
