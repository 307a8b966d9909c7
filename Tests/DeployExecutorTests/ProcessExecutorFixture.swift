@testable import DeployExecutors
import Foundation
import FlukeTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// One process executor on a data directory of its own, with its own nginx and port ranges, and
/// the fixture app (Fixtures/app.py) as the source of every release.
final class ProcessAppFixture: @unchecked Sendable {
    let directory: URL
    let configuration: ProcessExecutor.Configuration
    let executor: ProcessExecutor
    let tenantID = UUID()
    let projectID = UUID()
    let app = "web"
    let source: URL
    let steps = StepLog()

    init(processUser: String? = nil) throws {
        directory = URL(fileURLWithPath: TestEnvironment.workDir)
            .appendingPathComponent("process-exec-" + UUID().uuidString.prefix(8))
        source = directory.appendingPathComponent("source")
        try FileManager.default.createDirectory(at: source, withIntermediateDirectories: true)
        let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/app.py")
        try FileManager.default.copyItem(at: fixture, to: source.appendingPathComponent("app.py"))
        // Below the ephemeral range, a block of its own per fixture (bind-checked anyway).
        let base = 10_000 + Int.random(in: 0..<80) * 250
        configuration = .init(dataDirectory: directory.appendingPathComponent("data"), appPortRange: base...(base + 49),
                              replicaPortRange: (base + 50)...(base + 249), processUser: processUser,
                              stopGrace: .seconds(5))
        executor = try ProcessExecutor(configuration: configuration)
    }

    /// Runs `body` with a fresh fixture, then stops its replicas and nginx whatever happened.
    static func with(processUser: String? = nil, _ body: (ProcessAppFixture) async throws -> Void) async throws {
        let fixture = try ProcessAppFixture(processUser: processUser)
        do {
            try await body(fixture)
        } catch {
            await fixture.shutdown()
            throw error
        }
        await fixture.shutdown()
    }

    private let lock = NSLock()
    private var supervisors: [Task<Void, Never>] = []

    /// Runs `executor`'s supervisor until the fixture shuts down.
    func supervise(_ executor: ProcessExecutor? = nil) {
        let executor = executor ?? self.executor
        let task = Task { await executor.supervise() }
        lock.withLock { supervisors.append(task) }
    }

    func shutdown() async {
        // Supervisors first: one mid-round could otherwise start nginx again after it stopped.
        for task in lock.withLock({ supervisors }) {
            task.cancel()
            await task.value
        }
        try? await executor.remove(tenantID: tenantID, app: app)
        await executor.stopNginx()
        try? FileManager.default.removeItem(at: directory)
    }

    /// The app's spec: `replicas` of the fixture app, quick health checks.
    func spec(replicas: Int = 3, strategy: AppSpec.Strategy = .init(), healthRetries: Int = 3) -> AppSpec {
        AppSpec(replicas: replicas,
                healthCheck: .init(path: "/health", interval: 1, timeout: 2, retries: healthRetries, startPeriod: 2),
                strategy: strategy, deployTimeout: 120,
                buildCommand: "printf 'building %s\\n' \"$RELEASE\"; printf '%s' \"$RELEASE\" > version.txt",
                startCommand: "exec /usr/bin/python3 app.py")
    }

    func release(_ version: Int, spec: AppSpec, mode: String? = nil) -> ReleaseInput {
        var environment = ["RELEASE": "v\(version)"]
        environment["APP_MODE"] = mode
        return ReleaseInput(tenantID: tenantID, projectID: projectID, app: app, version: version,
                            deploymentID: UUID(), spec: spec, environment: environment, sourceDirectory: source)
    }

    /// Builds and rolls out one release, returning its artifact.
    @discardableResult
    func deploy(_ release: ReleaseInput, previous: ReleaseInput? = nil) async throws -> Artifact {
        let artifact = try await executor.build(release, log: steps.log)
        try await executor.deploy(release, artifact: artifact, previous: previous, log: steps.log)
        return artifact
    }

    var url: String {
        get async throws {
            guard let url = await executor.url(tenantID: tenantID, app: app) else { throw TestFailure("the app has no url") }
            return url
        }
    }

    /// What the app's nginx address answers on `/`.
    func served() async throws -> String {
        let reply = try await HTTP.get(try await url + "/", timeout: 5)
        return "\(reply.status) " + String(decoding: reply.body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func replicas() async throws -> [ReplicaStatus] {
        try await executor.replicas(tenantID: tenantID, app: app)
    }

    /// The pid recorded for a replica.
    func pid(of replica: String) throws -> pid_t {
        let file = configuration.dataDirectory.appendingPathComponent(
            "apps/\(tenantID.uuidString.lowercased())/\(app)/replicas/\(replica).json")
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: file)) as? [String: Any]
        guard let pid = json?["pid"] as? Int else { throw TestFailure("no pid in \(file.path)") }
        return pid_t(pid)
    }
}

/// The deployment steps an executor logged.
final class StepLog: @unchecked Sendable {
    private let lock = NSLock()
    private var entries: [String] = []

    var log: DeployLog {
        DeployLog(step: { [self] level, _, message in append("\(level.rawValue): \(message)") },
                  output: { [self] line, _ in append("output: \(line)") })
    }

    var lines: [String] {
        lock.lock()
        defer { lock.unlock() }
        return entries
    }

    private func append(_ line: String) {
        lock.lock()
        entries.append(line)
        lock.unlock()
    }
}
