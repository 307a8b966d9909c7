import FlukeModels
import FlukeRuntime
import Foundation
import Hummingbird

/// Projects, their members and milestones.
extension PMRoutes {
    func registerProjects(_ routes: inout RouteRecorder) {
        routes.on(.get, "/api/v1/projects") { request, context in
            let principal = try context.principal(requiring: .contextRead)
            let (after, limit) = try Pagination.sequence(request)
            let (items, last) = try await projects.list(principal, after: after, limit: limit)
            return Page(items: items, lastSequence: last, limit: limit)
        }
        routes.on(.post, "/api/v1/projects") { request, context in
            let principal = try context.tenantWidePrincipal(requiring: .contextWrite)
            let fields = try await RequestFields.read(request, context: context)
            try fields.allowOnly(["name", "description", "stage", "repository_url"])
            let project = try await projects.create(
                principal, requestID: context.requestID, name: try fields.string("name", required: true, maxLength: Self.nameLimit)!,
                description: try fields.string("description", minLength: 0, maxLength: Self.descriptionLimit) ?? "",
                stage: try fields.oneOf("stage", ProjectStage.self) ?? .idea,
                repositoryURL: try Self.repositoryURL(fields) ?? nil)
            return try created(project, request, context)
        }
        routes.on(.get, "/api/v1/projects/{project_id}") { _, context in
            try await projects.get(try Parameters.uuid(context, "project_id"), try context.principal(requiring: .contextRead))
        }
        routes.on(.patch, "/api/v1/projects/{project_id}") { request, context in
            let principal = try context.principal(requiring: .contextWrite)
            let id = try Parameters.uuid(context, "project_id")
            let fields = try await RequestFields.read(request, context: context)
            try fields.allowOnly(["name", "description", "stage", "repository_url"])
            return try await projects.update(
                id, principal, requestID: context.requestID, name: try fields.string("name", maxLength: Self.nameLimit),
                description: try fields.string("description", minLength: 0, maxLength: Self.descriptionLimit),
                stage: try fields.oneOf("stage", ProjectStage.self), repositoryURL: try Self.repositoryURL(fields))
        }
        routes.on(.delete, "/api/v1/projects/{project_id}") { _, context in
            let principal = try context.principal(requiring: .contextWrite)
            try await projects.delete(try Parameters.uuid(context, "project_id"), principal, requestID: context.requestID)
            return Response(status: .noContent)
        }
    }

    /// A project's team.
    func registerMembers(_ routes: inout RouteRecorder) {
        routes.on(.get, "/api/v1/projects/{project_id}/members") { _, context in
            let members = try await projects.members(try Parameters.uuid(context, "project_id"),
                                                     try context.principal(requiring: .contextRead))
            return Page(items: members, nextCursor: nil)
        }
        routes.on(.post, "/api/v1/projects/{project_id}/members") { request, context in
            let principal = try context.principal(requiring: .contextWrite)
            let project = try Parameters.uuid(context, "project_id")
            let fields = try await RequestFields.read(request, context: context)
            try fields.allowOnly(["user_id", "role"])
            let member = try await projects.setMember(
                project, user: try fields.uuid("user_id", required: true)!, role: try fields.oneOf("role", ProjectRole.self) ?? .developer,
                principal, requestID: context.requestID, isNew: true)
            return try created(member, request, context)
        }
        routes.on(.patch, "/api/v1/projects/{project_id}/members/{user_id}") { request, context in
            let principal = try context.principal(requiring: .contextWrite)
            let project = try Parameters.uuid(context, "project_id")
            let user = try Parameters.uuid(context, "user_id")
            let fields = try await RequestFields.read(request, context: context)
            try fields.allowOnly(["role"])
            return try await projects.setMember(project, user: user, role: try fields.oneOf("role", ProjectRole.self, required: true)!,
                                                principal, requestID: context.requestID, isNew: false)
        }
        routes.on(.delete, "/api/v1/projects/{project_id}/members/{user_id}") { _, context in
            let principal = try context.principal(requiring: .contextWrite)
            try await projects.removeMember(try Parameters.uuid(context, "project_id"), user: try Parameters.uuid(context, "user_id"),
                                            principal, requestID: context.requestID)
            return Response(status: .noContent)
        }
    }

    /// A project's milestones.
    func registerMilestones(_ routes: inout RouteRecorder) {
        routes.on(.get, "/api/v1/projects/{project_id}/milestones") { request, context in
            let principal = try context.principal(requiring: .contextRead)
            let (after, limit) = try Pagination.sequence(request)
            let (items, last) = try await work.milestones(try Parameters.uuid(context, "project_id"), principal, after: after, limit: limit)
            return Page(items: items, lastSequence: last, limit: limit)
        }
        routes.on(.post, "/api/v1/projects/{project_id}/milestones") { request, context in
            let principal = try context.principal(requiring: .contextWrite)
            let project = try Parameters.uuid(context, "project_id")
            let fields = try await RequestFields.read(request, context: context)
            try fields.allowOnly(["title", "description", "due_date", "status"])
            let m = try await work.createMilestone(
                project, principal, requestID: context.requestID, title: try fields.string("title", required: true, maxLength: Self.nameLimit)!,
                description: try fields.string("description", minLength: 0, maxLength: Self.descriptionLimit) ?? "",
                dueDate: try fields.date("due_date"), status: try fields.oneOf("status", MilestoneStatus.self) ?? .planned)
            return try created(m, request, context)
        }
        routes.on(.get, "/api/v1/projects/{project_id}/milestones/{milestone_id}") { _, context in
            try await work.milestone(try Parameters.uuid(context, "project_id"), try Parameters.uuid(context, "milestone_id"),
                                     try context.principal(requiring: .contextRead))
        }
        routes.on(.patch, "/api/v1/projects/{project_id}/milestones/{milestone_id}") { request, context in
            let principal = try context.principal(requiring: .contextWrite)
            let project = try Parameters.uuid(context, "project_id")
            let id = try Parameters.uuid(context, "milestone_id")
            let fields = try await RequestFields.read(request, context: context)
            try fields.allowOnly(["title", "description", "due_date", "status"])
            return try await work.updateMilestone(
                project, id, principal, requestID: context.requestID, title: try fields.string("title", maxLength: Self.nameLimit),
                description: try fields.string("description", minLength: 0, maxLength: Self.descriptionLimit),
                dueDate: fields.has("due_date") ? .some(try fields.date("due_date")) : nil,
                status: try fields.oneOf("status", MilestoneStatus.self))
        }
        routes.on(.delete, "/api/v1/projects/{project_id}/milestones/{milestone_id}") { _, context in
            let principal = try context.principal(requiring: .contextWrite)
            try await work.deleteMilestone(try Parameters.uuid(context, "project_id"), try Parameters.uuid(context, "milestone_id"),
                                           principal, requestID: context.requestID)
            return Response(status: .noContent)
        }
    }

    static func repositoryURL(_ fields: RequestFields) throws -> String?? {
        guard fields.has("repository_url") else { return nil }
        guard let raw = try fields.string("repository_url", maxLength: 2048, nullable: true) else { return .some(nil) }
        guard let url = URLComponents(string: raw), ["https", "http", "ssh", "git"].contains(url.scheme?.lowercased() ?? ""),
              url.host?.isEmpty == false else {
            throw Problem.invalid("repository_url", "must be an absolute https, http, ssh or git URL")
        }
        return .some(raw)
    }
}
