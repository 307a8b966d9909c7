import FlukeClient
import FlukeModels
import Foundation
import HTTPTypes
import Hummingbird
import MCP
import NIOCore

/// `fluke mcp --http HOST:PORT`: MCP's Streamable HTTP on one endpoint (`/mcp`) for many users.
///
/// Each session (made by an `initialize` POST, named by `MCP-Session-Id`) has its own `Server`
/// and transport; every request's `Authorization: Bearer` is what the fleet sees for that
/// request, so the server holds no credentials of its own. `Origin` and `Host` are checked
/// (DNS rebinding); sessions idle past `idleTimeout` end, and at most `maxSessions` live at once.
actor MCPHTTPSessions {
    struct Session {
        let server: Server
        let transport: StatefulHTTPServerTransport
        var lastUsed: ContinuousClock.Instant
    }

    let mcp: FleetMCPServer
    let validation: any HTTPRequestValidationPipeline
    let maxSessions: Int
    let idleTimeout: Duration
    private var sessions: [String: Session] = [:]

    init(mcp: FleetMCPServer, origins: OriginValidator, maxSessions: Int = 1000, idleTimeout: Duration = .seconds(3600)) {
        self.mcp = mcp
        validation = StandardValidationPipeline(validators: [
            origins, AcceptHeaderValidator(mode: .sseRequired), ContentTypeValidator(), ProtocolVersionValidator(),
            SessionValidator(),
        ])
        self.maxSessions = maxSessions
        self.idleTimeout = idleTimeout
    }

    func handle(_ request: MCP.HTTPRequest) async -> MCP.HTTPResponse {
        expire()
        if let id = request.header(HTTPHeaderName.sessionID), var session = sessions[id] {
            session.lastUsed = .now
            sessions[id] = session
            let response = await session.transport.handleRequest(request)
            if request.method.uppercased() == "DELETE", response.statusCode == 200 {
                await end(id)
            }
            return response
        }
        if request.method.uppercased() == "POST", let body = request.body, Self.isInitialize(body) {
            guard sessions.count < maxSessions else {
                return .error(statusCode: 503, .internalError("too many MCP sessions; try again later"))
            }
            return await start(request)
        }
        if request.header(HTTPHeaderName.sessionID) != nil {
            return .error(statusCode: 404, .invalidRequest("Not Found: session not found or expired"))
        }
        return .error(statusCode: 400, .invalidRequest("Bad Request: missing \(HTTPHeaderName.sessionID) header"))
    }

    private func start(_ request: MCP.HTTPRequest) async -> MCP.HTTPResponse {
        let id = UUID().uuidString
        let transport = StatefulHTTPServerTransport(sessionIDGenerator: FixedSessionID(id: id), validationPipeline: validation)
        let server = await mcp.makeServer()
        do {
            try await server.start(transport: FleetTransport(transport, mcp: mcp))
        } catch {
            return .error(statusCode: 500, .internalError("could not start a session"))
        }
        sessions[id] = Session(server: server, transport: transport, lastUsed: .now)
        let response = await transport.handleRequest(request)
        if response.statusCode >= 400 { await end(id) }
        return response
    }

    private func end(_ id: String) async {
        guard let session = sessions.removeValue(forKey: id) else { return }
        await session.server.stop()
    }

    private func expire() {
        let now = ContinuousClock.now
        for (id, session) in sessions where now - session.lastUsed > idleTimeout {
            sessions[id] = nil
            Task { await session.server.stop() }
        }
    }

    func stopAll() async {
        for id in Array(sessions.keys) { await end(id) }
    }

    /// Whether a POST body is (or, as a batch, holds) an `initialize` request.
    static func isInitialize(_ body: Data) -> Bool {
        guard let message = try? JSONValue(parsing: body) else { return false }
        if case .array(let batch) = message { return batch.contains { $0["method"]?.stringValue == "initialize" } }
        return message["method"]?.stringValue == "initialize"
    }

    private struct FixedSessionID: SessionIDGenerator {
        let id: String
        func generateSessionID() -> String { id }
    }
}

extension MCPHTTPSessions {
    /// The Hummingbird application serving `/mcp` (and `/health`) on `host:port`.
    func application(host: String, port: Int, maxBodyBytes: Int = 4 << 20) -> some ApplicationProtocol {
        let router = Router()
        router.get("/health") { _, _ in "ok" }
        for method in [HTTPRequest.Method.post, .get, .delete] {
            router.on("/mcp", method: method) { request, _ -> Response in
                // Without a bearer token there is nobody to act for: 401, before MCP sees it.
                guard let auth = request.headers[.authorization], auth.lowercased().hasPrefix("bearer "), auth.count > 7 else {
                    return Response(status: .unauthorized, headers: [.wwwAuthenticate: "Bearer", .contentType: "application/json"],
                                    body: .init(byteBuffer: ByteBuffer(string: #"{"error":"a bearer token (fbk_… or an access token) is required"}"#)))
                }
                var headers: [String: String] = [:]
                for field in request.headers { headers[field.name.canonicalName] = field.value }
                if let authority = request.head.authority { headers["host"] = authority }
                let body = try await request.body.collect(upTo: maxBodyBytes)
                let mcpRequest = MCP.HTTPRequest(method: request.method.rawValue, headers: headers,
                                                 body: body.readableBytes > 0 ? Data(buffer: body) : nil, path: request.uri.path)
                return Self.response(await self.handle(mcpRequest))
            }
        }
        return Application(router: router, configuration: .init(address: .hostname(host, port: port), serverName: "fluke-mcp"))
    }

    static func response(_ answer: MCP.HTTPResponse) -> Response {
        var headers = HTTPFields()
        for (name, value) in answer.headers {
            if let field = HTTPField.Name(name) { headers[field] = value }
        }
        let status = HTTPResponse.Status(code: answer.statusCode)
        switch answer {
        case .stream(let stream, _):
            return Response(status: status, headers: headers, body: ResponseBody(asyncSequence: stream.map { ByteBuffer(data: $0) }))
        default:
            let data = answer.bodyData ?? Data()
            return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(data: data)))
        }
    }
}
