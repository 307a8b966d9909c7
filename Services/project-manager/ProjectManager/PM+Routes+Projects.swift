import FlukeModels
import FlukeRuntime
import Foundation
import Hummingbird

/// Projects, their members and milestones.
extension PMRoutes {
    func registerProjects(_ r: inout RouteRecorder) {
        r.on(.get, "/api/v1/projects") { request, context in
            let p = try context.principal(requiring: .contextRead)
            let (after, limit) = try Pagination.sequence(request)
            let (items, last) = try await projects.list(p, after: after, limit: limit)
            return Page(items: items, lastSequence: last, limit: limit)
        }
        r.on(.post, "/api/v1/projects") { request, context in
            let p = try context.tenantWidePrincipal(requiring: .contextWrite)
            let f = try await RequestFields.read(request, context: context)
            try f.allowOnly(["name", "description", "stage", "repository_url"])
            let project = try await projects.create(
                p, requestID: context.requestID, name: try f.string("name", required: true, maxLength: Self.nameLimit)!,
                description: try f.string("description", minLength: 0, maxLength: Self.descriptionLimit) ?? "",
                stage: try f.oneOf("stage", ProjectStage.self) ?? .idea,
                repositoryURL: try Self.repositoryURL(f) ?? nil)
            return try created(project, request, context)
        }
        r.on(.get, "/api/v1/projects/{project_id}") { _, context in
            try await projects.get(try Parameters.uuid(context, "project_id"), try context.principal(requiring: .contextRead))
        }
        r.on(.patch, "/api/v1/projects/{project_id}") { request, context in
            let p = try context.principal(requiring: .contextWrite)
            let id = try Parameters.uuid(context, "project_id")
            let f = try await RequestFields.read(request, context: context)
            try f.allowOnly(["name", "description", "stage", "repository_url"])
            return try await projects.update(
                id, p, requestID: context.requestID, name: try f.string("name", maxLength: Self.nameLimit),
                description: try f.string("description", minLength: 0, maxLength: Self.descriptionLimit),
                stage: try f.oneOf("stage", ProjectStage.self), repositoryURL: try Self.repositoryURL(f))
        }
        r.on(.delete, "/api/v1/projects/{project_id}") { _, context in
            let p = try context.principal(requiring: .contextWrite)
            try await projects.delete(try Parameters.uuid(context, "project_id"), p, requestID: context.requestID)
            return Response(status: .noContent)
        }
        r.on(.get, "/api/v1/projects/{project_id}/status") { _, context in
            try await projects.status(try Parameters.uuid(context, "project_id"), try context.principal(requiring: .contextRead))
        }

        r.on(.get, "/api/v1/projects/{project_id}/members") { _, context in
            let members = try await projects.members(try Parameters.uuid(context, "project_id"),
                                                     try context.principal(requiring: .contextRead))
            return Page(items: members, nextCursor: nil)
        }
        r.on(.post, "/api/v1/projects/{project_id}/members") { request, context in
            let p = try context.principal(requiring: .contextWrite)
            let project = try Parameters.uuid(context, "project_id")
            let f = try await RequestFields.read(request, context: context)
            try f.allowOnly(["user_id", "role"])
            let member = try await projects.setMember(
                project, user: try f.uuid("user_id", required: true)!, role: try f.oneOf("role", ProjectRole.self) ?? .developer,
                p, requestID: context.requestID, isNew: true)
            return try created(member, request, context)
        }
        r.on(.patch, "/api/v1/projects/{project_id}/members/{user_id}") { request, context in
            let p = try context.principal(requiring: .contextWrite)
            let project = try Parameters.uuid(context, "project_id")
            let user = try Parameters.uuid(context, "user_id")
            let f = try await RequestFields.read(request, context: context)
            try f.allowOnly(["role"])
            return try await projects.setMember(project, user: user, role: try f.oneOf("role", ProjectRole.self, required: true)!,
                                                p, requestID: context.requestID, isNew: false)
        }
        r.on(.delete, "/api/v1/projects/{project_id}/members/{user_id}") { _, context in
            let p = try context.principal(requiring: .contextWrite)
            try await projects.removeMember(try Parameters.uuid(context, "project_id"), user: try Parameters.uuid(context, "user_id"),
                                            p, requestID: context.requestID)
            return Response(status: .noContent)
        }

        r.on(.get, "/api/v1/projects/{project_id}/milestones") { request, context in
            let p = try context.principal(requiring: .contextRead)
            let (after, limit) = try Pagination.sequence(request)
            let (items, last) = try await work.milestones(try Parameters.uuid(context, "project_id"), p, after: after, limit: limit)
            return Page(items: items, lastSequence: last, limit: limit)
        }
        r.on(.post, "/api/v1/projects/{project_id}/milestones") { request, context in
            let p = try context.principal(requiring: .contextWrite)
            let project = try Parameters.uuid(context, "project_id")
            let f = try await RequestFields.read(request, context: context)
            try f.allowOnly(["title", "description", "due_date", "status"])
            let m = try await work.createMilestone(
                project, p, requestID: context.requestID, title: try f.string("title", required: true, maxLength: Self.nameLimit)!,
                description: try f.string("description", minLength: 0, maxLength: Self.descriptionLimit) ?? "",
                dueDate: try f.date("due_date"), status: try f.oneOf("status", MilestoneStatus.self) ?? .planned)
            return try created(m, request, context)
        }
        r.on(.get, "/api/v1/projects/{project_id}/milestones/{milestone_id}") { _, context in
            try await work.milestone(try Parameters.uuid(context, "project_id"), try Parameters.uuid(context, "milestone_id"),
                                     try context.principal(requiring: .contextRead))
        }
        r.on(.patch, "/api/v1/projects/{project_id}/milestones/{milestone_id}") { request, context in
            let p = try context.principal(requiring: .contextWrite)
            let project = try Parameters.uuid(context, "project_id")
            let id = try Parameters.uuid(context, "milestone_id")
            let f = try await RequestFields.read(request, context: context)
            try f.allowOnly(["title", "description", "due_date", "status"])
            return try await work.updateMilestone(
                project, id, p, requestID: context.requestID, title: try f.string("title", maxLength: Self.nameLimit),
                description: try f.string("description", minLength: 0, maxLength: Self.descriptionLimit),
                dueDate: f.has("due_date") ? .some(try f.date("due_date")) : nil,
                status: try f.oneOf("status", MilestoneStatus.self))
        }
        r.on(.delete, "/api/v1/projects/{project_id}/milestones/{milestone_id}") { _, context in
            let p = try context.principal(requiring: .contextWrite)
            try await work.deleteMilestone(try Parameters.uuid(context, "project_id"), try Parameters.uuid(context, "milestone_id"),
                                           p, requestID: context.requestID)
            return Response(status: .noContent)
        }
    }

    static func repositoryURL(_ f: RequestFields) throws -> String?? {
        guard f.has("repository_url") else { return nil }
        guard let raw = try f.string("repository_url", maxLength: 2048, nullable: true) else { return .some(nil) }
        guard let url = URLComponents(string: raw), ["https", "http", "ssh", "git"].contains(url.scheme?.lowercased() ?? ""),
              url.host?.isEmpty == false else {
            throw Problem.invalid("repository_url", "must be an absolute https, http, ssh or git URL")
        }
        return .some(raw)
    }
}
