import FlukeModels
import FlukeRuntime
import Foundation
import Hummingbird

/// An app's latest deployment, as deploy-tracker's events told it.
struct AppDeploymentView: Codable, Sendable {
    var app: String
    var deploymentID: UUID
    var version: String?
    var status: String
    var phase: String?
    var reason: String?
    /// When the event that set this status happened.
    var at: Date

    enum CodingKeys: String, CodingKey {
        case app, version, status, phase, reason, at
        case deploymentID = "deployment_id"
    }
}

/// A catalog entry naming the project, as federation's events told it.
struct CatalogEntryView: Codable, Sendable {
    var slug: String
    var name: String
    var status: String
    var changedAt: Date
    var lastHeartbeatAt: Date?

    enum CodingKeys: String, CodingKey {
        case slug, name, status
        case changedAt = "changed_at", lastHeartbeatAt = "last_heartbeat_at"
    }
}

/// One part of a status: when its source last said something, and whether that may be out of
/// date (its source or the event stream cannot be heard): stale, never an error.
struct StatusPart<Body: Codable & Sendable>: Codable, Sendable {
    var updatedAt: Date?
    var stale: Bool
    var body: Body

    enum CodingKeys: String, CodingKey { case updatedAt = "updated_at", stale }

    init(updatedAt: Date?, stale: Bool, body: Body) {
        self.updatedAt = updatedAt
        self.stale = stale
        self.body = body
    }

    // The body's fields sit beside `updated_at` and `stale`.
    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        updatedAt = try c.decodeIfPresent(Date.self, forKey: .updatedAt)
        stale = try c.decode(Bool.self, forKey: .stale)
        body = try Body(from: decoder)
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(updatedAt, forKey: .updatedAt)
        try c.encode(stale, forKey: .stale)
        try body.encode(to: encoder)
    }
}

struct DeploymentsBody: Codable, Sendable {
    var items: [AppDeploymentView]
}

struct FederationBody: Codable, Sendable {
    /// `ONLINE` when every catalog entry naming the project is, `OFFLINE` when any is not,
    /// `UNKNOWN` when none names it.
    var status: String
    var services: [CatalogEntryView]

    init(_ services: [CatalogEntryView]) {
        self.services = services
        status = services.isEmpty ? "UNKNOWN" : services.allSatisfy { $0.status == "ONLINE" } ? "ONLINE" : "OFFLINE"
    }
}

struct WorkspacesBody: Codable, Sendable {
    var items: [WorkspaceView]
}

/// The project's linked repository's open pull requests, as the last sync read them.
struct PullRequestsBody: Codable, Sendable {
    var repository: String
    var count: Int
    /// The first ``GitHubIssueSync/pullsShown``.
    var items: [JSONValue]
    /// Why the last sync failed, if it did.
    var syncError: String?

    enum CodingKeys: String, CodingKey { case repository, count, items, syncError = "sync_error" }
}

/// `GET /api/v1/projects/{id}/status`: the project's own counts, and what the rest of the fleet
/// says about it, each part with its time and staleness.
struct ProjectStatusView: Codable, Sendable, ResponseEncodable {
    var projectID: UUID
    var tasks: [String: Int]
    var milestones: [String: Int]
    var teamSize: Int
    /// When the counts were read (they are read live).
    var updatedAt: Date
    var deployments: StatusPart<DeploymentsBody>
    var federation: StatusPart<FederationBody>
    var workspaces: StatusPart<WorkspacesBody>
    /// Absent while the project has no linked repository.
    var pullRequests: StatusPart<PullRequestsBody>?

    enum CodingKeys: String, CodingKey {
        case tasks, milestones, deployments, federation, workspaces, pullRequests = "pull_requests"
        case projectID = "project_id", teamSize = "team_size", updatedAt = "updated_at"
    }
}

/// Something of a project that needs a person's attention, most pressing kinds first.
struct AttentionItem: Codable, Sendable {
    enum Kind: String, Codable, Sendable, CaseIterable {
        case deployFailed = "deploy_failed", deployRolledBack = "deploy_rolled_back", offline
        case tasksBlocked = "tasks_blocked", tasksOverdue = "tasks_overdue", milestonesOverdue = "milestones_overdue"
        case workspaceFailing = "workspace_failing"
    }

    var projectID: UUID
    var projectName: String
    var kind: Kind
    var detail: String
    /// When it began, where known.
    var since: Date?

    enum CodingKeys: String, CodingKey {
        case kind, detail, since
        case projectID = "project_id", projectName = "project_name"
    }
}

/// One project in the overview.
struct ProjectOverview: Codable, Sendable {
    var id: UUID
    var name: String
    var stage: String
    var tasks: [String: Int]
    var overdueTasks: Int
    var milestones: [String: Int]
    var overdueMilestones: Int
    var deployments: [AppDeploymentView]
    var federation: FederationBody
    var workspaces: [WorkspaceView]
    /// How many attention items are this project's.
    var attention: Int

    enum CodingKeys: String, CodingKey {
        case id, name, stage, tasks, milestones, deployments, federation, workspaces, attention
        case overdueTasks = "overdue_tasks", overdueMilestones = "overdue_milestones"
    }
}

/// `GET /api/v1/overview`: every project the caller can see, what needs attention first.
struct TenantOverview: Codable, Sendable, ResponseEncodable {
    struct Freshness: Codable, Sendable {
        var deployments: Bool
        var federation: Bool
        var workspaces: Bool
    }

    var generatedAt: Date
    var attention: [AttentionItem]
    var projects: [ProjectOverview]
    /// Whether the projects' deployments or federation statuses may be out of date.
    var stale: Freshness
    /// More projects than one answer holds (``FleetStatusReader/overviewLimit``).
    var truncated: Bool

    enum CodingKeys: String, CodingKey {
        case attention, projects, stale, truncated
        case generatedAt = "generated_at"
    }
}
