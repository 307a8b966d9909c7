import ArgumentParser
import FlukeClient
import Foundation
import MCP

struct MCPCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mcp",
        abstract: "Serve the fleet's tools to AI agents (Model Context Protocol).",
        discussion: """
            Examples:
              fluke mcp --read-only --toolsets context,memories
              fluke mcp --http 127.0.0.1:8090
            On stdio for an agent's MCP configuration:
              {"mcpServers": {"fluke": {"command": "fluke", "args": ["mcp"], "env": {"FLUKE_TOKEN": "fbk_…"}}}}
            Only the tools the token's scopes allow are listed; --read-only and --toolsets narrow them.
            """)

    @OptionGroup var options: GlobalOptions
    @Flag(help: "Only tools that change nothing.") var readOnly = false
    @Option(help: "Only these toolsets, comma-separated: context, memories, tasks, deploy, logs, catalog.")
    var toolsets: String?
    @Option(help: "Serve Streamable HTTP on HOST:PORT (endpoint /mcp) instead of stdio; each request's bearer token is passed to the fleet.")
    var http: String?
    @Option(name: .customLong("allow-host"),
            help: "A Host (host:port, * for any port) the HTTP endpoint answers besides localhost's (repeat; also FLUKE_MCP_ALLOWED_HOSTS).")
    var allowedHosts: [String] = []
    @Option(name: .customLong("allow-origin"), help: "A browser Origin allowed besides localhost's (repeat; also FLUKE_MCP_ALLOWED_ORIGINS).")
    var allowedOrigins: [String] = []

    func validate() throws {
        if let toolsets {
            for name in toolsets.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) })
            where !FleetMCPServer.toolsetNames.contains(name) {
                throw ValidationError("--toolsets: unknown toolset \(name) (known: \(FleetMCPServer.toolsetNames.sorted().joined(separator: ", ")))")
            }
        }
    }

    func run() async throws {
        let sets = toolsets.map { Set($0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }) }
        if let http {
            try await serveHTTP(http, toolsets: sets)
            return
        }
        let client = try await options.client()
        let mcp = FleetMCPServer(client: client, readOnly: readOnly, toolsets: sets)
        let server = await mcp.makeServer()
        try await server.start(transport: FleetTransport(StdioTransport(), mcp: mcp))
        await server.waitUntilCompleted()
        try? await client.shutdown()
    }

    /// Streamable HTTP: the server holds no token; each request brings its own.
    func serveHTTP(_ address: String, toolsets: Set<String>?) async throws {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]),
              (0...65535).contains(port) else {
            throw ValidationError("--http takes HOST:PORT, e.g. 127.0.0.1:8090")
        }
        let host = String(address[..<colon])
        let environment = ProcessInfo.processInfo.environment
        var endpoints = try FleetEndpoints.load(environment: environment, fleetEnv: options.fleetEnv)
        endpoints.token = nil
        let client = FlukeClient(endpoints: endpoints)
        func list(_ variable: String) -> [String] {
            (environment[variable] ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        let local = OriginValidator.localhost()
        let origins = OriginValidator(allowedHosts: local.allowedHosts + allowedHosts + list("FLUKE_MCP_ALLOWED_HOSTS"),
                                      allowedOrigins: local.allowedOrigins + allowedOrigins + list("FLUKE_MCP_ALLOWED_ORIGINS"))
        let sessions = MCPHTTPSessions(mcp: FleetMCPServer(client: client, readOnly: readOnly, toolsets: toolsets), origins: origins)
        let app = await sessions.application(host: host, port: port)
        Output.write("fluke mcp: Streamable HTTP on http://\(host):\(port)/mcp", to: .standardError)
        try await app.runService()
        await sessions.stopAll()
        try? await client.shutdown()
    }
}
