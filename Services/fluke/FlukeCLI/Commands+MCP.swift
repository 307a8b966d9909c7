import ArgumentParser
import FlukeClient
import Foundation
import MCP

struct MCPCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mcp",
        abstract: "Serve the fleet's tools to AI agents (Model Context Protocol).",
        discussion: """
            On stdio for an agent's MCP configuration:
              {"mcpServers": {"fluke": {"command": "fluke", "args": ["mcp"], "env": {"FLUKE_TOKEN": "fbk_…"}}}}
            Only the tools the token's scopes allow are listed; --read-only and --toolsets narrow them.
            """)

    @OptionGroup var options: GlobalOptions
    @Flag(help: "Only tools that change nothing.") var readOnly = false
    @Option(help: "Only these toolsets, comma-separated: context, memories, tasks, deploy, logs, catalog.")
    var toolsets: String?

    func validate() throws {
        if let toolsets {
            for name in toolsets.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) })
            where !FleetMCPServer.toolsetNames.contains(name) {
                throw ValidationError("--toolsets: unknown toolset \(name) (known: \(FleetMCPServer.toolsetNames.sorted().joined(separator: ", ")))")
            }
        }
    }

    func run() async throws {
        let client = try await options.client()
        let sets = toolsets.map { Set($0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }) }
        let server = await FleetMCPServer(client: client, readOnly: readOnly, toolsets: sets).makeServer()
        try await server.start(transport: StdioTransport())
        await server.waitUntilCompleted()
        try? await client.shutdown()
    }
}
