import ArgumentParser
import FlukeClient

/// `fluke`: the fleet from a terminal, a script (`--json`), or an AI agent (`fluke mcp`).
public struct Fluke: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "fluke",
        abstract: "FlukeBase Fleet from the command line, and as an MCP server for AI agents.",
        discussion: """
            Inside the repository after `make run`, fluke needs no setup: it reads .run/fleet.env \
            (the services' URLs and FLUKE_ADMIN_TOKEN). Elsewhere: `fluke login`, or FLUKE_TOKEN and \
            FLUKE_<SERVICE>_URL in the environment.

            Examples:
              fluke projects
              fluke overview                 # every project, what needs attention first
              fluke context --project 4b1d…
              fluke env set DATABASE_URL postgres://… --secret --project 4b1d…
              fluke memories add "Deploys go through staging first" --type convention
              fluke logs web --level error --since 60
              fluke mcp                      # an MCP server on stdio for an agent's config
            """,
        version: FlukeClient.version,
        subcommands: [
            Login.self, Logout.self, Projects.self, Status.self, Overview.self, Context.self, Env.self, Memories.self, Tasks.self,
            Milestones.self, Tokens.self, Apps.self, Deploy.self, Deployments.self, Releases.self, Rollback.self, Logs.self,
            Catalog.self, Webhooks.self, Connections.self, MCPCommand.self,
        ])

    public init() {}
}
