import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Synchronization

/// One request a receiver got.
public struct Received: Sendable {
    public var path: String
    public var headers: [String: String]
    public var body: Data
    public var at: ContinuousClock.Instant
}

/// A local webhook receiver: records every request and answers what `answer` says.
public final class Receiver: Sendable {
    private let log = Mutex<[Received]>([])
    /// Requests being answered now, and the most there ever were at once.
    private let concurrency = Mutex<(now: Int, most: Int)>((0, 0))
    public let answer: @Sendable (Received, Int) -> (status: HTTPResponse.Status, headers: HTTPFields)
    /// How long each answer takes.
    public let delay: Duration

    public init(delay: Duration = .zero,
         answer: @escaping @Sendable (Received, Int) -> (status: HTTPResponse.Status, headers: HTTPFields) = { _, _ in (.ok, [:]) }) {
        self.delay = delay
        self.answer = answer
    }

    public var received: [Received] { log.withLock { $0 } }
    public var mostAtOnce: Int { concurrency.withLock { $0.most } }

    /// Runs the receiver on a free port while `body` runs; `body` gets its base URL.
    public func run<T: Sendable>(_ body: @escaping @Sendable (String) async throws -> T) async throws -> T {
        let router = Router()
        router.post("/{path}") { request, _ -> Response in
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName] = field.value }
            let data = Data(buffer: try await request.body.collect(upTo: 1 << 20))
            let r = Received(path: request.uri.path, headers: headers, body: data, at: .now)
            let n = self.log.withLock { l in l.append(r); return l.count }
            if self.delay > .zero {
                self.concurrency.withLock { c in c.now += 1; c.most = max(c.most, c.now) }
                try? await Task.sleep(for: self.delay)
                self.concurrency.withLock { $0.now -= 1 }
            }
            let (status, extra) = self.answer(r, n)
            return Response(status: status, headers: extra, body: .init(byteBuffer: ByteBuffer(string: "answer \(n)")))
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              logger: TestEnvironment.logger)
        return try await app.test(.live) { client in try await body("http://127.0.0.1:\(client.port!)") }
    }
}
