import FlukeModels
import Foundation

// project-manager's models as the data of its events (Shared/FlukeModels/Events+ProjectManager.swift).

extension ProjectPayload {
    init(_ project: Project) {
        self.init(id: project.id, tenantID: project.tenantID, name: project.name, description: project.description,
                  stage: project.stage.rawValue, repositoryURL: project.repositoryURL, createdBy: project.createdBy,
                  createdAt: project.createdAt, updatedAt: project.updatedAt)
    }
}

extension MemberAddedPayload {
    init(_ member: ProjectMember) {
        self.init(projectID: member.projectID, userID: member.userID, name: member.name, email: member.email,
                  role: member.role.rawValue, addedAt: member.addedAt)
    }
}

extension MilestonePayload {
    init(_ milestone: Milestone, deleted: Bool) {
        self.init(id: milestone.id, projectID: milestone.projectID, title: milestone.title,
                  description: milestone.description, dueDate: milestone.dueDate, status: milestone.status.rawValue,
                  createdAt: milestone.createdAt, updatedAt: milestone.updatedAt, deleted: deleted)
    }
}

extension TaskPayload {
    init(_ task: WorkTask, deleted: Bool) {
        self.init(id: task.id, projectID: task.projectID, title: task.title, description: task.description,
                  status: task.status.rawValue, assigneeID: task.assigneeID, dueDate: task.dueDate, labels: task.labels,
                  source: task.source.rawValue, createdAt: task.createdAt, updatedAt: task.updatedAt, deleted: deleted)
    }
}
