import ArgumentParser
import FlukeClient
import FlukeModels
import Foundation

struct Logs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "An app's logs (log-streamer).",
        discussion: "Examples:\n  fluke logs web --level error --since 60\n  fluke logs web --deployment 9c2e… --json")
    @OptionGroup var options: GlobalOptions
    @Argument var app: String
    @Option(help: "The lowest level: debug, info, warn, error.") var level: String?
    @Option(help: "Minutes back (default: the service's).") var since: Int?
    @Option(help: "Only this deployment's lines.") var deployment: String?
    @Option(help: "How many lines (at most 1000).") var limit: Int = 100

    func run() async throws {
        try await withClient(options) { client in
            let page = try await client.queryLogs([
                ("app_name", app), ("level", level), ("since_minutes", since.map(String.init)),
                ("deployment_id", deployment), ("limit", String(limit)), ("order", "asc")])
            Output.show(page, json: options.json) { page in
                for entry in Output.items(page) {
                    Output.write("\(Output.cell(entry, path: "timestamp")) \(Output.cell(entry, path: "level").uppercased()) \(Output.cell(entry, path: "message"))")
                }
            }
        }
    }
}

struct Catalog: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Federation's catalog: every project, ONLINE or OFFLINE.")
    @OptionGroup var options: GlobalOptions
    func run() async throws {
        try await withClient(options) { client in
            Output.show(try await client.catalog(), json: options.json) {
                Output.table(Output.items($0), [("slug", "slug"), ("status", "status"), ("version", "version"),
                                                ("last seen", "last_heartbeat_at")])
            }
        }
    }
}
