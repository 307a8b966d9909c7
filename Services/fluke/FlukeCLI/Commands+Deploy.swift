import ArgumentParser
import FlukeClient
import FlukeModels
import Foundation

struct Apps: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apps deploy-tracker runs.",
                                                    subcommands: [List.self, Show.self, Create.self, Scale.self, Restart.self],
                                                    defaultSubcommand: List.self)

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an app.",
            discussion: "Example: fluke apps create web --executor process --spec '{\"start\":\"python3 -m http.server $PORT\"}' -p <id>")
        @OptionGroup var options: GlobalOptions
        @OptionGroup var project: ProjectOption
        @Argument var name: String
        @Option(help: "process (default), swarm or kubernetes.") var executor: String?
        @Option(help: "The app's spec as JSON (see deploy-tracker's AppSpec).") var spec: String?

        func run() async throws {
            var fields: [String: JSONValue] = ["name": .string(name)]
            if let project = project.resolved { fields["project_id"] = .string(project) }
            if let executor { fields["executor"] = .string(executor) }
            if let spec {
                guard let parsed = try? JSONValue(parsing: Data(spec.utf8)), case .object = parsed else {
                    throw ValidationError("--spec must be a JSON object")
                }
                fields["spec"] = parsed
            }
            try await withClient(options) { client in
                Output.show(try await client.createApp(fields), json: options.json) {
                    Output.write("Created \(Output.cell($0, path: "name")) (\(Output.cell($0, path: "executor"))).")
                }
            }
        }
    }

    struct Scale: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Run an app on this many replicas.",
                                                        discussion: "Example: fluke apps scale web 3")
        @OptionGroup var options: GlobalOptions
        @Argument var app: String
        @Argument(help: "Replicas, 0 to 100.") var replicas: Int
        func run() async throws {
            try await withClient(options) { client in
                Output.show(try await client.scaleApp(app, replicas: replicas), json: options.json) { _ in
                    Output.write("Scaled \(app) to \(replicas).")
                }
            }
        }
    }

    struct Restart: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Restart an app's replicas.",
                                                        discussion: "Example: fluke apps restart web")
        @OptionGroup var options: GlobalOptions
        @Argument var app: String
        func run() async throws {
            try await withClient(options) { client in
                Output.show(try await client.restartApp(app), json: options.json) { _ in Output.write("Restarting \(app).") }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The apps this token reaches.",
                                                        discussion: "Example: fluke apps list --json | jq '.items[] | {name, status, url}'")
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
        static let configuration = CommandConfiguration(abstract: "One app: status, current release, URL, replicas.",
                                                        discussion: "Example: fluke apps show web")
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
        static let configuration = CommandConfiguration(abstract: "An app's deployments, newest first.",
                                                        discussion: "Example: fluke deployments list web --limit 5")
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
        static let configuration = CommandConfiguration(abstract: "One deployment and its five phases.",
                                                        discussion: "Example: fluke deployments show 9f1a…")
        @OptionGroup var options: GlobalOptions
        @Argument var id: String
        func run() async throws {
            try await withClient(options) { client in Output.printJSON(try await client.deployment(id)) }
        }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Cancel a deployment that has not finished.",
                                                        discussion: "Example: fluke deployments cancel 9f1a…")
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
    static let configuration = CommandConfiguration(abstract: "An app's releases, newest first.",
        discussion: "Example: fluke releases web")
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
    static let configuration = CommandConfiguration(abstract: "Roll an app back to its previous release, or --to vN.",
        discussion: "Example: fluke rollback web --to v3")
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
