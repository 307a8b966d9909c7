import ArgumentParser
import FlukeClient
import FlukeModels
import Foundation

struct Apps: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apps deploy-tracker runs.",
                                                    subcommands: [List.self, Show.self], defaultSubcommand: List.self)

    struct List: AsyncParsableCommand {
        @OptionGroup var options: GlobalOptions
        func run() async throws {
            try await withClient(options) { client in
                Output.show(try await client.listApps(), json: options.json) {
                    Output.table(Output.items($0), [("name", "name"), ("executor", "executor"), ("status", "status"),
                                                    ("release", "current_release"), ("replicas", "replicas")])
                }
            }
        }
    }

    struct Show: AsyncParsableCommand {
        @OptionGroup var options: GlobalOptions
        @Argument var app: String
        func run() async throws {
            try await withClient(options) { client in Output.printJSON(try await client.app(app)) }
        }
    }
}

struct Deployments: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "An app's deployments.",
                                                    subcommands: [List.self, Show.self, Cancel.self], defaultSubcommand: List.self)

    struct List: AsyncParsableCommand {
        @OptionGroup var options: GlobalOptions
        @Argument var app: String
        @Option var limit: Int?
        func run() async throws {
            try await withClient(options) { client in
                Output.show(try await client.deployments(app: app, limit: limit), json: options.json) {
                    Output.table(Output.items($0), [("id", "id"), ("status", "status"), ("phase", "phase"),
                                                    ("version", "version"), ("created", "created_at")])
                }
            }
        }
    }

    struct Show: AsyncParsableCommand {
        @OptionGroup var options: GlobalOptions
        @Argument var id: String
        func run() async throws {
            try await withClient(options) { client in Output.printJSON(try await client.deployment(id)) }
        }
    }

    struct Cancel: AsyncParsableCommand {
        @OptionGroup var options: GlobalOptions
        @Argument var id: String
        func run() async throws {
            try await withClient(options) { client in
                Output.show(try await client.cancelDeployment(id), json: options.json) {
                    Output.write("Cancelling \(id): \(Output.cell($0, path: "status")).")
                }
            }
        }
    }
}

struct Releases: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "An app's releases, newest first.")
    @OptionGroup var options: GlobalOptions
    @Argument var app: String
    func run() async throws {
        try await withClient(options) { client in
            Output.show(try await client.releases(app: app), json: options.json) {
                Output.table(Output.items($0), [("version", "version"), ("image", "image"), ("deployment", "deployment_id"),
                                                ("created", "created_at")])
            }
        }
    }
}

struct Rollback: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Roll an app back to its previous release, or --to vN.")
    @OptionGroup var options: GlobalOptions
    @Argument var app: String
    @Option(help: "The release to go back to (vN).") var to: String?
    func run() async throws {
        try await withClient(options) { client in
            Output.show(try await client.rollback(app: app, to: to), json: options.json) {
                Output.write("Rolling \(app) back: deployment \(Output.cell($0, path: "id")) (\(Output.cell($0, path: "status"))).")
            }
        }
    }
}
