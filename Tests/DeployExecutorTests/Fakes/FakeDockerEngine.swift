import FlukeModels
import FlukeTestSupport
import Logging
import Foundation
import Hummingbird
import NIOCore
import Synchronization

/// A Docker Engine in memory, for the swarm executor's tests: it speaks the Engine API's JSON
/// (PascalCase, `Version.Index`, its error bodies and status codes) and plays the swarm
/// orchestrator on a timer — tasks go new → pending → running (or fail), updates go updating →
/// completed, or roll back or pause when a test says so. Specs are kept as JSON, as sent, so
/// the fake does not share the executor's Codable types.
final class FakeDockerEngine: Sendable {
    struct Service {
        var id: String
        var index: Int
        var createdAt: String
        var updatedAt: String
        var spec: JSONValue
        var previousSpec: JSONValue?
        var updateStatus: JSONValue?
        var publishedPort: Int?
        /// What the update in progress ends with.
        var outcome: Outcome = .complete
        /// A rollback the Engine started itself stays `rollback_started` until a client has
        /// read that state, so that tests see it whatever the machine's load.
        var rollbackStartSeen = true
        var name: String { spec["Name"]?.stringValue ?? id }
        var isJob: Bool { spec["Mode"]?["ReplicatedJob"] != nil }
    }

    enum Outcome: Sendable { case complete, rollback, rollbackAtOnce, pause }

    struct SwarmTask {
        var id: String
        var serviceID: String
        var slot: Int?
        var desiredState: String
        var state: String
        var spec: JSONValue
        var err: String?
        var createdAt: String
        var index: Int
    }

    struct LogLine: Sendable {
        var taskID: String
        var stream: UInt8
        var text: String
    }

    struct State {
        var services: [String: Service] = [:]
        var tasks: [SwarmTask] = []
        var counter = 0
        var badImages: Set<String> = []
        var stuckImages: Set<String> = []
        var pullErrors: [String: String] = [:]
        var missingImages: Set<String> = []
        var outOfSequence = 0
        var nextOutcome: Outcome?
        var failingCommands: [String] = []
        var logs: [String: [LogLine]] = [:]
        var logChunkSize = 0
        var requests: [String] = []
        var swarmState = "active"
        var removed: Set<String> = []
    }

    let state = Mutex(State())
    let apiVersion: String

    init(apiVersion: String = "v1.45") {
        self.apiVersion = apiVersion
    }

    // MARK: What tests arrange

    /// Tasks of this image fail as they start.
    func markBad(image: String) { state.withLock { _ = $0.badImages.insert(image) } }
    /// Tasks of this image stay `pending`, as when no node can take them.
    func markStuck(image: String) { state.withLock { _ = $0.stuckImages.insert(image) } }
    /// Pulls of this image stream an error line.
    func failPull(image: String, message: String) { state.withLock { $0.pullErrors[image] = message } }
    /// Pulls of this image answer 404, as for a repository that does not exist.
    func markMissing(image: String) { state.withLock { _ = $0.missingImages.insert(image) } }
    /// The next service update is rolled back (`rollback_started` → `rollback_completed`) or paused.
    func nextUpdate(_ outcome: Outcome) { state.withLock { $0.nextOutcome = outcome } }
    /// The next update request finds the service changed by someone else: "update out of sequence".
    func injectOutOfSequence(_ times: Int = 1) { state.withLock { $0.outOfSequence += times } }
    /// Jobs whose command contains `text` exit 1.
    func failJobs(containing text: String) { state.withLock { $0.failingCommands.append(text) } }
    /// Log frames are written `size` bytes at a time (0: one write per frame).
    func splitLogWrites(every size: Int) { state.withLock { $0.logChunkSize = size } }
    func setSwarmState(_ value: String) { state.withLock { $0.swarmState = value } }

    /// A line written by the first running task of `service` (or by `task`).
    func appendLog(service name: String, _ text: String, stream: UInt8 = 1) {
        state.withLock { state in
            let taskID = state.services.values.first { $0.name == name }.flatMap { service in
                state.tasks.first { $0.serviceID == service.id && $0.state == "running" }?.id
            } ?? "none"
            state.logs[name, default: []].append(LogLine(taskID: taskID, stream: stream, text: text))
        }
    }

    // MARK: What tests read

    /// Every request, as `METHOD /path?query` without the version prefix.
    var requests: [String] { state.withLock { $0.requests } }
    func service(named name: String) -> Service? { state.withLock { $0.services.values.first { $0.name == name } } }
    func tasks(ofService name: String) -> [SwarmTask] {
        state.withLock { state in
            guard let id = state.services.values.first(where: { $0.name == name })?.id else { return [] }
            return state.tasks.filter { $0.serviceID == id }
        }
    }
    var serviceNames: [String] { state.withLock { $0.services.values.map(\.name).sorted() } }
    var removedServices: Set<String> { state.withLock { $0.removed } }

    // MARK: Running

    enum Listen: Sendable { case tcp, unixSocket }

    /// Serves on a free tcp port or a fresh unix socket while `body` runs; `body` gets the
    /// `DOCKER_HOST` to use.
    func run<T: Sendable>(_ listen: Listen, _ body: @escaping @Sendable (String) async throws -> T) async throws -> T {
        let socket = "/tmp/fake-docker-\(UUID().uuidString.prefix(8)).sock"
        let address: BindAddress = listen == .tcp ? .hostname("127.0.0.1", port: 0) : .unixDomainSocket(path: socket)
        let (started, continuation) = AsyncStream<Int>.makeStream()
        // Stopping the server by cancellation makes HummingbirdCore log errors that say nothing.
        var logger = Logger(label: "FakeDockerEngine")
        logger.logLevel = .critical
        let app = Application(router: routes(), configuration: .init(address: address),
                              onServerRunning: { channel in continuation.yield(channel.localAddress?.port ?? 0) },
                              logger: logger)
        defer { try? FileManager.default.removeItem(atPath: socket) }
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await app.runService(gracefulShutdownSignals: []); return nil }
            group.addTask {
                while !Task.isCancelled {
                    self.tick()
                    try await Task.sleep(for: .milliseconds(20))
                }
                return nil
            }
            var iterator = started.makeAsyncIterator()
            guard let port = await iterator.next() else { throw CancellationError() }
            let host = listen == .tcp ? "tcp://127.0.0.1:\(port)" : "unix://\(socket)"
            defer { group.cancelAll() }
            return try await body(host)
        }
    }

    func nextID(_ state: inout State) -> String {
        state.counter += 1
        return String(format: "%025x", state.counter * 7919)
    }

    func nextIndex(_ state: inout State) -> Int {
        state.counter += 1
        return state.counter
    }

    static func now() -> String { RFC3339.format(Date(), fractionDigits: 6) }
}
