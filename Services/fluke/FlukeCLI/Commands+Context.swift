import ArgumentParser
import FlukeClient
import FlukeModels
import Foundation

struct Context: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The project context an AI tool gets.",
                                                    discussion: "Example: fluke context --level full --project 4b1d…")
    @OptionGroup var options: GlobalOptions
    @OptionGroup var project: ProjectOption
    @Option(help: "minimal, standard or full.") var level: String?
    @Option(help: "development, staging or production.") var environment: String?

    func run() async throws {
        try await withClient(options) { client in
            let context = try await client.context(project: project.resolved, level: level, environment: environment)
            Output.printJSON(context)
        }
    }
}

struct Env: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "A project's environment variables (secrets masked unless --reveal).",
        subcommands: [List.self, Set.self, Unset.self], defaultSubcommand: List.self)

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a project's variables.",
                                                        discussion: "Example: fluke env list --environment production --reveal")
        @OptionGroup var options: GlobalOptions
        @OptionGroup var project: ProjectOption
        @Option(help: "Only this environment.") var environment: String?
        @Flag(help: "Show secrets' values (needs secrets:read; each read is logged).") var reveal = false

        func run() async throws {
            try await withClient(options) { client in
                let id = try await project.required(client)
                let page = try await client.listEnv(project: id, environment: environment)
                Output.show(reveal ? page.json : FleetTools.masked(page), json: options.json) {
                    Output.table(Output.items($0), [("key", "key"), ("environment", "environment"), ("value", "value"),
                                                    ("secret", "secret"), ("version", "version")])
                }
            }
        }
    }

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set a variable.",
                                                        discussion: "Example: fluke env set API_KEY s3cr3t --secret --environment production")
        @OptionGroup var options: GlobalOptions
        @OptionGroup var project: ProjectOption
        @Argument var key: String
        @Argument var value: String
        @Option(help: "development (default), staging or production.") var environment: String?
        @Flag(help: "Masked for readers without secrets:read.") var secret = false

        func run() async throws {
            try await withClient(options) { client in
                let id = try await project.required(client)
                let saved = try await client.setEnv(project: id, key: key, value: value, environment: environment, secret: secret)
                // Secrets' values left out, even when the token could read them.
                Output.show(FleetTools.masked(saved), json: options.json) {
                    Output.write("Set \(Output.cell($0, path: "key")) (\(Output.cell($0, path: "environment")), version \(Output.cell($0, path: "version"))).")
                }
            }
        }
    }

    struct Unset: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a variable.",
                                                        discussion: "Example: fluke env unset API_KEY --environment production")
        @OptionGroup var options: GlobalOptions
        @OptionGroup var project: ProjectOption
        @Argument var key: String
        @Option(help: "development (default), staging or production.") var environment: String?

        func run() async throws {
            try await withClient(options) { client in
                let id = try await project.required(client)
                try await client.unsetEnv(project: id, key: key, environment: environment)
                Output.write("Removed \(key).")
            }
        }
    }
}

struct Memories: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "A project's memories: what agents learnt and keep.",
        subcommands: [List.self, Add.self, Edit.self, Remove.self], defaultSubcommand: List.self)

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Find memories by text, type or tag.",
                                                        discussion: "Example: fluke memories list -q staging --type convention")
        @OptionGroup var options: GlobalOptions
        @OptionGroup var project: ProjectOption
        @Option(name: [.customShort("q"), .long], help: "Text to find.") var query: String?
        @Option(help: "fact, convention, gotcha or decision.") var type: String?
        @Option(help: "Only with this tag.") var tag: String?

        func run() async throws {
            try await withClient(options) { client in
                Output.show(try await client.listMemories(project: project.resolved, query: query, type: type, tag: tag),
                            json: options.json) {
                    Output.table(Output.items($0), [("id", "id"), ("type", "memory_type"), ("content", "content"), ("tags", "tags")])
                }
            }
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Keep something learnt (idempotent with --external-id).",
                                                        discussion: "Example: fluke memories add \"Deploys go through staging first\" --type convention --tag deploy")
        @OptionGroup var options: GlobalOptions
        @OptionGroup var project: ProjectOption
        @Argument var content: String
        @Option(help: "fact (default), convention, gotcha or decision.") var type = "fact"
        @Option(name: .customLong("tag"), help: "A tag (repeat).") var tags: [String] = []
        @Option(help: "Your id for it (a UUID); saving again with it changes nothing.") var externalID: String?

        func run() async throws {
            try await withClient(options) { client in
                let fields: [String: JSONValue] = [
                    "external_id": .string(externalID ?? UUID().uuidString.lowercased()), "memory_type": .string(type),
                    "content": .string(content), "tags": .array(tags.map { .string($0) })]
                Output.show(try await client.saveMemory(project: project.resolved, fields), json: options.json) {
                    Output.write("Saved \(Output.cell($0, path: "id")).")
                }
            }
        }
    }

    struct Edit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change a memory's content (its type and tags stay).",
                                                        discussion: "Example: fluke memories edit 5c2d… \"Deploys go through staging, then canary\"")
        @OptionGroup var options: GlobalOptions
        @OptionGroup var project: ProjectOption
        @Argument var id: String
        @Argument var content: String

        func run() async throws {
            try await withClient(options) { client in
                let current = try await client.memory(id, project: project.resolved)
                var fields: [String: JSONValue] = ["content": .string(content)]
                for key in ["memory_type", "tags", "version"] { if let value = current.json[key] { fields[key] = value } }
                Output.show(try await client.updateMemory(id, project: project.resolved, fields), json: options.json) {
                    Output.write("Saved \(Output.cell($0, path: "id")) (version \(Output.cell($0, path: "version"))).")
                }
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rm", abstract: "Delete a memory for good.",
            discussion: "Example: fluke memories rm 5c2d…")
        @OptionGroup var options: GlobalOptions
        @OptionGroup var project: ProjectOption
        @Argument var id: String

        func run() async throws {
            try await withClient(options) { client in
                try await client.deleteMemory(id, project: project.resolved)
                Output.write("Removed \(id).")
            }
        }
    }
}
