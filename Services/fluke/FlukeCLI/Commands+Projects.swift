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
    static let configuration = CommandConfiguration(abstract: "A project's deploy status, ONLINE/OFFLINE and blocked tasks.")
    @OptionGroup var options: GlobalOptions
    @Argument(help: "The project's id (default: the token's project).") var project: String?

    func run() async throws {
        try await withClient(options) { client in
            let id = try await ProjectOption(project: project).required(client)
            Output.show(try await client.projectStatus(id), json: options.json) { status in
                Output.printJSON(status)
            }
        }
    }
}

extension ProjectOption {
    init(project: String?) {
        self.init()
        self.project = project
    }
}

struct Tasks: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "A project's tasks.")
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
    static let configuration = CommandConfiguration(abstract: "A project's milestones.")
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
