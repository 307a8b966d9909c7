import ArgumentParser
import FlukeClient
import FlukeModels
import Foundation

struct Projects: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The projects this token reaches.",
                                                    discussion: "Examples:\n  fluke projects\n  fluke projects --json | jq '.items[].id'")
    @OptionGroup var options: GlobalOptions
    @Option(help: "Continue from a page's next_cursor.") var cursor: String?

    func run() async throws {
        try await withClient(options) { client in
            Output.show(try await client.listProjects(cursor: cursor), json: options.json) { page in
                Output.table(Output.items(page), [("id", "id"), ("name", "name"), ("stage", "stage"), ("updated", "updated_at")])
                if let next = page["next_cursor"]?.stringValue { Output.write("more: --cursor \(next)") }
            }
        }
    }
}

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "A project's deploy status, ONLINE/OFFLINE and blocked tasks.",
        discussion: "Examples:\n  fluke status\n  fluke status 4b1d… --json | jq .apps")
    @OptionGroup var options: GlobalOptions
    @Argument(help: "The project's id (default: the token's project).") var project: String?

    func run() async throws {
        try await withClient(options) { client in
            let id = try await ProjectOption(project: project).required(client)
            let overview = try await client.projectOverview(id)
            Output.show(overview, json: options.json) { _ in Self.render(overview) }
        }
    }

    static func render(_ overview: ProjectOverview) {
        let safe = { (text: String) in Output.cell(.string(text), path: "") }
        func counts(_ values: [String: Int]) -> String {
            let shown = values.sorted { $0.key < $1.key }.filter { $0.value > 0 }.map { "\($0.key) \($0.value)" }
            return shown.isEmpty ? "none" : shown.joined(separator: ", ")
        }
        Output.write("\(safe(overview.project.name))  \(overview.project.id.lowercased)  stage \(safe(overview.project.stage))")
        var rows: [(String, String)] = [
            ("tasks", counts(overview.status.tasks)), ("milestones", counts(overview.status.milestones)),
            ("team", "\(overview.status.teamSize) member\(overview.status.teamSize == 1 ? "" : "s")"),
        ]
        rows += overview.blockedTasks.map { ("blocked", "\(safe($0.title))  \($0.id.lowercased)") }
        rows += overview.apps.isEmpty ? [("apps", "none")] : overview.apps.map { app in
            ("app", ([safe(app.name), app.status] + [app.currentRelease, app.url].compactMap { $0.map(safe) }).joined(separator: "  "))
        }
        rows += overview.catalog.map { entry in
            let seen = entry.lastHeartbeatAt.map { "  last heartbeat \(Int(Date().timeIntervalSince($0))) s ago" } ?? ""
            return ("catalog", "\(safe(entry.slug))  \(Output.coloured(entry.status))\(seen)")
        }
        if overview.catalog.isEmpty, overview.unavailable["federation"] == nil { rows.append(("catalog", "not in the catalog")) }
        rows += overview.unavailable.sorted { $0.key < $1.key }.map { ("unavailable", "\($0.key): \(safe($0.value))") }
        let width = rows.map(\.0.count).max() ?? 0
        for (title, text) in rows { Output.write("  " + title.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + text) }
    }
}

extension ProjectOption {
    init(project: String?) {
        self.init()
        self.project = project
    }
}

struct Tasks: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "A project's tasks.",
        discussion: "Example: fluke tasks --status blocked")
    @OptionGroup var options: GlobalOptions
    @OptionGroup var project: ProjectOption
    @Option(help: "Only this status (todo, in_progress, blocked, done).") var status: String?

    func run() async throws {
        try await withClient(options) { client in
            Output.show(try await client.listTasks(project: project.resolved, status: status), json: options.json) {
                Output.table(Output.items($0), [("id", "id"), ("status", "status"), ("title", "title"), ("source", "source")])
            }
        }
    }
}

struct Milestones: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "A project's milestones.",
        discussion: "Example: fluke milestones --project 4b1d… --json")
    @OptionGroup var options: GlobalOptions
    @OptionGroup var project: ProjectOption

    func run() async throws {
        try await withClient(options) { client in
            let id = try await project.required(client)
            Output.show(try await client.listMilestones(project: id), json: options.json) {
                Output.table(Output.items($0), [("id", "id"), ("status", "status"), ("title", "title"), ("due", "due_date")])
            }
        }
    }
}
