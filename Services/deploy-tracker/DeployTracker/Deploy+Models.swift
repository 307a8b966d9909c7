import DeployExecutors
import FlukeModels
import Foundation
import Hummingbird

/// A deployment's state: `pending → building → deploying → success`, or `failed` (then
/// `rolled_back` once its automatic rollback succeeded), or `cancelled`.
public enum DeploymentStatus: String, Codable, Sendable, CaseIterable {
    case pending, building, deploying, success, failed
    case rolledBack = "rolled_back"
    case cancelled

    /// Still queued or running.
    public var isActive: Bool { self == .pending || self == .building || self == .deploying }
}

/// The five phases, in order.
public enum DeployPhase: String, Codable, Sendable, CaseIterable {
    case preBuild = "pre_build", build, preDeploy = "pre_deploy", deploy, postDeploy = "post_deploy"
}

/// One phase of one deployment, as `GET /api/v1/deployments/{deployment_id}` shows it.
public struct PhaseRecord: Codable, Sendable, Equatable {
    public enum State: String, Codable, Sendable { case running, succeeded, failed, skipped }

    public var name: DeployPhase
    public var state: State
    public var startedAt: Date
    public var endedAt: Date?
    public var durationMS: Int?
    public var error: String?

    enum CodingKeys: String, CodingKey {
        case name, state, error
        case startedAt = "started_at", endedAt = "ended_at", durationMS = "duration_ms"
    }
}

/// An app: a name in its tenant, an executor and the spec its next deployment uses.
public struct App: Codable, Sendable {
    public var id: UUID
    public var name: String
    public var projectID: UUID
    public var executor: ExecutorKind
    public var spec: AppSpec
    /// `new` (never deployed), `deploying`, `running`, `failed`.
    public var status: String
    /// `v<N>` of the release serving now.
    public var currentRelease: String?
    /// The app's stable address, once it has one.
    public var url: String?
    /// Each replica's state, as the executor sees it now (single-app reads only).
    public var replicas: [ReplicaStatus]?
    public var createdAt: Date
    public var updatedAt: Date
    public var tenantID: UUID

    enum CodingKeys: String, CodingKey {
        case id, name, executor, spec, status, url, replicas
        case tenantID = "tenant_id"
        case projectID = "project_id", currentRelease = "current_release", createdAt = "created_at",
             updatedAt = "updated_at"
    }
}

/// A kept release: what a rollback restores without a rebuild.
public struct Release: Codable, Sendable {
    public var version: String
    public var spec: AppSpec
    /// The build's directory (process) or the image (swarm, kubernetes).
    public var artifact: String
    public var image: String?
    public var deploymentID: UUID
    public var current: Bool
    public var createdAt: Date

    enum CodingKeys: String, CodingKey {
        case version, spec, artifact, image, current
        case deploymentID = "deployment_id", createdAt = "created_at"
    }
}

/// A deployment, as every deployment route returns it.
public struct Deployment: Codable, Sendable {
    public var id: UUID
    public var appName: String
    public var projectID: UUID
    /// `deploy`, or `rollback` (a rollback restores a kept release, no rebuild).
    public var kind: String
    public var status: DeploymentStatus
    /// `v<N>`: the release it makes, or restores; known once it starts.
    public var version: String?
    public var image: String?
    public var autoRollback: Bool
    public var validationLevel: String
    public var rollbackOf: UUID?
    /// The rollback deployment started for this one, if any.
    public var rolledBackBy: UUID?
    public var reason: String?
    public var error: String?
    /// Which trigger failed it: build, validation, timeout, health_check, replica_startup, hook,
    /// executor, restart.
    public var failureKind: String?
    public var phases: [PhaseRecord]
    public var requestedBy: UUID?
    public var createdAt: Date
    public var startedAt: Date?
    public var finishedAt: Date?
    public var durationMS: Int?

    enum CodingKeys: String, CodingKey {
        case id, kind, status, version, image, reason, error, phases
        case deploymentID = "deployment_id", appName = "app_name", projectID = "project_id",
             autoRollback = "auto_rollback", validationLevel = "validation_level", rollbackOf = "rollback_of",
             rolledBackBy = "rolled_back_by", failureKind = "failure_kind", requestedBy = "requested_by",
             createdAt = "created_at", startedAt = "started_at", finishedAt = "finished_at", durationMS = "duration_ms"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(UUID.self, forKey: .id)
        appName = try c.decode(String.self, forKey: .appName)
        projectID = try c.decode(UUID.self, forKey: .projectID)
        kind = try c.decode(String.self, forKey: .kind)
        status = try c.decode(DeploymentStatus.self, forKey: .status)
        version = try c.decodeIfPresent(String.self, forKey: .version)
        image = try c.decodeIfPresent(String.self, forKey: .image)
        autoRollback = try c.decode(Bool.self, forKey: .autoRollback)
        validationLevel = try c.decode(String.self, forKey: .validationLevel)
        rollbackOf = try c.decodeIfPresent(UUID.self, forKey: .rollbackOf)
        rolledBackBy = try c.decodeIfPresent(UUID.self, forKey: .rolledBackBy)
        reason = try c.decodeIfPresent(String.self, forKey: .reason)
        error = try c.decodeIfPresent(String.self, forKey: .error)
        failureKind = try c.decodeIfPresent(String.self, forKey: .failureKind)
        phases = try c.decode([PhaseRecord].self, forKey: .phases)
        requestedBy = try c.decodeIfPresent(UUID.self, forKey: .requestedBy)
        createdAt = try c.decode(Date.self, forKey: .createdAt)
        startedAt = try c.decodeIfPresent(Date.self, forKey: .startedAt)
        finishedAt = try c.decodeIfPresent(Date.self, forKey: .finishedAt)
        durationMS = try c.decodeIfPresent(Int.self, forKey: .durationMS)
    }

