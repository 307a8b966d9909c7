import FlukeModels
import Foundation

// deploy-tracker's answers (its OpenAPI document's schemas).

public struct App: Decodable, Sendable {
    public var id: UUID
    public var name: String
    public var projectID: UUID?
    public var executor: String
    public var status: String
    public var currentRelease: String?
    public var url: String?

    enum CodingKeys: String, CodingKey {
        case id, name, projectID = "project_id", executor, status, currentRelease = "current_release", url
    }
}

public struct Release: Decodable, Sendable {
    public var version: String
    public var image: String?
    public var deploymentID: UUID?
    public var current: Bool
    public var createdAt: Date

    enum CodingKeys: String, CodingKey {
        case version, image, deploymentID = "deployment_id", current, createdAt = "created_at"
    }
}

/// A deployment and its five phases.
public struct Deployment: Decodable, Sendable {
    public struct Phase: Decodable, Sendable {
        public var name: String
        public var state: String
        public var startedAt: Date?
        public var durationMS: Int?
        public var error: String?

        enum CodingKeys: String, CodingKey {
            case name, state, startedAt = "started_at", durationMS = "duration_ms", error
        }
    }

    public var id: UUID
    public var appName: String
    public var status: String
    public var version: String?
    public var phases: [Phase]
    public var reason: String?
    public var error: String?
    public var createdAt: Date?

    /// Queued, running or otherwise not yet ended.
    public var isFinished: Bool { ["success", "failed", "rolled_back", "cancelled"].contains(status) }

    enum CodingKeys: String, CodingKey {
        case id, appName = "app_name", status, version, phases, reason, error, createdAt = "created_at"
    }
}

/// `GET /api/v1/deployments/{id}/logs`.
public struct DeploymentLogs: Decodable, Sendable {
    public var deploymentID: UUID
    public var entries: [UnifiedLogEntry]

    enum CodingKeys: String, CodingKey { case deploymentID = "deployment_id", entries }
}

/// `POST /api/v1/deploy/validate`: whether a deploy request would pass, check by check.
public struct ValidationReport: Decodable, Sendable {
    public var valid: Bool
    public var checks: [JSONValue]
}
