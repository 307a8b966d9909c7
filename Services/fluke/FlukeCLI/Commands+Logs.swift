import ArgumentParser
import FlukeClient
import FlukeModels
import Foundation

struct Logs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "An app's logs (log-streamer): the latest lines, and with --follow what comes next.",
        discussion: """
            Examples:
              fluke logs web --level error --since 60
              fluke logs web --follow                 # the last 100 lines, then live, until Ctrl-C
              fluke logs web --deployment 9c2e… --json
            """)
    @OptionGroup var options: GlobalOptions
    @Argument var app: String
    @Option(help: "The lowest level: debug, info, warn, error.") var level: String?
    @Option(help: "Minutes back (default: the service's, 60).") var since: Int?
    @Option(help: "Only this deployment's lines.") var deployment: String?
    @Option(help: "How many of the latest lines (at most 1000).") var limit: Int = 100
    @Flag(name: [.customShort("f"), .long], help: "Keep following: new lines as they arrive (WebSocket tail).") var follow = false

    func run() async throws {
        try await withClient(options) { client in
            let page = try await client.queryLogs([
                ("app_name", app), ("level", level), ("since_minutes", since.map(String.init)),
                ("deployment_id", deployment), ("limit", String(limit))])
            // Newest first from the API; printed oldest first, as a log reads.
            let latest = page.items.reversed().map(\.json)
            if options.json, !follow {
                Output.printJSON(JSONValue.array(latest))
                return
            }
            for entry in latest { print(entry) }
            guard follow else { return }
            var lastID = latest.last?["id"]?.stringValue
            while true {
                let tail = try await client.tailLogs([("app_name", app), ("level", level), ("deployment_id", deployment),
                                                      ("since_id", lastID)])
                for try await message in tail {
                    switch message {
                    case .entry(let entry):
                        print(entry.json)
                        lastID = entry.id
                    case .control(let type, let json) where type == "dropped" || type == "error":
                        Output.error("fluke: \(type): \(json.jsonText)")
                    case .control:
                        continue
                    }
                }
                // The server closed (a restart, a deploy of log-streamer): resume after the last line.
                try await Task.sleep(for: .seconds(1))
            }
        }
    }

    func print(_ entry: JSONValue) {
        if options.json {
            Output.write(entry.jsonText)
        } else {
            Output.write("\(Output.cell(entry, path: "timestamp")) \(Output.cell(entry, path: "level").uppercased()) \(Output.cell(entry, path: "message"))")
        }
    }
}

struct Catalog: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Federation's catalog: every project, ONLINE or OFFLINE.",
                                                    discussion: "Examples:\n  fluke catalog\n  fluke catalog --status OFFLINE")
    @OptionGroup var options: GlobalOptions
    @Option(help: "Only ONLINE, OFFLINE or UNKNOWN projects.") var status: String?
    @Option(help: "Continue from a page's next_cursor.") var cursor: String?

    func run() async throws {
        try await withClient(options) { client in
            Output.show(try await client.catalog(status: status, cursor: cursor), json: options.json) { page in
                Output.table(Output.items(page), [("slug", "slug"), ("name", "name"), ("status", "status"),
                                                  ("project", "project_id"), ("last seen", "last_heartbeat_at")])
                if let next = page["next_cursor"]?.stringValue { Output.write("more: --cursor \(next)") }
            }
        }
    }
}