    init(id: UUID, appName: String, projectID: UUID, kind: String, status: DeploymentStatus, version: String?,
         image: String?, autoRollback: Bool, validationLevel: String, rollbackOf: UUID?, rolledBackBy: UUID?,
         reason: String?, error: String?, failureKind: String?, phases: [PhaseRecord], requestedBy: UUID?,
         createdAt: Date, startedAt: Date?, finishedAt: Date?) {
        self.id = id
        self.appName = appName
        self.projectID = projectID
        self.kind = kind
        self.status = status
        self.version = version
        self.image = image
        self.autoRollback = autoRollback
        self.validationLevel = validationLevel
        self.rollbackOf = rollbackOf
        self.rolledBackBy = rolledBackBy
        self.reason = reason
        self.error = error
        self.failureKind = failureKind
        self.phases = phases
        self.requestedBy = requestedBy
        self.createdAt = createdAt
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        durationMS = startedAt.flatMap { start in finishedAt.map { Int(($0.timeIntervalSince(start) * 1000).rounded()) } }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        // The seed's clients read `deployment_id`; both name the same id.
        try c.encode(id, forKey: .deploymentID)
        try c.encode(appName, forKey: .appName)
        try c.encode(projectID, forKey: .projectID)
        try c.encode(kind, forKey: .kind)
        try c.encode(status, forKey: .status)
        try c.encodeIfPresent(version, forKey: .version)
        try c.encodeIfPresent(image, forKey: .image)
        try c.encode(autoRollback, forKey: .autoRollback)
        try c.encode(validationLevel, forKey: .validationLevel)
        try c.encodeIfPresent(rollbackOf, forKey: .rollbackOf)
        try c.encodeIfPresent(rolledBackBy, forKey: .rolledBackBy)
        try c.encodeIfPresent(reason, forKey: .reason)
        try c.encodeIfPresent(error, forKey: .error)
        try c.encodeIfPresent(failureKind, forKey: .failureKind)
        try c.encode(phases, forKey: .phases)
        try c.encodeIfPresent(requestedBy, forKey: .requestedBy)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encodeIfPresent(startedAt, forKey: .startedAt)
        try c.encodeIfPresent(finishedAt, forKey: .finishedAt)
        try c.encodeIfPresent(durationMS, forKey: .durationMS)
    }
}

/// `GET /api/v1/deployments/{deployment_id}/logs`: the entries of each phase, in order.
public struct DeploymentLogs: Codable, Sendable {
    public var deploymentID: UUID
    public var phases: [String: [UnifiedLogEntry]]
    public var entries: [UnifiedLogEntry]

    enum CodingKeys: String, CodingKey {
        case phases, entries
        case deploymentID = "deployment_id"
    }
}

/// `GET /api/v1/deployments/stats`: the seed's tracker statistics, for the caller's tenant.
public struct DeploymentStats: Codable, Sendable {
    public var total: Int
    public var active: Int
    public var byStatus: [String: Int]
    public var successRate: Double?
    public var averageDurationMS: Int?
    public var last24h: Int

    enum CodingKeys: String, CodingKey {
        case total, active
        case byStatus = "by_status", successRate = "success_rate", averageDurationMS = "average_duration_ms",
             last24h = "last_24h"
    }
}

/// `POST /api/v1/deploy/validate`: every check, and whether all passed.
public struct ValidationReport: Codable, Sendable {
    public var valid: Bool
    public var checks: [ValidationCheck]
}

/// A list with no paging (releases, an app's recent deployments, active deployments).
public struct ItemList<Item: Codable & Sendable>: Codable, Sendable {
    public var items: [Item]
}

extension App: ResponseEncodable {}
extension Release: ResponseEncodable {}
extension Deployment: ResponseEncodable {}
extension DeploymentLogs: ResponseEncodable {}
extension DeploymentStats: ResponseEncodable {}
extension ValidationReport: ResponseEncodable {}
extension ItemList: ResponseEncodable {}
