import Foundation

// The `data` of federation's events (source `federation`; no `tenantid`: the catalog is global).

/// `federation.project.online`, `federation.project.offline`: a catalog project's status changed.
public struct FederationProjectStatusPayload: EventPayload, Equatable {
    public static let eventTypes: [EventType] = [.federationProjectOnline, .federationProjectOffline]
    public var slug: String
    public var name: String
    /// `ONLINE` or `OFFLINE`.
    public var status: String
    /// `UNKNOWN`, `ONLINE` or `OFFLINE`.
    public var previousStatus: String
    public var changedAt: Date
    public var lastHeartbeatAt: Date?
    /// The fleet project the catalog entry names, if any (as the catalog spells it).
    public var projectID: String?

    enum CodingKeys: String, CodingKey {
        case slug, name, status
        case previousStatus = "previous_status", changedAt = "changed_at", lastHeartbeatAt = "last_heartbeat_at"
        case projectID = "project_id"
    }

    public init(slug: String, name: String, status: String, previousStatus: String, changedAt: Date,
                lastHeartbeatAt: Date?, projectID: String?) {
        self.slug = slug
        self.name = name
        self.status = status
        self.previousStatus = previousStatus
        self.changedAt = changedAt
        self.lastHeartbeatAt = lastHeartbeatAt
        self.projectID = projectID
    }
}
