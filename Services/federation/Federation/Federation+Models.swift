import FlukeModels
import Foundation

/// A catalogued project's liveness.
public enum ProjectStatus: String, Codable, Sendable, CaseIterable {
    /// No heartbeat has ever been received.
    case unknown = "UNKNOWN"
    case online = "ONLINE"
    case offline = "OFFLINE"
}

/// One running instance of a project, as its heartbeats describe it.
public struct ProjectInstance: Codable, Sendable, Equatable {
    public var instanceID: String
    public var version: String
    public var lastHeartbeatAt: Date
    public var metadata: JSONValue?

    enum CodingKeys: String, CodingKey {
        case instanceID = "instance_id", version, lastHeartbeatAt = "last_heartbeat_at", metadata
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        instanceID = try c.decode(String.self, forKey: .instanceID)
        version = try c.decode(String.self, forKey: .version)
        lastHeartbeatAt = try c.decode(Date.self, forKey: .lastHeartbeatAt)
        // Stored as `{}` when the heartbeat had none.
        let raw = try c.decodeIfPresent(JSONValue.self, forKey: .metadata)
        metadata = raw == .object([:]) ? nil : raw
    }
}

/// A project as the API returns it: catalog entry plus live status.
public struct ProjectView: Codable, Sendable {
    public var slug: String
    public var name: String
    public var description: String?
    public var owner: String?
    public var repository: String?
    public var tags: [String]
    public var projectID: String?
    public var status: ProjectStatus
    public var statusChangedAt: Date?
    public var lastHeartbeatAt: Date?
    public var instances: [ProjectInstance]
    /// Present on `GET /api/fed/projects/{slug}` only.
    public var history: [StatusChange]?

    enum CodingKeys: String, CodingKey {
        case slug, name, description, owner, repository, tags, status, instances, history
        case projectID = "project_id", statusChangedAt = "status_changed_at", lastHeartbeatAt = "last_heartbeat_at"
    }
}

/// One status transition.
public struct StatusChange: Codable, Sendable, Equatable {
    public var from: ProjectStatus
    public var to: ProjectStatus
    public var at: Date
    public var reason: String
}

/// Counts by status.
public struct FederationStats: Codable, Sendable {
    public var total: Int
    public var byStatus: [String: Int]
    enum CodingKeys: String, CodingKey { case total, byStatus = "by_status" }
}

/// One heartbeat, accepted and ready to be stored.
public struct HeartbeatRecord: Sendable {
    public var slug: String
    public var instanceID: String
    public var version: String
    public var sentAt: Date
    public var receivedAt: Date
    /// The heartbeat's `metadata` as JSON text (`{}` when absent).
    public var metadataJSON: String
    /// Flushes on which Postgres refused this record (it is dropped at the second).
    var refusedFlushes = 0
}

/// A project's live state as the read model keeps it.
public struct LiveStatus: Sendable, Equatable {
    /// Status changes shown by `GET /api/fed/projects/{slug}`.
    public static let historyLimit = 50
    public var status: ProjectStatus
    public var statusChangedAt: Date?
    public var lastHeartbeatAt: Date?
    public var instances: [ProjectInstance]
    /// The newest status changes, present when the status changed in the refreshed window.
    public var history: [StatusChange]?
}
