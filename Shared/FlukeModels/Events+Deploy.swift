import Foundation

// The `data` of deploy-tracker's events (source `deploy-tracker`; `tenantid` and `projectid` set).

/// `deploy.queued`, `deploy.started`, `deploy.phase_changed`, `deploy.succeeded`, `deploy.failed`,
/// `deploy.rolled_back`, `deploy.cancelled`: a deployment moved.
public struct DeploymentPayload: EventPayload, Equatable {
    public static let eventTypes: [EventType] = [
        .deployQueued, .deployStarted, .deployPhaseChanged, .deploySucceeded, .deployFailed, .deployRolledBack,
        .deployCancelled,
    ]
    public var deploymentID: UUID
    public var app: String
    /// `v<N>`: the release this deployment makes (or, for a rollback, restores).
    public var version: String?
    /// `pending`, `building`, `deploying`, `success`, `failed`, `rolled_back` or `cancelled`.
    public var status: String
    /// The phase now running (`deploy.phase_changed`), or the one that failed.
    public var phase: String?
    /// Why it failed, was rolled back or cancelled.
    public var reason: String?
    /// The failed deployment this one rolls back.
    public var rollbackOf: UUID?
    /// Who asked for it (a user id, or `deploy-tracker` for automatic rollbacks).
    public var requestedBy: String?

    enum CodingKeys: String, CodingKey {
        case app, version, status, phase, reason
        case deploymentID = "deployment_id", rollbackOf = "rollback_of", requestedBy = "requested_by"
    }

    public init(deploymentID: UUID, app: String, version: String?, status: String, phase: String? = nil,
                reason: String? = nil, rollbackOf: UUID? = nil, requestedBy: String? = nil) {
        self.deploymentID = deploymentID
        self.app = app
        self.version = version
        self.status = status
        self.phase = phase
        self.reason = reason
        self.rollbackOf = rollbackOf
        self.requestedBy = requestedBy
    }
}
