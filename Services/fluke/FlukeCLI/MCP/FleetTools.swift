import FlukeClient
import FlukeModels
import Foundation
import MCP

/// Every tool `fluke mcp` offers, in the order `tools/list` gives them.
enum FleetTools {
    static let all: [FleetTool] = context + memories + tasks + deploy + logs + catalog

    static let context: [FleetTool] = [
        FleetTool("list_projects", "List projects", toolset: "context", scope: "context:read", readOnly: true,
                  description: "The projects this token reaches (id, name, stage). Pages with `cursor`.",
                  properties: ["cursor": Schema.string("next_cursor of the previous page")]) { client, args in
            try await client.listProjects(cursor: try args.string("cursor"), limit: 50)
        },
        FleetTool("get_project_context", "Get project context", toolset: "context", scope: "context:read", readOnly: true,
                  description: "What an AI agent should know about a project: description, team, milestones, conventions and memories, environment names. Read it before working on the project.",
                  properties: ["project_id": Schema.project,
                               "context_level": Schema.oneOf(["minimal", "standard", "full"], "How much (default standard).")]) { client, args in
            try await client.context(project: try args.string("project_id"), level: try args.string("context_level"))
        },
        FleetTool("project_status", "Project status", toolset: "context", scope: "context:read", readOnly: true,
                  description: "A project's deploy status, ONLINE/OFFLINE and blocked tasks: what needs attention.",
                  properties: ["project_id": Schema.project]) { client, args in
            try await client.projectOverview(try await project(client, args))
        },
        FleetTool("tenant_overview", "Tenant overview", toolset: "context", scope: "context:read", readOnly: true,
                  description: "Every project this token can see in one answer, with what needs attention first: failed or rolled-back deploys, OFFLINE services, blocked or overdue tasks, overdue milestones. Read it to decide which project to work on.",
                  properties: [:]) { client, _ in
            try await client.tenantOverview()
        },
        FleetTool("list_env", "List environment variables", toolset: "context", scope: "context:read", readOnly: true,
                  description: "A project's environment variables. Secrets' values are always masked here.",
                  properties: ["project_id": Schema.project,
                               "environment": Schema.oneOf(["development", "staging", "production"], "Only this environment.")]) { client, args in
            masked(try await client.listEnv(project: try await project(client, args), environment: try args.string("environment")))
        },
    ]

    static let memories: [FleetTool] = [
        FleetTool("search_memories", "Search memories", toolset: "memories", scope: "context:read", readOnly: true,
                  description: "Find what was learnt about a project (facts, conventions, gotchas, decisions) by text, type or tag.",
                  properties: ["project_id": Schema.project, "query": Schema.string("Text to find."),
                               "memory_type": Schema.oneOf(["fact", "convention", "gotcha", "decision"], "Only this type."),
                               "tag": Schema.string("Only with this tag."), "cursor": Schema.string("next_cursor of the previous page"),
                               "limit": Schema.integer("At most this many.", 1...100, default: 20)]) { client, args in
            try await client.listMemories(project: try args.string("project_id"), query: try args.string("query"),
                                          type: try args.string("memory_type"), tag: try args.string("tag"),
                                          cursor: try args.string("cursor"), limit: try args.int("limit", in: 1...100) ?? 20)
        },
        FleetTool("save_memory", "Save a memory", toolset: "memories", scope: "memories:write", readOnly: false,
                  description: "Keep something learnt about the project for every later agent. Idempotent on external_id: saving again with the same id changes nothing; a conflict is reported as the API reports it.",
                  properties: ["project_id": Schema.project, "content": Schema.string("What to remember (at most 16 KiB)."),
                               "memory_type": Schema.oneOf(["fact", "convention", "gotcha", "decision"], "Its kind (default fact)."),
                               "tags": Schema.strings("Up to 20 tags."),
                               "external_id": Schema.uuid("Your id for it; the same id saves once.")],
                  required: ["content"]) { client, args in
            var fields: [String: JSONValue] = [
                "content": .string(try args.requiredString("content")),
                "memory_type": .string(try args.string("memory_type") ?? "fact"),
                "external_id": .string(try args.string("external_id") ?? UUID().uuidString.lowercased())]
            if let tags = try args.strings("tags") { fields["tags"] = .array(tags.map { .string($0) }) }
            return try await client.saveMemory(project: try args.string("project_id"), fields)
        },
        FleetTool("delete_memory", "Delete a memory", toolset: "memories", scope: "memories:write", readOnly: false, destructive: true,
                  description: "Remove a memory for good. Without confirm: true it only says what it would remove.",
                  properties: ["project_id": Schema.project, "memory_id": Schema.uuid("The memory's id."), "confirm": Schema.confirm],
                  required: ["memory_id"]) { client, args in
            let id = try args.requiredString("memory_id"), project = try args.string("project_id")
            guard try args.bool("confirm") == true else {
                let memory = try await client.memory(id, project: project)
                return ["would_delete": memory.json, "confirm_needed": true,
                        "message": "Call delete_memory again with confirm: true to delete this memory."] as JSONValue
            }
            try await client.deleteMemory(id, project: project)
            return ["deleted": true, "id": .string(id)] as JSONValue
        },
    ]

