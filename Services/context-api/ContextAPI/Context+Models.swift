import FlukeModels
import FlukeRuntime
import Foundation
import Hummingbird

public enum Environment: String, Codable, Sendable, CaseIterable { case development, staging, production }
public enum MemoryType: String, Codable, Sendable, CaseIterable { case fact, convention, gotcha, decision }
public enum ContextLevel: String, Codable, Sendable, CaseIterable { case minimal, standard, full }

/// A project as the replica knows it.
public struct ProjectInfo: Codable, Sendable, Equatable {
    public var id: UUID
    public var tenantID: UUID
    public var name: String
    public var description: String
    public var stage: String
    public var repositoryURL: String?
    enum CodingKeys: String, CodingKey {
        case id, name, description, stage
        case tenantID = "tenant_id", repositoryURL = "repository_url"
    }
}

public struct EnvVar: Codable, Sendable, Equatable {
    public var key: String
    public var environment: Environment
    public var secret: Bool
    /// The value; `nil` with `masked` when the caller may not read secrets.
    public var value: String?
    public var masked: Bool
    public var version: Int
    public var updatedAt: Date
    enum CodingKeys: String, CodingKey {
        case key, environment, secret, value, masked, version
        case updatedAt = "updated_at"
    }
}

public struct EnvAccess: Codable, Sendable {
    public var key: String
    public var environment: Environment
    public var actorUserID: UUID?
    public var actorTokenID: UUID?
    public var via: String
    /// The deployment that read it (`via: deploy`).
    public var deploymentID: UUID?
    public var at: Date
    enum CodingKeys: String, CodingKey {
        case key, environment, via, at
        case actorUserID = "actor_user_id", actorTokenID = "actor_token_id", deploymentID = "deployment_id"
    }
}

public struct Memory: Codable, Sendable, Equatable {
    public var id: UUID
    public var externalID: UUID
    public var projectID: UUID
    public var memoryType: MemoryType
    public var content: String
    public var tags: [String]
    public var createdBy: UUID?
    public var createdAt: Date
    public var updatedAt: Date
    public var version: Int
    public var syncedAt: Date
    enum CodingKeys: String, CodingKey {
        case id, content, tags, version
        case externalID = "external_id", projectID = "project_id", memoryType = "memory_type"
        case createdBy = "created_by", createdAt = "created_at", updatedAt = "updated_at", syncedAt = "synced_at"
    }
}

public struct MemoryConflict: Codable, Sendable {
    public var id: UUID
    public var memoryID: UUID
    public var winner: String
    public var losing: LosingVersion
    public var baseVersion: Int?
    public var resolvedVersion: Int
    public var createdAt: Date

    public struct LosingVersion: Codable, Sendable {
        public var memoryType: String
        public var content: String
        public var tags: [String]
        public var updatedAt: Date
        public var version: Int
        enum CodingKeys: String, CodingKey {
            case content, tags, version
            case memoryType = "memory_type", updatedAt = "updated_at"
        }
    }
    enum CodingKeys: String, CodingKey {
        case id, winner, losing
        case memoryID = "memory_id", baseVersion = "base_version", resolvedVersion = "resolved_version", createdAt = "created_at"
    }
}

public struct MCPConfiguration: Codable, Sendable, Equatable {
    public var preset: String?
    public var enabledPlugins: [String]
    public var pluginSettings: JSONValue
    public var contextLevel: ContextLevel
    enum CodingKeys: String, CodingKey {
        case preset
        case enabledPlugins = "enabled_plugins", pluginSettings = "plugin_settings", contextLevel = "context_level"
    }
    static let standard = MCPConfiguration(preset: nil, enabledPlugins: [], pluginSettings: .object([:]), contextLevel: .standard)
}

public struct TeamMember: Codable, Sendable, Equatable {
    public var userID: UUID
    public var name: String
    public var email: String
    public var role: String
    enum CodingKeys: String, CodingKey { case name, email, role, userID = "user_id" }
}

public struct MilestoneInfo: Codable, Sendable, Equatable {
    public var id: UUID
    public var title: String
    public var description: String
    public var dueDate: String?
    public var status: String
    enum CodingKeys: String, CodingKey { case id, title, description, status, dueDate = "due_date" }
}

/// `GET /api/v1/flukebase_connect/context`.
public struct ProjectContext: Codable, Sendable {
    public var project: ContextProject
    public var environmentVariables: [EnvVar]?
    public var milestones: [MilestoneInfo]?
    public var teamMembers: [TeamMember]?
    public var memories: [Memory]?
    public var mcpConfiguration: MCPConfiguration
    /// Where to resume the changes feed after this snapshot.
    public var changesCursor: String?

    public struct ContextProject: Codable, Sendable {
        public var id: UUID
        public var name: String
        public var description: String
        public var stage: String
    }
    enum CodingKeys: String, CodingKey {
        case project, milestones, memories
        case environmentVariables = "environment_variables", teamMembers = "team_members"
        case mcpConfiguration = "mcp_configuration", changesCursor = "changes_cursor"
    }
}

/// One entry of the changes feed.
public struct Change: Codable, Sendable {
    public var cursor: String
    public var entity: String
    public var id: String
    public var op: String
    public var data: JSONValue
    public var at: Date
}

extension EnvVar: ResponseEncodable {}
extension Memory: ResponseEncodable {}
extension MCPConfiguration: ResponseEncodable {}
