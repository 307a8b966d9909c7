import FlukeNATS
import FlukePostgres
import Foundation
import Hummingbird
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Logging
import Synchronization

/// The wrapper side of `make bench`; bench/run.sh puts its figures beside the bare baselines.
///
///   fleet-bench nats-publish URL COUNT SUBJECT BATCH   publish through NATSClient; msgs/s
///   fleet-bench pg-select URL CLIENTS SECONDS          pgbench -S's query through the pool; queries/s
///   fleet-bench verify URL TOKEN CONCURRENCY SECONDS   fluke.rpc.identity.verify, closed loop; verifications/s
///   fleet-bench verify-paced URL TOKEN RATE SECONDS    the same at a fixed rate; "rate p50_ms p99_ms"
///   fleet-bench hummingbird PORT FILE                  a bare Hummingbird server answering GET /file
///                                                      with FILE's bytes: the framework's own ceiling
///   fleet-bench memory-sync NATS_URL CONTEXT_URL TOKEN COUNT RATE
///                                                      memory writes to their memory.synced events; "p50_ms p99_ms received"
///   fleet-bench webhook-receiver PORT                  answers POST /hook/{name}; GET /stats: "count first_ns last_ns p50_ms p99_ms"
///   fleet-bench webhook-publish NATS_URL TENANT PROJECT COUNT RATE
///                                                      task.updated events into JetStream (RATE 0: unpaced)
///   fleet-bench webhook-bare URL COUNT CONCURRENCY CONNECTIONS
///                                                      POSTs through a bare AsyncHTTPClient; requests/s
///   fleet-bench logs-publish NATS_URL TENANT PROJECT COUNT RATE TAG [COPYFILE]
///                                                      UnifiedLogEntry JSON onto FLUKE_LOGS' subjects (RATE 0: all at
///                                                      once, and their COPY rows to COPYFILE); "first_seq last_seq"
///   fleet-bench logs-rows COUNT DAYS TENANT:PROJECT[,…] PART PARTS
///                                                      logs.entries rows in COPY text format, to stdout
///   fleet-bench ws-clients URL COUNT EXPECTED SECONDS [NATS_URL]
///                                                      live-tail clients; entries' publish → receipt latency
///   fleet-bench ws-broadcaster PORT NATS_URL           a bare NIOWebSocket broadcaster of fluke.logs.>
let args = CommandLine.arguments
var logger = Logger(label: "bench")
logger.logLevel = .warning

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data((message + "\n").utf8))
    exit(2)
}

/// Publishes `count` 32-byte messages, one call each or `batch` per call, then flushes.
/// A nonisolated function: top-level code runs on the main actor, and each call from there
/// would hop executors twice, which is the benchmark's cost, not the client's.
func publishLoop(_ nats: NATSClient, subject: String, count: Int, batch: Int) async throws -> Duration {
    let payload = Data("0123456789abcdef0123456789abcdef".utf8)
    let start = ContinuousClock.now
    if batch <= 1 {
        for _ in 0..<count { try await nats.publish(subject, payload: payload) }
    } else {
        let messages = Array(repeating: NATSMessage(subject: subject, payload: payload), count: batch)
        for _ in 0..<(count / batch) { try await nats.publish(batch: messages) }
    }
    try await nats.flush(timeout: .seconds(30))
    return ContinuousClock.now - start
}

/// pgbench -S's query from `clients` concurrent tasks for `seconds`; returns queries and time.
func selectLoop(_ db: PostgresClient, accounts: Int, clients: Int, seconds: Int) async throws -> (Int, Duration) {
    let deadline = ContinuousClock.now + .seconds(seconds)
    let start = ContinuousClock.now
    let total = try await withThrowingTaskGroup(of: Int.self) { group in
        for _ in 0..<clients {
            group.addTask {
                var n = 0
                while ContinuousClock.now < deadline {
                    let aid = Int.random(in: 1...accounts)
                    _ = try await db.query("SELECT abalance FROM pgbench_accounts WHERE aid = \(aid)")
                    n += 1
                }
                return n
            }
        }
        return try await group.reduce(0, +)
    }
    return (total, ContinuousClock.now - start)
}

