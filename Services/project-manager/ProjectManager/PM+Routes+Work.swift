import FlukeModels
import FlukeRuntime
import Foundation
import Hummingbird

/// Tasks.
extension PMRoutes {
    func taskInput(_ f: RequestFields, creating: Bool) throws -> WorkStore.TaskInput {
        try f.allowOnly(["title", "description", "status", "assignee_id", "project_id", "due_date", "labels", "source"])
        return WorkStore.TaskInput(
            title: try f.string("title", required: creating, maxLength: Self.nameLimit),
            description: try f.string("description", minLength: 0, maxLength: Self.descriptionLimit),
            status: try f.oneOf("status", TaskStatus.self),
            assignee: f.has("assignee_id") ? .some(try f.uuid("assignee_id", nullable: true)) : nil,
            dueDate: f.has("due_date") ? .some(try f.date("due_date")) : nil,
            labels: try f.strings("labels", maxCount: 20, maxLength: 50),
            source: try f.oneOf("source", TaskSource.self))
    }

    func registerWork(_ r: inout RouteRecorder) {
        r.on(.get, "/api/v1/tasks") { request, context in
            let p = try context.principal(requiring: .contextRead)
            let q = request.uri.queryParameters
            var filter = WorkStore.TaskFilter()
            filter.project = try Parameters.uuidQuery(request, "project_id")
            filter.assignee = try Parameters.uuidQuery(request, "assignee_id")
            filter.status = try Parameters.enumQuery(request, "status", as: TaskStatus.self)
            if let label = q["label"].map(String.init) {
                guard !label.isEmpty, label.count <= 50 else { throw Problem.invalid("label", "must have 1 to 50 characters") }
                filter.label = label
            }
            let (after, limit) = try Pagination.sequence(request)
            let (items, last) = try await work.tasks(p, filter: filter, after: after, limit: limit)
            return Page(items: items, lastSequence: last, limit: limit)
        }
        r.on(.post, "/api/v1/tasks") { request, context in
            let p = try context.principal(requiring: .contextWrite)
            let f = try await RequestFields.read(request, context: context)
            let input = try taskInput(f, creating: true)
            guard let project = try f.uuid("project_id", required: p.projectID == nil) ?? p.projectID else {
                throw Problem.invalid("project_id", "is required")
            }
            return try created(try await work.createTask(project: project, p, requestID: context.requestID, input),
                               request, context)
        }
        r.on(.get, "/api/v1/tasks/{task_id}") { _, context in
            try await work.task(try Parameters.uuid(context, "task_id"), try context.principal(requiring: .contextRead))
        }
        r.on(.patch, "/api/v1/tasks/{task_id}") { request, context in
            let p = try context.principal(requiring: .contextWrite)
            let id = try Parameters.uuid(context, "task_id")
            let f = try await RequestFields.read(request, context: context)
            guard !f.has("project_id") else { throw Problem.invalid("project_id", "a task cannot move between projects") }
            return try await work.updateTask(id, p, requestID: context.requestID, try taskInput(f, creating: false))
        }
        r.on(.delete, "/api/v1/tasks/{task_id}") { _, context in
            let p = try context.principal(requiring: .contextWrite)
            try await work.deleteTask(try Parameters.uuid(context, "task_id"), p, requestID: context.requestID)
            return Response(status: .noContent)
        }
    }
}
