import AsyncHTTPClient
import FlukeModels
import FlukeNATS
import Foundation
import Hummingbird
import Logging
import NIOCore
import Synchronization

/// Wall-clock nanoseconds: the publisher and the receiver are separate processes on one machine.
func wallNanoseconds() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
}

/// What the receiver has taken in since its last reset.
struct ReceiverStats: Sendable {
    var count = 0
    var firstNs: Int64 = 0
    var lastNs: Int64 = 0
    /// Event → receipt, for bodies that carry `"sent_ns"`.
    var latenciesMs: [Double] = []
}

/// The `"sent_ns":` number (a string: JSON numbers lose nanoseconds) in a body, if any (found by bytes: the receiver must stay cheap).
func sentNanoseconds(_ buffer: ByteBuffer) -> Int64? {
    let key = Array(#""sent_ns":"#.utf8)
    let bytes = buffer.readableBytesView
    guard bytes.count > key.count else { return nil }
    var i = bytes.startIndex
    while i <= bytes.endIndex - key.count {
        if bytes[i] == key[0], bytes[i..<(i + key.count)].elementsEqual(key) {
            var j = i + key.count
            if j < bytes.endIndex, bytes[j] == UInt8(ascii: "\"") { j += 1 }
            var value: Int64 = 0
            while j < bytes.endIndex, bytes[j] >= 48, bytes[j] <= 57 {
                value = value * 10 + Int64(bytes[j] - 48)
                j += 1
            }
            return value
        }
        i += 1
    }
    return nil
}

/// A webhook receiver that answers 200 to every `POST /hook/{name}`; `GET /stats` says
/// "count first_ns last_ns p50_ms p99_ms", `DELETE /stats` starts again.
func runReceiver(port: Int, logger: Logger) async throws {
    let stats = Mutex(ReceiverStats())
    let router = Router()
    router.post("/hook/{name}") { request, _ -> Response in
        let body = try await request.body.collect(upTo: 1 << 20)
        let now = wallNanoseconds()
        let sent = sentNanoseconds(body)
        stats.withLock { s in
            if s.count == 0 { s.firstNs = now }
            s.count += 1
            s.lastNs = now
            if let sent { s.latenciesMs.append(Double(now - sent) / 1e6) }
        }
        return Response(status: .ok)
    }
    router.get("/stats") { _, _ -> String in
        let s = stats.withLock { $0 }
        let sorted = s.latenciesMs.sorted()
        func pct(_ p: Double) -> Double { sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] }
        return "\(s.count) \(s.firstNs) \(s.lastNs) \(String(format: "%.2f %.2f", pct(0.5), pct(0.99)))\n"
    }
    router.delete("/stats") { _, _ -> HTTPResponse.Status in
        stats.withLock { $0 = ReceiverStats() }
        return .noContent
    }
    let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)), logger: logger)
    try await app.runService()
}

/// Publishes `count` `task.updated` events of one tenant's project into JetStream, at `rate`
/// per second (0: as fast as the acknowledgements come), each carrying its send time.
func publishEvents(_ nats: NATSClient, tenant: String, project: String, count: Int, rate: Int) async throws {
    let encoder = CloudEvent.encoder()
    func one(_ i: Int) async throws {
        let event = CloudEvent(source: "bench", type: EventType(rawValue: "task.updated"), tenantID: tenant, projectID: project,
                               data: .object(["n": .number(Double(i)), "sent_ns": .string(String(wallNanoseconds()))]))
        _ = try await nats.jetStreamPublish(event.subject, payload: try encoder.encode(event), messageID: event.id)
    }
    if rate <= 0 {
        // A few publishes in flight: one at a time would measure the round trip, not the stream.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for lane in 0..<8 {
                group.addTask { for i in stride(from: lane, to: count, by: 8) { try await one(i) } }
            }
            try await group.waitForAll()
        }
        return
    }
    // Open loop: a slow acknowledgement does not delay the next event.
    try await withThrowingTaskGroup(of: Void.self) { group in
        var next = ContinuousClock.now
        let interval = Duration.nanoseconds(1_000_000_000 / Int64(rate))
        for i in 0..<count {
            try await Task.sleep(until: next, clock: .continuous)
            group.addTask { try await one(i) }
            next += interval
        }
        try await group.waitForAll()
    }
}

/// The floor for webhook delivery: POSTs of a webhook-sized, webhook-headed body to `url`
/// from `concurrency` tasks through one AsyncHTTPClient, nothing else. Returns requests/s.
func bareWebhookPosts(url: String, count: Int, concurrency: Int, perHostConnections: Int) async throws -> Double {
    var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow, decompression: .disabled)
    configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = perHostConnections
    let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    let project = UUID().uuidString.lowercased()
    final class Counter: Sendable { let value = Atomic<Int>(0) }
    let next = Counter()
    let start = ContinuousClock.now
    try await withThrowingTaskGroup(of: Void.self) { group in
        for _ in 0..<concurrency {
            group.addTask {
                while true {
                    let i = next.value.add(1, ordering: .relaxed).oldValue
                    guard i < count else { return }
                    let id = UUID().uuidString.lowercased()
                    let body = #"{"data":{"n":\#(i),"project_id":"\#(project)"},"timestamp":"2026-11-22T07:00:00.000Z","type":"task.updated"}"#
                    var request = HTTPClientRequest(url: url)
                    request.method = .POST
                    request.headers.add(name: "content-type", value: "application/json")
                    request.headers.add(name: "user-agent", value: "FlukeBase-Webhooks/1.0")
                    request.headers.add(name: "webhook-id", value: id)
                    request.headers.add(name: "webhook-timestamp", value: String(Int(Date().timeIntervalSince1970)))
                    request.headers.add(name: "webhook-signature", value: "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=")
                    request.body = .bytes(ByteBuffer(string: body))
                    let response = try await client.execute(request, timeout: .seconds(15))
                    guard response.status == .ok else { fail("receiver answered \(response.status)") }
                    for try await _ in response.body {}
                }
            }
        }
        try await group.waitForAll()
    }
    let elapsed = ContinuousClock.now - start
    try await client.shutdown()
    return Double(count) / seconds(elapsed)
}
