import FlukeClient
import FlukeModels
import Foundation
import MCP

/// `fluke mcp`: the fleet's tools for an AI agent, over one MCP `Server`.
///
/// Listed tools are those the caller's token allows (its scopes, from project-manager's
/// `/api/v1/me`), narrowed by `--read-only` and `--toolsets`. A tool that ran and failed is a
/// result with `isError: true` and the API's problem; an unknown tool or bad arguments are
/// JSON-RPC errors.
struct FleetMCPServer: Sendable {
    let client: FlukeClient
    let readOnly: Bool
    let toolsets: Set<String>?

    static let toolsetNames: Set<String> = Set(FleetTools.all.map(\.toolset))

    /// The tools this caller may see.
    func tools(scopes: Set<String>) -> [FleetTool] {
        FleetTools.all.filter { tool in
            tool.allowed(scopes: scopes) && (!readOnly || tool.readOnly) && (toolsets?.contains(tool.toolset) ?? true)
        }
    }

    /// The caller's scopes; none when project-manager cannot tell (every tool then hidden).
    func scopes(_ client: FlukeClient) async -> Set<String> {
        (try? await Set(client.me().scopes)) ?? []
    }

    /// A server answering with `client` (one caller).
    func makeServer() async -> Server {
        let server = Server(name: "fluke", version: FlukeClient.version, title: "FlukeBase Fleet",
                            instructions: "Read get_project_context before working on a project; save what you learn with save_memory.",
                            capabilities: .init(tools: .init(listChanged: false)))
        let this = self
        await server.withMethodHandler(ListTools.self) { _ in
            let scopes = await this.scopes(this.client)
            return .init(tools: this.tools(scopes: scopes).map(\.tool))
        }
        await server.withMethodHandler(CallTool.self) { params in
            try await this.call(params.name, arguments: params.arguments ?? [:])
        }
        return server
    }

    func call(_ name: String, arguments: [String: Value]) async throws -> CallTool.Result {
        guard let tool = FleetTools.all.first(where: { $0.name == name }) else {
            throw MCPError.invalidParams("unknown tool: \(name)")
        }
        let scopes = await scopes(client)
        guard tools(scopes: scopes).contains(where: { $0.name == name }) else {
            throw MCPError.invalidParams("tool \(name) is not available to this token or in this server's mode")
        }
        let args = ToolArguments(values: arguments, tool: name)
        try args.allowOnly(Set(tool.properties.keys))
        for required in tool.required where arguments[required] == nil || arguments[required] == .null {
            throw MCPError.invalidParams("\(name): \(required) is required")
        }
        do {
            let answer = try await tool.run(client, args)
            let structured: JSONValue = if case .object = answer { answer } else { ["result": answer] }
            return try .init(content: [.text(text: structured.compactText, annotations: nil, _meta: nil)],
                         structuredContent: Value(structured), isError: false)
        } catch let error as FlukeClientError {
            var problem: JSONValue = error.problem
            if case .object = problem {} else {
                problem = ["title": .string(error.title), "detail": .string(error.detail), "status": .number(Double(error.status))]
            }
            return try .init(content: [.text(text: error.description, annotations: nil, _meta: nil)],
                         structuredContent: Value(["error": problem]), isError: true)
        }
    }
}
