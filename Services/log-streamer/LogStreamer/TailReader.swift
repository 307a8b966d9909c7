import FlukeModels
import FlukeRuntime
import Foundation
import NIOCore
import NIOWebSocket

/// A live tail's incoming side: the seed's client messages (`subscribe`, `unsubscribe`, `ping`,
/// `get_stats`), WebSocket pings, and the client's close. A message it does not understand gets
/// `{"type":"error",…}` and the tail stays open.
struct TailReader: Sendable {
    let tail: TailConnection
    let broadcaster: Broadcaster
    let maxMessageBytes: Int

    /// Reads until the client closes or goes away.
    func run(_ inbound: NIOAsyncChannelInboundStream<WebSocketFrame>) async {
        var assembler = WebSocketMessageAssembler(maxMessageBytes: maxMessageBytes)
        do {
            for try await frame in inbound {
                tail.heard()
                switch assembler.receive(frame) {
                case nil, .pong?: continue
                case .ping(let data)?:
                    tail.enqueue(.frame(WebSocketFrame(fin: true, opcode: .pong, data: data)))
                case .close(let code)?:
                    tail.close(code ?? .normalClosure, reason: "")
                    return
                case .unsupported?:
                    error("malformed", "messages are JSON text")
                case .protocolError(let why)?:
                    tail.close(why.contains("larger") ? .messageTooLarge : .protocolError, reason: why)
                    return
                case .text(let text)?:
                    handle(text)
                }
            }
        } catch {
            // The connection failed or was closed under us: nothing to answer.
        }
    }

    func handle(_ text: String) {
        guard case .object(let message)? = try? JSONValue(parsing: Data(text.utf8)) else {
            return error("malformed", "a message is a JSON object such as {\"action\":\"ping\"}")
        }
        switch message["action"] {
        case .string("ping")?:
            tail.send(["type": .string("pong")])
        case .string("subscribe")?:
            do {
                let filter = try TailFilter(message: message["filter"], boundProject: tail.principal.projectID)
                tail.setFilter(filter)
                tail.send(["type": .string("subscribed"), "filter": filter.json])
            } catch let bad {
                error("invalid_filter", bad.detail, field: bad.field)
            }
        case .string("unsubscribe")?:
            tail.setFilter(nil)
            tail.send(["type": .string("unsubscribed")])
        case .string("get_stats")?:
            let (sent, dropped) = tail.counts
            tail.send(["type": .string("stats"),
                       "clients": .number(Double(broadcaster.tails(of: tail.tenantID))),
                       "entries_sent": .number(Double(sent)), "dropped": .number(Double(dropped)),
                       "uptime_seconds": .number(Double(broadcaster.startedAt.duration(to: .now).components.seconds)),
                       "connected_seconds": .number(Double(tail.openedAt.duration(to: .now).components.seconds))])
        default:
            error("unknown_action", "action must be one of subscribe, unsubscribe, ping, get_stats", field: "action")
        }
    }

    private func error(_ code: String, _ message: String, field: String? = nil) {
        var object: [String: JSONValue] = ["type": .string("error"), "code": .string(code), "message": .string(message)]
        if let field { object["field"] = .string(field) }
        tail.send(object)
    }
}
