import FlukeModels
import FlukeTestSupport
import Foundation
import Hummingbird
import HummingbirdTesting
import Synchronization

/// A local Kubernetes API server for the executor's tests: Deployments, Services, Jobs and Pods
/// in memory with their real JSON shapes and `Status` errors, the three PATCH content types,
/// and a controller on a timer that moves Deployments toward their spec (one pod per tick, as a
/// `maxSurge: 1` rollout does) and runs Jobs.
///
/// Secrets take `stringData` and keep it as base64 `data`, as the API server does.
///
/// Tests steer it: images in `badImages` never become available (the Deployment reaches
/// `ProgressDeadlineExceeded`), images in `crashingImages` crash-loop, commands containing a string in `failingCommands` fail their Job,
/// `observationLag` ticks pass before the controller notices a new generation.
final class FakeKubernetesAPI: Sendable {
    struct Recorded: Sendable {
        var method: String
        var path: String
        var query: String
        var contentType: String?
        var authorization: String?
        var body: JSONValue?
    }

    struct Settings: Sendable {
        var token: String?
        var badImages: Set<String> = []
        /// Images whose container exits at once: pods in `CrashLoopBackOff`, never ready.
        var crashingImages: Set<String> = []
        var failingCommands: Set<String> = []
        var observationLag = 0
        var namespaces: Set<String> = ["default", "fluke"]
    }

    struct State: Sendable {
        var resourceVersion = 100
        var deployments: [String: JSONValue] = [:]
        var services: [String: JSONValue] = [:]
        var secrets: [String: JSONValue] = [:]
        var jobs: [String: JSONValue] = [:]
        var pods: [String: JSONValue] = [:]
        /// Which Deployment or Job owns a pod, and the template hash it was made from.
        var owners: [String: (owner: String, hash: String)] = [:]
        var logs: [String: [(Date, String)]] = [:]
        /// Ticks left before the controller observes a Deployment's new generation.
        var lag: [String: Int] = [:]
        var requests: [Recorded] = []
        var podCounter = 0
    }

    let settings: Mutex<Settings>
    let state = Mutex(State())
    let tick: Duration

    init(_ settings: Settings = .init(), tick: Duration = .milliseconds(20)) {
        self.settings = Mutex(settings)
        self.tick = tick
    }

    var requests: [Recorded] { state.withLock { $0.requests } }

    func deployment(_ name: String, namespace: String = "fluke") -> JSONValue? {
        state.withLock { $0.deployments["\(namespace)/\(name)"] }
    }

    func service(_ name: String, namespace: String = "fluke") -> JSONValue? {
        state.withLock { $0.services["\(namespace)/\(name)"] }
    }

    /// A Secret's `data`, decoded from base64.
    func secretData(_ name: String, namespace: String = "fluke") -> [String: String]? {
        guard let secret = state.withLock({ $0.secrets["\(namespace)/\(name)"] }) else { return nil }
        return FakeKube.strings(secret["data"]).compactMapValues { Data(base64Encoded: $0).map { String(decoding: $0, as: UTF8.self) } }
    }

    var secretNames: [String] { state.withLock { $0.secrets.keys.sorted() } }
    var deploymentNames: [String] { state.withLock { $0.deployments.keys.sorted() } }
    var jobNames: [String] { state.withLock { $0.jobs.keys.sorted() } }
    var podNames: [String] { state.withLock { $0.pods.keys.sorted() } }

    /// The images the pods of a Deployment run now.
    func podImages(of deployment: String, namespace: String = "fluke") -> [String] {
        state.withLock { state in
            state.owners.filter { $0.value.owner == "deployments/\(namespace)/\(deployment)" }.keys.sorted()
                .compactMap { FakeKube.get(state.pods[$0], ["spec", "containers"]).flatMap(Self.firstImage) }
        }
    }

    static func firstImage(_ containers: JSONValue) -> String? {
        if case .array(let items) = containers { return items.first?["image"]?.stringValue }
        return nil
    }

    /// Runs the server and its controller while `body` runs; `body` gets the base URL.
    func run<T: Sendable>(_ body: @escaping @Sendable (String) async throws -> T) async throws -> T {
        let responder = CallbackResponder<BasicRequestContext> { request, _ in
            try await self.respond(to: request)
        }
        let app = Application(responder: responder,
                              configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              logger: TestEnvironment.logger)
        return try await app.test(.live) { client in
            try await withThrowingTaskGroup(of: T?.self) { group in
                group.addTask {
                    while !Task.isCancelled {
                        try await Task.sleep(for: self.tick)
                        self.runController()
                    }
                    return nil
                }
                group.addTask { try await body("http://127.0.0.1:\(client.port!)") }
                defer { group.cancelAll() }
                while let result = try await group.next() {
                    if let result { return result }
                }
                throw CancellationError()
            }
        }
    }

    private func respond(to request: Request) async throws -> Response {
        let data = Data(buffer: try await request.body.collect(upTo: 4 << 20))
        let recorded = Recorded(method: request.method.rawValue, path: request.uri.path, query: request.uri.query ?? "",
                                contentType: request.headers[.contentType], authorization: request.headers[.authorization],
                                body: data.isEmpty ? nil : FakeKube.decode(data))
        state.withLock { $0.requests.append(recorded) }
        if let token = settings.withLock({ $0.token }), recorded.authorization != "Bearer \(token)" {
            return Self.reply(Self.status(401, "Unauthorized", "Unauthorized"))
        }
        var query: [String: String] = [:]
        for (key, value) in request.uri.queryParameters { query[String(key)] = String(value) }
        let answer = handle(recorded, query: query, body: data)
        return Self.reply(answer)
    }

    typealias Answer = (status: Int, body: Data, contentType: String)

    static func reply(_ answer: Answer) -> Response {
        Response(status: .init(code: answer.status), headers: [.contentType: answer.contentType],
                 body: .init(byteBuffer: ByteBuffer(data: answer.body)))
    }

    static func json(_ status: Int, _ value: JSONValue) -> Answer {
        (status, FakeKube.encode(value), "application/json")
    }

    /// A `meta/v1` Status, as the API server answers every failure.
    static func status(_ code: Int, _ reason: String, _ message: String) -> Answer {
        json(code, FakeKube.value(["kind": "Status", "apiVersion": "v1", "metadata": [String: Any](), "status": "Failure",
                                   "message": message, "reason": reason, "code": code]))
    }
}
