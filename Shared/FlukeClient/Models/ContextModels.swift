import FlukeModels
import Foundation

// context-api's answers (its OpenAPI document's schemas).

/// `GET /api/v1/flukebase_connect/context`: what an AI tool should know about a project.
public struct ProjectContext: Decodable, Sendable {
    public struct ProjectSummary: Decodable, Sendable {
        public var id: UUID
        public var name: String
        public var description: String
        public var stage: String
    }

    public var project: ProjectSummary
    public var milestones: [Milestone]?
    public var memories: [Memory]?
    /// Where the change feed stands now: `contextChanges(since:)` continues from it.
    public var changesCursor: String

    enum CodingKeys: String, CodingKey { case project, milestones, memories, changesCursor = "changes_cursor" }
}

/// One entry of the change feed (`GET /api/v1/flukebase_connect/changes`).
public struct ContextChange: Decodable, Sendable {
    public var cursor: String
    public var entity: String
    public var id: String
    public var op: String
    public var at: Date
}

public struct EnvVar: Decodable, Sendable {
    public var key: String
    public var environment: String
    public var secret: Bool
    /// Absent when masked.
    public var value: String?
    public var masked: Bool
    public var version: Int
}

public struct Memory: Decodable, Sendable {
    public var id: UUID
    public var externalID: String
    public var memoryType: String
    public var content: String
    public var tags: [String]
    public var version: Int

    enum CodingKeys: String, CodingKey {
        case id, externalID = "external_id", memoryType = "memory_type", content, tags, version
    }
}
