import FlukeModels
import Foundation
import Logging
import MCP

/// Carries one session's messages between its transport (stdio or Streamable HTTP) and the
/// SDK's `Server`, and answers `tools/call` itself.
///
/// Why: the SDK turns each handler's result into JSON, back into `Value` (compiling a regular
/// expression for every string it meets) and into JSON again. For a project context of 2 KB
/// that was 2 ms a call, most of `fluke mcp`'s cost. Here a tool call's answer is written once,
/// with ``JSONValue/jsonBytes()``. Everything else (initialize, lists, resources, ping,
/// notifications, batches) goes to the `Server` as it came.
actor FleetTransport: Transport, HTTPContextProviding {
    let inner: any Transport
    let mcp: FleetMCPServer
    nonisolated let logger: Logger
    /// Tool calls running, by JSON-RPC id, so that `notifications/cancelled` can stop them.
    private var running: [String: Task<Void, Never>] = [:]

    init(_ inner: any Transport, mcp: FleetMCPServer) {
        self.inner = inner
        self.mcp = mcp
        logger = Logger(label: "fluke.mcp.transport")
    }

    func connect() async throws { try await inner.connect() }

    func disconnect() async {
        for task in running.values { task.cancel() }
        running = [:]
        await inner.disconnect()
    }

    func send(_ data: Data) async throws { try await inner.send(data) }

    /// The Server's handlers (resources, lists) read the caller's token through this.
    func httpRequestContext(for id: ID) async -> MCP.HTTPRequest? {
        await (inner as? any HTTPContextProviding)?.httpRequestContext(for: id)
    }

    func receive() -> AsyncThrowingStream<Data, Swift.Error> {
        let (stream, continuation) = AsyncThrowingStream<Data, Swift.Error>.makeStream()
        let pump = Task {
            do {
                for try await data in await inner.receive() {
                    if let call = ToolCall(data) {
                        await start(call)
                        continue
                    }
                    if let id = ToolCall.cancelledRequest(in: data) { cancel(id) }
                    continuation.yield(data)
                }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in pump.cancel() }
        return stream
    }

    private func start(_ call: ToolCall) async {
        // Over HTTP the request's own bearer token acts; the transport keeps the request until answered.
        let http = await httpRequestContext(for: call.mcpID)
        let client = mcp.client(for: http)
        running[call.key] = Task {
            let outcome: (key: String, value: JSONValue)
            do {
                outcome = ("result", try await mcp.call(call.name, arguments: call.arguments, client: client).json)
            } catch {
                let mcpError = error as? MCPError ?? .internalError(String(describing: error))
                outcome = ("error", (try? JSONValue(parsing: JSONEncoder().encode(mcpError))) ?? .null)
            }
            // A cancelled request is not answered (MCP's cancellation).
            guard !Task.isCancelled else { return }
            var bytes: [UInt8] = []
            bytes.reserveCapacity(1024)
            bytes.append(contentsOf: #"{"jsonrpc":"2.0","id":"#.utf8)
            bytes.appendJSON(call.id)
            bytes.append(contentsOf: ",\"\(outcome.key)\":".utf8)
            bytes.appendJSON(outcome.value)
            bytes.append(UInt8(ascii: "}"))
            do {
                try await inner.send(Data(bytes))
            } catch {
                logger.debug("tool call answer not sent", metadata: ["tool": "\(call.name)", "error": "\(error)"])
            }
            finished(call.key)
        }
    }

    private func finished(_ key: String) { running[key] = nil }

    private func cancel(_ key: String) { running.removeValue(forKey: key)?.cancel() }
}

/// A `tools/call` request as it arrived; anything else (or anything malformed, which the SDK
/// answers with its own error) is not one.
struct ToolCall: Sendable {
    let id: JSONValue
    let name: String
    let arguments: [String: Value]

    init?(_ data: Data) {
        // A cheap look before parsing: most messages are not tool calls.
        guard data.count < 8 << 20, data.range(of: Data("tools/call".utf8)) != nil,
              case .object(let message)? = try? JSONValue(parsing: data),
              message["jsonrpc"] == "2.0", message["method"] == "tools/call",
              let id = message["id"], Self.key(of: id) != nil,
              case .object(let params)? = message["params"], case .string(let name)? = params["name"] else { return nil }
        switch params["arguments"] {
        case nil, .null?: arguments = [:]
        case .object(let object)?: arguments = object.mapValues(Value.init)
        default: return nil
        }
        self.id = id
        self.name = name
    }

    /// The id as the transport names it: an integer's digits or the string.
    var key: String { Self.key(of: id)! }

    var mcpID: ID {
        if case .string(let text) = id { return .string(text) }
        return .number(Int(key)!)
    }

    static func key(of id: JSONValue) -> String? {
        switch id {
        case .string(let text): return text
        case .number(let n) where n.rounded() == n && abs(n) < 9e15: return String(Int64(n))
        default: return nil
        }
    }

    /// The request id a `notifications/cancelled` names.
    static func cancelledRequest(in data: Data) -> String? {
        guard data.range(of: Data("notifications/cancelled".utf8)) != nil,
              let message = try? JSONValue(parsing: data), message["method"] == "notifications/cancelled",
              let id = message["params"]?["requestId"] else { return nil }
        return key(of: id)
    }
}
