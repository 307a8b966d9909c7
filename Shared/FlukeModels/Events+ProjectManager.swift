import Foundation

// The `data` of project-manager's events (source `project-manager`).

/// `project.created`, `project.updated`: the project as project-manager's API returns it.
public struct ProjectPayload: EventPayload, Equatable {
    public static let eventTypes: [EventType] = [.projectCreated, .projectUpdated]
    public var id: UUID
    public var tenantID: UUID?
    public var name: String?
    public var description: String?
    /// `idea`, `prototype`, `mvp` or `production`.
    public var stage: String?
    public var repositoryURL: String?
    public var createdBy: UUID?
    public var createdAt: Date?
    public var updatedAt: Date?

    enum CodingKeys: String, CodingKey {
        case id, name, description, stage
        case tenantID = "tenant_id", repositoryURL = "repository_url", createdBy = "created_by"
        case createdAt = "created_at", updatedAt = "updated_at"
    }

    public init(id: UUID, tenantID: UUID?, name: String?, description: String?, stage: String?, repositoryURL: String?,
                createdBy: UUID?, createdAt: Date?, updatedAt: Date?) {
        self.id = id
        self.tenantID = tenantID
        self.name = name
        self.description = description
        self.stage = stage
        self.repositoryURL = repositoryURL
        self.createdBy = createdBy
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// `project.deleted`.
public struct ProjectDeletedPayload: EventPayload, Equatable {
    public static let eventTypes: [EventType] = [.projectDeleted]
    public var id: UUID
    /// Always true.
    public var deleted: Bool

    public init(id: UUID) {
        self.id = id
        deleted = true
    }
}

/// `member.added` (also sent on a role change): the project member.
public struct MemberAddedPayload: EventPayload, Equatable {
    public static let eventTypes: [EventType] = [.memberAdded]
    public var projectID: UUID?
    public var userID: UUID
    public var name: String?
    public var email: String?
    /// `lead`, `developer`, `designer`, `reviewer` or `observer`.
    public var role: String?
    public var addedAt: Date?

    enum CodingKeys: String, CodingKey {
        case name, email, role
        case projectID = "project_id", userID = "user_id", addedAt = "added_at"
    }

    public init(projectID: UUID?, userID: UUID, name: String?, email: String?, role: String?, addedAt: Date?) {
        self.projectID = projectID
        self.userID = userID
        self.name = name
        self.email = email
        self.role = role
        self.addedAt = addedAt
    }
}

/// `member.removed`.
public struct MemberRemovedPayload: EventPayload, Equatable {
    public static let eventTypes: [EventType] = [.memberRemoved]
    public var projectID: UUID?
    public var userID: UUID

    enum CodingKeys: String, CodingKey { case projectID = "project_id", userID = "user_id" }

    public init(projectID: UUID?, userID: UUID) {
        self.projectID = projectID
        self.userID = userID
    }
}

/// `milestone.updated` (also on create, and on delete with `deleted` true): the milestone.
public struct MilestonePayload: EventPayload, Equatable {
    public static let eventTypes: [EventType] = [.milestoneUpdated]
    public var id: UUID
    public var projectID: UUID?
    public var title: String?
    public var description: String?
    /// `YYYY-MM-DD`.
    public var dueDate: String?
    /// `planned`, `in_progress`, `done` or `cancelled`.
    public var status: String?
    public var createdAt: Date?
    public var updatedAt: Date?
    public var deleted: Bool?

    enum CodingKeys: String, CodingKey {
        case id, title, description, status, deleted
        case projectID = "project_id", dueDate = "due_date", createdAt = "created_at", updatedAt = "updated_at"
    }

    public init(id: UUID, projectID: UUID?, title: String?, description: String?, dueDate: String?, status: String?,
                createdAt: Date?, updatedAt: Date?, deleted: Bool) {
        self.id = id
        self.projectID = projectID
        self.title = title
        self.description = description
        self.dueDate = dueDate
        self.status = status
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.deleted = deleted
    }
}

/// `task.created`, `task.updated` (also on delete, with `deleted` true): the task.
public struct TaskPayload: EventPayload, Equatable {
    public static let eventTypes: [EventType] = [.taskCreated, .taskUpdated]
    public var id: UUID
    public var projectID: UUID
    public var title: String
    public var description: String
    /// `todo`, `in_progress`, `blocked` or `done`.
    public var status: String
    public var assigneeID: UUID?
    public var dueDate: String?
    public var labels: [String]
    /// `manual`, `deployment` or `github`.
    public var source: String
    public var createdAt: Date
    public var updatedAt: Date
    public var deleted: Bool

    enum CodingKeys: String, CodingKey {
        case id, title, description, status, labels, source, deleted
        case projectID = "project_id", assigneeID = "assignee_id", dueDate = "due_date"
        case createdAt = "created_at", updatedAt = "updated_at"
    }

    public init(id: UUID, projectID: UUID, title: String, description: String, status: String, assigneeID: UUID?,
                dueDate: String?, labels: [String], source: String, createdAt: Date, updatedAt: Date, deleted: Bool) {
        self.id = id
        self.projectID = projectID
        self.title = title
        self.description = description
        self.status = status
        self.assigneeID = assigneeID
        self.dueDate = dueDate
        self.labels = labels
        self.source = source
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.deleted = deleted
    }
}

/// `token.revoked`: one per revoked API token (a revocation also revokes the tokens it minted).
public struct TokenRevokedPayload: EventPayload, Equatable {
    public static let eventTypes: [EventType] = [.tokenRevoked]
    public var tokenID: UUID
    public var userID: UUID
    /// The project the token was bound to, if any.
    public var projectID: UUID?

    enum CodingKeys: String, CodingKey { case tokenID = "token_id", userID = "user_id", projectID = "project_id" }

    public init(tokenID: UUID, userID: UUID, projectID: UUID?) {
        self.tokenID = tokenID
        self.userID = userID
        self.projectID = projectID
    }
}
