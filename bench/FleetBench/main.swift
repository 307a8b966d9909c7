import FlukeNATS
import FlukePostgres
import Foundation
import Logging

/// The wrapper side of `make bench`; bench/run.sh puts its figures beside the bare baselines.
///
///   fleet-bench nats-publish URL COUNT SUBJECT BATCH   publish through NATSClient; msgs/s
///   fleet-bench pg-select URL CLIENTS SECONDS          pgbench -S's query through the pool; queries/s
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

switch args.count > 1 ? args[1] : "" {
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
    fail("usage: fleet-bench nats-publish|pg-select …")
}
