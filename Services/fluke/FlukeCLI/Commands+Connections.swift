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
            Tokens are read from standard input (or asked for on a terminal, without echo), never
            from the command line, where other users could see them.
            """,
        subcommands: [List.self, GitHub.self, Coder.self, Remove.self], defaultSubcommand: List.self)

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
        func run() async throws {
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