    static let tasks: [FleetTool] = [
        FleetTool("list_tasks", "List tasks", toolset: "tasks", scope: "context:read", readOnly: true,
                  description: "A project's tasks, optionally of one status.",
                  properties: ["project_id": Schema.project,
                               "status": Schema.oneOf(["todo", "in_progress", "blocked", "done"], "Only this status."),
                               "cursor": Schema.string("next_cursor of the previous page")]) { client, args in
            try await client.listTasks(project: try args.string("project_id"), status: try args.string("status"),
                                       cursor: try args.string("cursor"), limit: 50)
        },
        FleetTool("create_task", "Create a task", toolset: "tasks", scope: "context:write", readOnly: false,
                  description: "Add a task to a project.",
                  properties: ["project_id": Schema.project, "title": Schema.string("What to do."),
                               "description": Schema.string("Details."),
                               "status": Schema.oneOf(["todo", "in_progress", "blocked", "done"], "Default todo."),
                               "labels": Schema.strings("Labels.")],
                  required: ["title"]) { client, args in
            var fields: [String: JSONValue] = ["project_id": .string(try await project(client, args)),
                                               "title": .string(try args.requiredString("title"))]
            if let description = try args.string("description") { fields["description"] = .string(description) }
            if let status = try args.string("status") { fields["status"] = .string(status) }
            if let labels = try args.strings("labels") { fields["labels"] = .array(labels.map { .string($0) }) }
            return try await client.createTask(fields)
        },
        FleetTool("update_task", "Update a task", toolset: "tasks", scope: "context:write", readOnly: false,
                  description: "Change a task's title, description, status or labels.",
                  properties: ["task_id": Schema.uuid("The task's id."), "title": Schema.string("New title."),
                               "description": Schema.string("New details."),
                               "status": Schema.oneOf(["todo", "in_progress", "blocked", "done"], "New status."),
                               "labels": Schema.strings("New labels.")],
                  required: ["task_id"]) { client, args in
            var fields: [String: JSONValue] = [:]
            for key in ["title", "description", "status"] { if let value = try args.string(key) { fields[key] = .string(value) } }
            if let labels = try args.strings("labels") { fields["labels"] = .array(labels.map { .string($0) }) }
            return try await client.updateTask(try args.requiredString("task_id"), fields)
        },
    ]

    static let deploy: [FleetTool] = FleetDeployTools.all

    static let logs: [FleetTool] = [
        FleetTool("query_logs", "Query logs", toolset: "logs", scope: "logs:read", readOnly: true,
                  description: "Stored log entries, newest first, filtered by app, deployment, level and time; bounded by limit (default 50), continue with cursor.",
                  properties: ["app_name": Schema.string("The app."), "deployment_id": Schema.uuid("One deployment."),
                               "level": Schema.oneOf(["debug", "info", "warn", "error", "fatal"], "The lowest level."),
                               "since_minutes": Schema.integer("How far back.", 1...43_200),
                               "q": Schema.string("Text the message contains."),
                               "cursor": Schema.string("next_cursor of the previous page"),
                               "limit": Schema.integer("At most this many.", 1...200, default: 50)]) { client, args in
            try await client.queryLogs([
                ("app_name", try args.string("app_name")), ("deployment_id", try args.string("deployment_id")),
                ("level", try args.string("level")), ("since_minutes", try args.int("since_minutes", in: 1...43_200).map(String.init)),
                ("q", try args.string("q")), ("cursor", try args.string("cursor")),
                ("limit", String(try args.int("limit", in: 1...200) ?? 50))])
        },
    ]

    static let catalog: [FleetTool] = [
        FleetTool("catalog", "Federation catalog", toolset: "catalog", scope: "context:read", readOnly: true,
                  description: "Every project federation knows, ONLINE or OFFLINE from its heartbeats.") { client, _ in
            try await client.catalog()
        },
    ]

    /// `project_id`, or the one project a bound token reaches.
    static func project(_ client: FlukeClient, _ args: ToolArguments) async throws -> String {
        if let id = try args.string("project_id") { return id }
        if let bound = try await client.me().projectID { return bound.lowercased }
        throw MCPError.invalidParams("\(args.tool): project_id is required (this token reaches several projects)")
    }

    /// Secrets' values left out whatever the token may read: agents get names, not secrets.
    static func masked(_ page: Page<FleetObject<EnvVar>>) -> JSONValue {
        ["items": .array(page.items.map(masked)), "next_cursor": page.nextCursor.map(JSONValue.string) ?? .null]
    }

    static func masked(_ variable: FleetObject<EnvVar>) -> JSONValue {
        guard variable.secret, case .object(var fields) = variable.json else { return variable.json }
        fields["value"] = nil
        fields["masked"] = .bool(true)
        return .object(fields)
    }
}

extension JSONValue: ExpressibleByDictionaryLiteral, ExpressibleByStringLiteral,
    ExpressibleByBooleanLiteral {
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(Dictionary(elements) { first, _ in first })
    }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}