/// Verifies `token` from `concurrency` tasks for `seconds`, each waiting for its reply.
func verifyLoop(_ nats: NATSClient, token: String, concurrency: Int, seconds: Int) async throws -> (Int, Duration) {
    let payload = Data(#"{"token":"\#(token)"}"#.utf8)
    let deadline = ContinuousClock.now + .seconds(seconds)
    let start = ContinuousClock.now
    let total = try await withThrowingTaskGroup(of: Int.self) { group in
        for _ in 0..<concurrency {
            group.addTask {
                var n = 0
                while ContinuousClock.now < deadline {
                    let reply = try await nats.request("fluke.rpc.identity.verify", payload: payload)
                    guard reply.payload.starts(with: Data(#"{"#.utf8)), String(decoding: reply.payload, as: UTF8.self).contains(#""valid":true"#) else {
                        fail("unexpected reply: \(String(decoding: reply.payload, as: UTF8.self))")
                    }
                    n += 1
                }
                return n
            }
        }
        return try await group.reduce(0, +)
    }
    return (total, ContinuousClock.now - start)
}

/// Sends verifications at `rate` per second (open loop: a slow reply does not slow the sender)
/// and returns every latency.
func verifyPaced(_ nats: NATSClient, token: String, rate: Int, seconds: Int) async throws -> ([Double], Duration) {
    let payload = Data(#"{"token":"\#(token)"}"#.utf8)
    final class Latencies: Sendable { let values = Mutex<[Double]>([]) }
    let latencies = Latencies()
    let tick = Duration.milliseconds(1)
    let perTick = max(1, rate / 1000)
    let start = ContinuousClock.now
    try await withThrowingTaskGroup(of: Void.self) { group in
        var next = ContinuousClock.now
        let end = next + .seconds(seconds)
        while next < end {
            for _ in 0..<perTick {
                group.addTask {
                    let t0 = ContinuousClock.now
                    _ = try await nats.request("fluke.rpc.identity.verify", payload: payload)
                    let d = ContinuousClock.now - t0
                    let ms = Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
                    latencies.values.withLock { $0.append(ms) }
                }
            }
            next += tick
            try await Task.sleep(until: next, clock: .continuous)
        }
        try await group.waitForAll()
    }
    return (latencies.values.withLock { $0 }, ContinuousClock.now - start)
}

func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }

/// Writes `count` memories at `rate` per second and times each from the request to its
/// `memory.synced` event arriving on core NATS.
func memorySync(_ nats: NATSClient, contextURL: String, token: String, count: Int, rate: Int) async throws -> ([Double], Int) {
    final class Times: Sendable { let sent = Mutex<[String: ContinuousClock.Instant]>([:]); let lat = Mutex<[Double]>([]) }
    let times = Times()
    let sub = try nats.subscribe("fluke.events.memory.synced") { view in
        let now = ContinuousClock.now
        guard let object = try? JSONSerialization.jsonObject(with: Data(view.payload)) as? [String: Any],
              let data = object["data"] as? [String: Any], let external = data["external_id"] as? String,
              let start = times.sent.withLock({ $0.removeValue(forKey: external) }) else { return }
        let d = now - start
        times.lat.withLock { $0.append(Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15) }
    }
    let url = URL(string: contextURL + "/api/v1/flukebase_connect/memories")!
    try await withThrowingTaskGroup(of: Void.self) { group in
        for i in 0..<count {
            group.addTask {
                let external = UUID().uuidString.lowercased()
                var request = URLRequest(url: url)
                request.httpMethod = "POST"
                request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
                request.setValue("application/json", forHTTPHeaderField: "Content-Type")
                request.httpBody = try JSONSerialization.data(withJSONObject: [
                    "external_id": external, "memory_type": "fact", "content": "bench memory \(i)"])
                times.sent.withLock { $0[external] = .now }
                let (_, response) = try await URLSession.shared.data(for: request)
                guard (response as? HTTPURLResponse)?.statusCode == 201 else { fail("memory write failed: \(response)") }
            }
            try await Task.sleep(for: .microseconds(1_000_000 / rate))
        }
        try await group.waitForAll()
    }
    try await Task.sleep(for: .seconds(2))
    sub.cancel()
    return (times.lat.withLock { $0 }, times.lat.withLock { $0.count })
}

switch args.count > 1 ? args[1] : "" {
case "hummingbird":
    guard args.count == 4, let port = Int(args[2]) else { fail("usage: hummingbird PORT FILE") }
    let body = ByteBuffer(bytes: try Data(contentsOf: URL(fileURLWithPath: args[3])))
    let router = Router()
    router.get("/file") { _, _ in
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: body))
    }
    let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)), logger: logger)
    try await app.runService()
case "webhook-receiver":
    guard args.count == 3, let port = Int(args[2]) else { fail("usage: webhook-receiver PORT") }
    try await runReceiver(port: port, logger: logger)
case "webhook-publish":
    guard args.count == 7, let count = Int(args[5]), let rate = Int(args[6]) else {
        fail("usage: webhook-publish NATS_URL TENANT PROJECT COUNT RATE")
    }
    let nats = try await NATSClient.connect(.init(url: args[2], name: "bench", sendAsap: true), logger: logger)
    try await publishEvents(nats, tenant: args[3], project: args[4], count: count, rate: rate)
    await nats.shutdown()
case "webhook-bare":
    guard args.count == 6, let count = Int(args[3]), let concurrency = Int(args[4]), let connections = Int(args[5]) else {
        fail("usage: webhook-bare URL COUNT CONCURRENCY CONNECTIONS")
    }
    print(String(format: "%.0f", try await bareWebhookPosts(url: args[2], count: count, concurrency: concurrency,
                                                           perHostConnections: connections)))
