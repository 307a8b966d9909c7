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
    /// The fleet, with the token of `fluke mcp` on stdio; over HTTP each request's own token
    /// replaces it (``requestClient()``).
    let client: FlukeClient
    let readOnly: Bool
    let toolsets: Set<String>?
    let scopeCache = ScopeCache()

    static let toolsetNames: Set<String> = Set(FleetTools.all.map(\.toolset))

    /// The tools this caller may see.
    func tools(scopes: Set<String>) -> [FleetTool] {
        FleetTools.all.filter { tool in
            tool.allowed(scopes: scopes) && (!readOnly || tool.readOnly) && (toolsets?.contains(tool.toolset) ?? true)
        }
    }

    /// The client for the request being handled: over HTTP with that request's bearer token.
    func requestClient() -> FlukeClient {
        client(for: Server.currentHandlerContext?.httpContext)
    }

    /// The client acting for an HTTP request's bearer token; on stdio (no HTTP request), `client`.
    func client(for http: MCP.HTTPRequest?) -> FlukeClient {
        guard let auth = http?.header(HTTPHeaderName.authorization), auth.lowercased().hasPrefix("bearer ") else { return client }
        return client.withToken(String(auth.dropFirst(7)).trimmingCharacters(in: .whitespaces))
    }

    /// The caller's scopes; none when project-manager cannot tell (every tool then hidden).
    /// Kept for a while per token: they only decide which tools are offered, and every call is
    /// still checked by the service it reaches.
    func scopes(_ client: FlukeClient) async -> Set<String> {
        let token = client.endpoints.token ?? ""
        if let known = await scopeCache.scopes(token) { return known }
        guard let scopes = try? await Set(client.me().scopes) else { return [] }
        await scopeCache.keep(scopes, for: token)
        return scopes
    }

    /// A server answering with `client` (one caller).
    func makeServer() async -> Server {
        let server = Server(name: "fluke", version: FlukeClient.version, title: "FlukeBase Fleet",
                            instructions: "Read get_project_context before working on a project; save what you learn with save_memory.",
                            capabilities: .init(resources: .init(subscribe: true, listChanged: false),
                                                tools: .init(listChanged: false)))
        let this = self
        let resources = ContextResources()
        await server.withMethodHandler(ListResources.self) { _ in
            .init(resources: try await this.answering { try await resources.list(this.requestClient()) }, nextCursor: nil)
        }
        await server.withMethodHandler(ReadResource.self) { params in
            .init(contents: try await this.answering { try await resources.read(params.uri, this.requestClient()) })
        }
        let notifier = WeakServer(server)
        await server.withMethodHandler(ResourceSubscribe.self) { params in
            try await this.answering {
                try await resources.subscribe(params.uri, this.requestClient()) { uri in
                    try? await notifier.server?.notify(ResourceUpdatedNotification.message(.init(uri: uri)))
                }
            }
            return .init()
        }
        await server.withMethodHandler(ResourceUnsubscribe.self) { params in
            await resources.unsubscribe(params.uri)
            return .init()
        }
        await server.withMethodHandler(ListTools.self) { _ in
            let scopes = await this.scopes(this.requestClient())
            return .init(tools: this.tools(scopes: scopes).map(\.tool))
        }
        // Tool calls are answered by FleetTransport before they reach the Server; a batch
        // (which FleetTransport leaves to the Server) still finds them here.
        await server.withMethodHandler(CallTool.self) { params in
            try await this.call(params.name, arguments: params.arguments ?? [:], client: this.requestClient()).result
        }
        return server
    }

    /// A resource request's fleet refusal as a JSON-RPC error carrying the API's detail.
    func answering<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as FlukeClientError {
            throw MCPError.serverError(code: error.status == 404 ? -32002 : -32603, message: error.description)
        }
    }

    /// Runs tool `name` for `client`'s caller. Throws `MCPError` for an unknown tool or bad
    /// arguments; a call the fleet refused is an answer with `isError`.
    func call(_ name: String, arguments: [String: Value], client: FlukeClient) async throws -> ToolAnswer {
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
            let answer = try await tool.run(client, args).json
            let structured: JSONValue = if case .object = answer { answer } else { ["result": answer] }
            return ToolAnswer(text: structured.jsonText, structured: structured, isError: false)
        } catch let error as FlukeClientError {
            var problem: JSONValue = error.problem
            if case .object = problem {} else {
                problem = ["title": .string(error.title), "detail": .string(error.detail), "status": .number(Double(error.status))]
            }
            return ToolAnswer(text: error.description, structured: ["error": problem], isError: true)
        }
    }
}

/// A tool's answer: its JSON as text (for clients without structured content) and as
/// `structuredContent`.
struct ToolAnswer: Sendable {
    let text: String
    let structured: JSONValue
    let isError: Bool

    /// The `tools/call` result as JSON.
    var json: JSONValue {
        ["content": .array([["type": "text", "text": .string(text)]]), "structuredContent": structured, "isError": .bool(isError)]
    }

    /// The same result as the SDK's type.
    var result: CallTool.Result {
        get throws {
            try .init(content: [.text(text: text, annotations: nil, _meta: nil)], structuredContent: Value(structured), isError: isError)
        }
    }
}

/// The server a subscription notifies through, without keeping it alive.
final class WeakServer: @unchecked Sendable {
    weak var server: Server?
    init(_ server: Server) { self.server = server }
}

/// Tokens' scopes for `ttl`, at most `limit` tokens (the oldest entry goes first).
actor ScopeCache {
    let ttl: Duration
    let limit: Int
    private var entries: [String: (scopes: Set<String>, until: ContinuousClock.Instant)] = [:]

    init(ttl: Duration = .seconds(30), limit: Int = 1000) {
        self.ttl = ttl
        self.limit = limit
    }

    func scopes(_ token: String) -> Set<String>? {
        guard let entry = entries[token] else { return nil }
        guard entry.until > .now else { entries[token] = nil; return nil }
        return entry.scopes
    }

    func keep(_ scopes: Set<String>, for token: String) {
        if entries.count >= limit, let oldest = entries.min(by: { $0.value.until < $1.value.until })?.key {
            entries[oldest] = nil
        }
        entries[token] = (scopes, .now + ttl)
    }
}
