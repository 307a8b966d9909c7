import ArgumentParser
import FlukeClient
import FlukeModels
import Foundation

struct Login: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Sign in and keep the login under $XDG_CONFIG_HOME/fluke/ (mode 600).",
        discussion: """
            With an e-mail, asks for the password (or reads FLUKE_PASSWORD) and keeps the refresh \
            token; with --token, keeps that token.

            Examples:
              fluke login --email me@example.com
              fluke login --token fbk_…
            """)

    @OptionGroup var options: GlobalOptions
    @Option(help: "The account's e-mail.") var email: String?

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        var endpoints = try FleetEndpoints.load(environment: environment, fleetEnv: options.fleetEnv)
        let pmURL = endpoints.base(.projectManager)?.absoluteString
        if let token = options.token {
            endpoints.token = token
            try await withClient(FlukeClient(endpoints: endpoints), json: options.json) { client in
                let me = try await client.me()
                try StoredLogin(token: token, projectManagerURL: pmURL).write(environment: environment)
                Output.write("Signed in as \(Output.cell(me.user, path: "email")) (\(me.scopes.joined(separator: " "))).")
            }
            return
        }
        guard let email else { throw ValidationError("give --email (or --token fbk_…)") }
        let password = environment["FLUKE_PASSWORD"] ?? String(cString: getpass("Password: "))
        endpoints.token = nil
        try await withClient(FlukeClient(endpoints: endpoints), json: options.json) { client in
            let pair = try await client.login(email: email, password: password)
            try StoredLogin(refreshToken: pair.refreshToken, projectManagerURL: pmURL).write(environment: environment)
            Output.write("Signed in as \(email). Saved to \(StoredLogin.path(environment: environment)).")
        }
    }
}

struct Logout: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Forget the stored login.",
        discussion: "Example: fluke logout")

    func run() async throws {
        StoredLogin.remove()
        Output.write("Signed out.")
    }
}

struct Tokens: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "API tokens: create (shown once), list, revoke.",
        subcommands: [List.self, Create.self, Revoke.self], defaultSubcommand: List.self)

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The API tokens you minted (their secrets are never shown again).",
                                                        discussion: "Example: fluke tokens list --json | jq '.items[] | {id, name, scopes}'")
        @OptionGroup var options: GlobalOptions
        func run() async throws {
            try await withClient(options) { client in
                Output.show(try await client.listTokens(), json: options.json) {
                    Output.table(Output.items($0), [("id", "id"), ("name", "name"), ("scopes", "scopes"),
                                                    ("project", "project_id"), ("expires", "expires_at")])
                }
            }
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Mint a token; its secret is printed once.",
            discussion: "Example: fluke tokens create ci --scope context:read --scope logs:read --project 4b1d…")
        @OptionGroup var options: GlobalOptions
        @OptionGroup var project: ProjectOption
        @Argument(help: "A name for it.") var name: String
        @Option(name: .customLong("scope"), help: "A scope (repeat).") var scopes: [String] = []
        @Option(help: "Days until it expires.") var expiresInDays: Int?

        func run() async throws {
            try await withClient(options) { client in
                var fields: [String: JSONValue] = ["name": .string(name), "scopes": .array(scopes.map { .string($0) })]
                if let project = project.resolved { fields["project_id"] = .string(project) }
                if let expiresInDays { fields["expires_in_days"] = .number(Double(expiresInDays)) }
                Output.show(try await client.createToken(fields), json: options.json) {
                    Output.fields($0, [("id", "id"), ("token", "token"), ("scopes", "scopes"), ("project", "project_id")])
                    Output.write("The token is shown only now.")
                }
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a token: it stops working at once, with the tokens it minted.",
                                                        discussion: "Example: fluke tokens revoke 0b7e…")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The token's id.") var id: String
        func run() async throws {
            try await withClient(options) { client in
                try await client.revokeToken(id)
                Output.write("Revoked \(id).")
            }
        }
    }
}
