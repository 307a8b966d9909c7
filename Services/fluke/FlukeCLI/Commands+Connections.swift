import ArgumentParser
import FlukeClient
import FlukeModels
import Foundation

struct Connections: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Your tenant's GitHub and Coder connections (admins).",
        discussion: """
            Examples:
              fluke connections
              printf '%s' "$GITHUB_TOKEN" | fluke connections github
              fluke connections coder --url https://coder.example.com    # asks for the session token
              fluke connections github --app-id 12345 --installation-id 678 --private-key-file app.pem
              fluke connections repo octo/app --connection 3f2a… --project 4b1d…
              fluke connections workspaces
              fluke connections link-workspaces 9c1e… 7d2f… --connection 5e6a… --project 4b1d…
            Tokens are read from standard input (or asked for on a terminal, without echo), never
            from the command line, where other users could see them.
            """,
        subcommands: [List.self, GitHub.self, Coder.self, Repo.self, Workspaces.self, LinkWorkspaces.self, Remove.self],
        defaultSubcommand: List.self)

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The tenant's connections.",
                                                        discussion: "Example: fluke connections list --json")
        @OptionGroup var options: GlobalOptions
        func run() async throws {
            try await withClient(options) { client in
                Output.show(try await client.listConnections(), json: options.json) {
                    Output.table(Output.items($0), [("id", "id"), ("provider", "provider"), ("status", "status"),
                                                    ("login", "account.login"), ("user", "account.username"), ("url", "url"),
                                                    ("checked", "checked_at")])
                }
            }
        }
    }

    struct GitHub: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "github", abstract: "Connect GitHub with a personal access token (read from standard input).",
            discussion: "Example: printf '%s' \"$GITHUB_TOKEN\" | fluke connections github")
        @OptionGroup var options: GlobalOptions
        @Option(help: "A GitHub App's id (with --installation-id and --private-key-file) instead of a token.") var appID: Int?
        @Option(help: "The app installation's id.") var installationID: Int?
        @Option(help: "The app's private key (PEM), as GitHub gave it.") var privateKeyFile: String?

        func validate() throws {
            let app = [appID != nil, installationID != nil, privateKeyFile != nil]
            guard app.allSatisfy({ $0 }) || app.allSatisfy({ !$0 }) else {
                throw ValidationError("an app needs --app-id, --installation-id and --private-key-file together")
            }
        }

        func run() async throws {
            if let appID, let installationID, let privateKeyFile {
                guard let key = FileManager.default.contents(atPath: privateKeyFile).map({ String(decoding: $0, as: UTF8.self) }) else {
                    throw ValidationError("cannot read \(privateKeyFile)")
                }
                try await withClient(options) { client in
                    let made = try await client.connectGitHubApp(appID: appID, installationID: installationID, privateKey: key)
                    Output.show(made, json: options.json) { _ in
                        Output.write("Connected GitHub App \(appID) on \(made.accountName ?? "?") (\(made.id.lowercased)).")
                    }
                }
                return
            }
            let token = try Secret.read(prompt: "GitHub token: ")
            try await withClient(options) { client in
                let made = try await client.connectGitHub(token: token)
                Output.show(made, json: options.json) { _ in
                    Output.write("Connected GitHub as \(made.accountName ?? "?") (\(made.id.lowercased)).")
                }
            }
        }
    }

    struct Coder: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "coder", abstract: "Connect a Coder deployment with a session token (read from standard input).",
            discussion: "Example: printf '%s' \"$CODER_SESSION_TOKEN\" | fluke connections coder --url https://coder.example.com")
        @OptionGroup var options: GlobalOptions
        @Option(help: "The deployment's base URL.") var url: String
        func run() async throws {
            let token = try Secret.read(prompt: "Coder session token: ")
            try await withClient(options) { client in
                let made = try await client.connectCoder(url: url, token: token)
                Output.show(made, json: options.json) { _ in
                    Output.write("Connected Coder at \(made.url ?? url) as \(made.accountName ?? "?") (\(made.id.lowercased)).")
                }
            }
        }
    }

    struct Repo: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Link a project to a GitHub repository: its open issues become tasks.",
            discussion: "Example: fluke connections repo octo/app --connection 3f2a… --project 4b1d…")
        @OptionGroup var options: GlobalOptions
        @OptionGroup var project: ProjectOption
        @Argument(help: "owner/repo") var fullName: String
        @Option(help: "The GitHub connection to read it with.") var connection: String

        func run() async throws {
            try await withClient(options) { client in
                let id = try await project.required(client)
                let link = try await client.linkRepository(project: id, connection: connection, fullName: fullName)
                Output.show(link, json: options.json) { _ in
                    Output.write("Linked \(link.fullName) to project \(id); its open issues are being imported as tasks.")
                    if let secret = link.webhook.secret {
                        Output.write("For changes as they happen, add a webhook on GitHub (events: \(link.webhook.events.joined(separator: ", ")); content type application/json):")
                        Output.write("  payload URL: <project-manager's public URL>\(link.webhook.path)")
                        Output.write("  secret:      \(secret)   (shown once)")
                    }
                }
            }
        }
    }

    struct Workspaces: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The Coder connection owner's workspaces.",
                                                        discussion: "Example: fluke connections workspaces --json")
        @OptionGroup var options: GlobalOptions
        @Option(help: "The Coder connection (when the tenant has several).") var connection: String?
        func run() async throws {
            try await withClient(options) { client in
                Output.show(try await client.coderWorkspaces(connection: connection), json: options.json) {
                    Output.table(Output.items($0), [("id", "id"), ("name", "name"), ("owner", "owner"), ("status", "status"),
                                                    ("healthy", "healthy"), ("url", "url")])
                }
            }
        }
    }

    struct LinkWorkspaces: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "link-workspaces", abstract: "Make these Coder workspaces the project's (none: unlink all).",
            discussion: "Example: fluke connections link-workspaces 9c1e… 7d2f… --connection 5e6a… --project 4b1d…")
        @OptionGroup var options: GlobalOptions
        @OptionGroup var project: ProjectOption
        @Argument(help: "Workspace ids.") var workspaces: [String] = []
        @Option(help: "The Coder connection they belong to.") var connection: String
        func run() async throws {
            try await withClient(options) { client in
                let linked = try await client.linkWorkspaces(project: try await project.required(client), connection: connection,
                                                             workspaces: workspaces)
                Output.show(linked, json: options.json) {
                    Output.table(Output.items($0), [("id", "id"), ("name", "name"), ("status", "status"), ("healthy", "healthy"), ("url", "url")])
                }
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rm", abstract: "Delete a connection and its credential.",
                                                        discussion: "Example: fluke connections rm 3f2a…")
        @OptionGroup var options: GlobalOptions
        @Argument var id: String
        func run() async throws {
            try await withClient(options) { client in
                try await client.deleteConnection(id)
                Output.write("Removed \(id).")
            }
        }
    }
}

/// A secret typed by a person (no echo) or piped in: never an argument, which `ps` shows.
enum Secret {
    static func read(prompt: String) throws -> String {
        let text: String
        if isatty(STDIN_FILENO) == 1 {
            text = String(cString: getpass(prompt))
        } else {
            text = readLine(strippingNewline: true) ?? ""
        }
        let secret = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !secret.isEmpty else { throw ValidationError("no token on standard input") }
        return secret
    }
}
