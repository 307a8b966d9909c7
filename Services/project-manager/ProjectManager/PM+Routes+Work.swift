import FlukeModels
import FlukeRuntime
import Foundation
import Hummingbird

/// Tasks.
extension PMRoutes {
    func taskInput(_ fields: RequestFields, creating: Bool) throws -> WorkStore.TaskInput {
        try fields.allowOnly(["title", "description", "status", "assignee_id", "project_id", "due_date", "labels", "source"])
        return WorkStore.TaskInput(
            title: try fields.string("title", required: creating, maxLength: Self.nameLimit),
            description: try fields.string("description", minLength: 0, maxLength: Self.descriptionLimit),
            status: try fields.oneOf("status", TaskStatus.self),
            assignee: fields.has("assignee_id") ? .some(try fields.uuid("assignee_id", nullable: true)) : nil,
            dueDate: fields.has("due_date") ? .some(try fields.date("due_date")) : nil,
            labels: try fields.strings("labels", maxCount: 20, maxLength: 50),
            source: try fields.oneOf("source", TaskSource.self))
    }

    func registerWork(_ routes: inout RouteRecorder) {
        routes.on(.get, "/api/v1/tasks") { request, context in
            let principal = try context.principal(requiring: .contextRead)
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
            let (items, last) = try await work.tasks(principal, filter: filter, after: after, limit: limit)
            return Page(items: items, lastSequence: last, limit: limit)
        }
        routes.on(.post, "/api/v1/tasks") { request, context in
            let principal = try context.principal(requiring: .contextWrite)
            let fields = try await RequestFields.read(request, context: context)
            let input = try taskInput(fields, creating: true)
            guard let project = try fields.uuid("project_id", required: principal.projectID == nil) ?? principal.projectID else {
                throw Problem.invalid("project_id", "is required")
            }
            return try created(try await work.createTask(project: project, principal, requestID: context.requestID, input),
                               request, context)
        }
        routes.on(.get, "/api/v1/tasks/{task_id}") { _, context in
            try await work.task(try Parameters.uuid(context, "task_id"), try context.principal(requiring: .contextRead))
        }
        routes.on(.patch, "/api/v1/tasks/{task_id}") { request, context in
            let principal = try context.principal(requiring: .contextWrite)
            let id = try Parameters.uuid(context, "task_id")
            let fields = try await RequestFields.read(request, context: context)
            guard !fields.has("project_id") else { throw Problem.invalid("project_id", "a task cannot move between projects") }
            return try await work.updateTask(id, principal, requestID: context.requestID, try taskInput(fields, creating: false))
        }
        routes.on(.delete, "/api/v1/tasks/{task_id}") { _, context in
            let principal = try context.principal(requiring: .contextWrite)
            try await work.deleteTask(try Parameters.uuid(context, "task_id"), principal, requestID: context.requestID)
            return Response(status: .noContent)
        }
    }
}
