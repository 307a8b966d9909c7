import Foundation

// The `data` of context-api's events (source `context-api`). Never a secret's value.

/// `env.updated`: the variable, with `value` only when it is not a secret.
public struct EnvUpdatedPayload: EventPayload, Equatable {
    public static let eventTypes: [EventType] = [.envUpdated]
    public var key: String
    /// `development`, `staging` or `production`.
    public var environment: String
    public var secret: Bool
    public var value: String?
    public var version: Int
    public var updatedAt: Date
    public var projectID: UUID

    enum CodingKeys: String, CodingKey {
        case key, environment, secret, value, version
        case updatedAt = "updated_at", projectID = "project_id"
    }

    /// `value` is left out when `secret`.
    public init(key: String, environment: String, secret: Bool, value: String, version: Int, updatedAt: Date,
                projectID: UUID) {
        self.key = key
        self.environment = environment
        self.secret = secret
        self.value = secret ? nil : value
        self.version = version
        self.updatedAt = updatedAt
        self.projectID = projectID
    }
}

/// `env.deleted`.
public struct EnvDeletedPayload: EventPayload, Equatable {
    public static let eventTypes: [EventType] = [.envDeleted]
    public var key: String
    public var environment: String
    public var projectID: UUID

    enum CodingKeys: String, CodingKey { case key, environment, projectID = "project_id" }

    public init(key: String, environment: String, projectID: UUID) {
        self.key = key
        self.environment = environment
        self.projectID = projectID
    }
}

/// `memory.synced`: a memory was created, updated or deleted (its content is not in the event).
public struct MemorySyncedPayload: EventPayload, Equatable {
    public static let eventTypes: [EventType] = [.memorySynced]
    public var id: UUID
    public var externalID: UUID
    /// `fact`, `convention`, `gotcha` or `decision`.
    public var memoryType: String
    public var version: Int
    public var deleted: Bool

    enum CodingKeys: String, CodingKey {
        case id, version, deleted
        case externalID = "external_id", memoryType = "memory_type"
    }

    public init(id: UUID, externalID: UUID, memoryType: String, version: Int, deleted: Bool) {
        self.id = id
        self.externalID = externalID
        self.memoryType = memoryType
        self.version = version
        self.deleted = deleted
    }
}

/// `mcp.config_changed`: the project's MCP configuration.
public struct MCPConfigChangedPayload: EventPayload, Equatable {
    public static let eventTypes: [EventType] = [.mcpConfigChanged]
    public var preset: String?
    public var enabledPlugins: [String]
    public var pluginSettings: JSONValue
    /// `minimal`, `standard` or `full`.
    public var contextLevel: String
    public var projectID: UUID

    enum CodingKeys: String, CodingKey {
        case preset
        case enabledPlugins = "enabled_plugins", pluginSettings = "plugin_settings", contextLevel = "context_level"
        case projectID = "project_id"
    }

    public init(preset: String?, enabledPlugins: [String], pluginSettings: JSONValue, contextLevel: String,
                projectID: UUID) {
        self.preset = preset
        self.enabledPlugins = enabledPlugins
        self.pluginSettings = pluginSettings
        self.contextLevel = contextLevel
        self.projectID = projectID
    }
}