case "memory-sync":
    guard args.count == 7, let count = Int(args[5]), let rate = Int(args[6]) else {
        fail("usage: memory-sync NATS_URL CONTEXT_URL TOKEN COUNT RATE")
    }
    let nats = try await NATSClient.connect(.init(url: args[2], name: "bench", sendAsap: true), logger: logger)
    let (latencies, received) = try await memorySync(nats, contextURL: args[3], token: args[4], count: count, rate: rate)
    let sorted = latencies.sorted()
    guard !sorted.isEmpty else { fail("no memory.synced event arrived") }
    func pct(_ p: Double) -> Double { sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] }
    print(String(format: "%.2f %.2f %d", pct(0.5), pct(0.99), received))
    await nats.shutdown()
case "logs-publish":
    guard (8...9).contains(args.count), let count = Int(args[5]), let rate = Int(args[6]) else {
        fail("usage: logs-publish NATS_URL TENANT PROJECT COUNT RATE TAG [COPYFILE]")
    }
    let nats = try await NATSClient.connect(.init(url: args[2], name: "bench", sendAsap: rate > 0), logger: logger)
    try await publishLogEntries(nats, tenant: args[3].lowercased(), project: args[4].lowercased(), count: count, rate: rate,
                                tag: args[7], copyFile: args.count == 9 ? args[8] : nil)
    await nats.shutdown()
case "logs-rows":
    guard args.count == 7, let count = Int(args[2]), let days = Int(args[3]), let part = Int(args[5]), let parts = Int(args[6]) else {
        fail("usage: logs-rows COUNT DAYS TENANT:PROJECT[,…] PART PARTS")
    }
    let tenants = args[4].split(separator: ",").map { pair in
        let halves = pair.split(separator: ":")
        return (tenant: String(halves[0]).lowercased(), project: String(halves[1]).lowercased())
    }
    writeLogRows(count: count, days: days, tenants: tenants, part: part, parts: parts)
case "ws-clients":
    guard (6...7).contains(args.count), let count = Int(args[3]), let expected = Int(args[4]), let secs = Int(args[5]) else {
        fail("usage: ws-clients URL COUNT EXPECTED SECONDS [NATS_URL]")
    }
    try await runTailClients(url: args[2], count: count, expected: expected, seconds: secs,
                             probeURL: args.count == 7 ? args[6] : nil, logger: logger)
case "ws-broadcaster":
    guard args.count == 4, let port = Int(args[2]) else { fail("usage: ws-broadcaster PORT NATS_URL") }
    try await runBareBroadcaster(port: port, natsURL: args[3], logger: logger)
case "verify":
    guard args.count == 6, let concurrency = Int(args[4]), let secs = Int(args[5]) else { fail("usage: verify URL TOKEN CONCURRENCY SECONDS") }
    let nats = try await NATSClient.connect(.init(url: args[2], name: "bench", sendAsap: true), logger: logger)
    let (total, elapsed) = try await verifyLoop(nats, token: args[3], concurrency: concurrency, seconds: secs)
    print(String(format: "%.0f", Double(total) / seconds(elapsed)))
    await nats.shutdown()
case "verify-paced":
    guard args.count == 6, let rate = Int(args[4]), let secs = Int(args[5]) else { fail("usage: verify-paced URL TOKEN RATE SECONDS") }
    // As every service connects (FleetRuntime): sendAsap.
    let nats = try await NATSClient.connect(.init(url: args[2], name: "bench", sendAsap: true), logger: logger)
    let (latencies, elapsed) = try await verifyPaced(nats, token: args[3], rate: rate, seconds: secs)
    let sorted = latencies.sorted()
    func pct(_ p: Double) -> Double { sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] }
    print(String(format: "%.0f %.3f %.3f", Double(sorted.count) / seconds(elapsed), pct(0.5), pct(0.99)))
    await nats.shutdown()
case "nats-publish":
    guard args.count == 6, let count = Int(args[3]), let batch = Int(args[5]) else { fail("usage: nats-publish URL COUNT SUBJECT BATCH") }
    let nats = try await NATSClient.connect(.init(url: args[2], name: "bench"), logger: logger)
    let elapsed = try await publishLoop(nats, subject: args[4], count: count, batch: batch)
    print(String(format: "%.0f", Double(count) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)))
    await nats.shutdown()
case "pg-select":
    guard args.count == 5, let clients = Int(args[3]), let seconds = Int(args[4]) else { fail("usage: pg-select URL CLIENTS SECONDS") }
    let db = PostgresClient(configuration: .init(url: args[2], applicationName: "bench", maxConnections: clients), logger: logger)
    let accounts = try await db.query("SELECT count(*) FROM pgbench_accounts").first!.decode(Int.self, at: 0)
    let (total, elapsed) = try await selectLoop(db, accounts: accounts, clients: clients, seconds: seconds)
    print(String(format: "%.0f", Double(total) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)))
    await db.shutdown()
default:
    fail("usage: fleet-bench nats-publish|pg-select|verify|verify-paced …")
}
