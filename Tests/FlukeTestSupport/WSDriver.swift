import Foundation
import Synchronization

/// Real WebSocket clients for the live-tail tests: PyPI `websockets` (installed into .venv by
/// `make test`), driven from Swift. One Python process holds any number of named connections;
/// commands go in on stdin, and every event (open, refused with its HTTP status, message,
/// closed with code and reason) comes out as a JSON line in a file this class reads as it grows.
public final class WSDriver: Sendable {
    public struct Event: @unchecked Sendable {
        public let conn: String
        public let kind: String
        public let object: [String: Any]
        /// A message's JSON object, when it is one.
        public var message: [String: Any]? { object["data"] as? [String: Any] }
    }

    private let process: Process
    private let input: FileHandle
    private let output: URL
    private let state = Mutex<(offset: Int, events: [Event])>((0, []))

    public init() throws {
        output = FileManager.default.temporaryDirectory.appendingPathComponent("ws-driver-\(UUID().uuidString).jsonl")
        FileManager.default.createFile(atPath: output.path, contents: nil)
        process = Process()
        process.executableURL = URL(fileURLWithPath: ProcessInfo.processInfo.environment["FLUKE_TEST_PYTHON"]
            ?? TestEnvironment.repositoryRoot.appendingPathComponent(".venv/bin/python").path)
        process.arguments = ["-u", "-c", Self.script]
        let stdin = Pipe()
        process.standardInput = stdin
        process.standardOutput = try FileHandle(forWritingTo: output)
        process.standardError = FileHandle.standardError
        try process.run()
        input = stdin.fileHandleForWriting
    }

    deinit {
        try? input.close()
        process.terminate()
        try? FileManager.default.removeItem(at: output)
    }

    private func command(_ object: [String: Any]) throws {
        var data = try JSONSerialization.data(withJSONObject: object)
        data.append(0x0A)
        try input.write(contentsOf: data)
    }

    /// Opens `conn`; `maxQueue` is how many messages websockets buffers before it stops reading
    /// the socket (1 makes a slow client once paused).
    public func open(_ conn: String, _ url: String, headers: [String: String] = [:], maxQueue: Int = 4096) throws {
        try command(["op": "open", "conn": conn, "url": url, "headers": headers, "max_queue": maxQueue])
    }

    public func send(_ conn: String, _ message: [String: Any]) throws {
        try command(["op": "send", "conn": conn, "text": String(decoding: try JSONSerialization.data(withJSONObject: message), as: UTF8.self)])
    }

    public func sendText(_ conn: String, _ text: String) throws { try command(["op": "send", "conn": conn, "text": text]) }
    /// Stops reading `conn` (its messages pile up in the socket), or starts again.
    public func pause(_ conn: String) throws { try command(["op": "pause", "conn": conn]) }
    public func resume(_ conn: String) throws { try command(["op": "resume", "conn": conn]) }
    public func close(_ conn: String) throws { try command(["op": "close", "conn": conn]) }

    /// Every event of `conn` so far.
    public func events(_ conn: String) -> [Event] {
        state.withLock { s in
            if let handle = try? FileHandle(forReadingFrom: output) {
                defer { try? handle.close() }
                try? handle.seek(toOffset: UInt64(s.offset))
                let data = (try? handle.readToEnd()) ?? Data()
                // Only whole lines: the writer may be in the middle of one.
                if let end = data.lastIndex(of: 0x0A) {
                    for line in data[data.startIndex...end].split(separator: 0x0A) {
                        guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
                              let c = object["conn"] as? String, let kind = object["event"] as? String else { continue }
                        s.events.append(Event(conn: c, kind: kind, object: object))
                    }
                    s.offset += end - data.startIndex + 1
                }
            }
            return s.events.filter { $0.conn == conn }
        }
    }

    /// The JSON messages `conn` received so far.
    public func messages(_ conn: String) -> [[String: Any]] { events(conn).filter { $0.kind == "message" }.compactMap(\.message) }

    /// Entries (messages without a `type`) received so far, by id.
    public func entryIDs(_ conn: String) -> [String] { messages(conn).filter { $0["type"] == nil }.compactMap { $0["id"] as? String } }

    public func controls(_ conn: String, _ type: String) -> [[String: Any]] { messages(conn).filter { $0["type"] as? String == type } }

    /// Waits for `conn`'s first event of `kind`.
    @discardableResult
    public func waitFor(_ conn: String, _ kind: String, timeout: Duration = .seconds(20)) async throws -> Event {
        var found: Event?
        try await eventually(timeout: timeout, "\(conn): \(kind)") {
            // The event asked for, or one that means it will not come.
            found = events(conn).first { $0.kind == kind || ["error", "refused", "closed"].contains($0.kind) }
            return found != nil
        }
        return found!
    }

    static let script = #"""
import asyncio, json, sys
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus, ConnectionClosed

conns, gates = {}, {}

def out(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()

async def read(name, ws):
    try:
        while True:
            await gates[name].wait()
            msg = await ws.recv()
            try:
                data = json.loads(msg)
            except Exception:
                data = msg
            out({"conn": name, "event": "message", "data": data})
    except ConnectionClosed:
        pass
    out({"conn": name, "event": "closed", "code": ws.close_code, "reason": ws.close_reason})

async def open_conn(cmd):
    name = cmd["conn"]
    try:
        ws = await connect(cmd["url"], additional_headers=cmd.get("headers") or {}, max_queue=cmd.get("max_queue", 4096),
                           ping_interval=None, open_timeout=20)
    except InvalidStatus as e:
        out({"conn": name, "event": "refused", "status": e.response.status_code,
             "body": e.response.body.decode("utf-8", "replace") if e.response.body else ""})
        return
    except Exception as e:
        out({"conn": name, "event": "error", "error": repr(e)})
        return
    conns[name] = ws
    gates[name] = asyncio.Event()
    gates[name].set()
    out({"conn": name, "event": "open"})
    asyncio.ensure_future(read(name, ws))

async def main():
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = await reader.readline()
        if not line:
            break
        cmd = json.loads(line)
        op, name = cmd["op"], cmd.get("conn")
        if op == "open":
            await open_conn(cmd)
        elif name not in conns:
            out({"conn": name, "event": "error", "error": "no such connection"})
        elif op == "send":
            await conns[name].send(cmd["text"])
        elif op == "pause":
            gates[name].clear()
        elif op == "resume":
            gates[name].set()
        elif op == "close":
            await conns[name].close()

asyncio.run(main())
"""#
}
