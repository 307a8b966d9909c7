@testable import DeployExecutors
import FlukeModels
import Foundation
import Synchronization
import Testing

/// The swarm executor against ``FakeDockerEngine``: rollouts and how they are judged.
@Suite("SwarmExecutorTests: Docker Swarm through the Engine API", .timeLimit(.minutes(5)))
struct SwarmExecutorTests {
    static let tenant = UUID(uuidString: "0b7e55f1-2c3d-4e5f-8a9b-0c1d2e3f4a5b")!
    static let serviceName = "fluke-0b7e55f12c3d-web"

    @Test("create and converge, over tcp and over the unix socket", arguments: [FakeDockerEngine.Listen.tcp, .unixSocket])
    func createAndConverge(listen: FakeDockerEngine.Listen) async throws {
        try await Self.withEngine(listen) { engine, executor in
            let log = SwarmLogRecorder()
            try await executor.deploy(Self.release(1), artifact: .init(reference: "registry.local/web:1"), previous: nil,
                                      log: log.log)
            let service = try #require(engine.service(named: Self.serviceName))
            let spec = service.spec
            #expect(spec["Labels"]?["fluke.tenant_id"]?.stringValue == Self.tenant.uuidString.lowercased())
            #expect(spec["Labels"]?["fluke.app"]?.stringValue == "web")
            #expect(spec["Labels"]?["fluke.version"]?.stringValue == "v1")
            let container = spec["TaskTemplate"]?["ContainerSpec"]
            #expect(container?["Image"]?.stringValue == "registry.local/web:1")
            let env = container?["Env"]?.engineArray?.compactMap(\.stringValue) ?? []
            #expect(env.contains("PORT=8080") && env.contains("API_KEY=s3cret"))
            #expect(spec["Mode"]?["Replicated"]?["Replicas"]?.engineNumber == 2)
            let update = spec["UpdateConfig"]
            #expect(update?["Parallelism"]?.engineNumber == 1 && update?["FailureAction"]?.stringValue == "rollback")
            #expect(update?["Order"]?.stringValue == "start-first" && update?["Monitor"]?.engineNumber == 1e9)
            #expect(spec["EndpointSpec"]?["Ports"]?.engineArray?.first?["TargetPort"]?.engineNumber == 8080)

            let running = engine.tasks(ofService: Self.serviceName).filter { $0.state == "running" }
            #expect(Set(running.compactMap(\.slot)) == [1, 2])
            let replicas = try await executor.replicas(tenantID: Self.tenant, app: "web")
            #expect(replicas.map(\.state) == [.running, .running] && replicas.allSatisfy { $0.version == "v1" })
            let url = try #require(await executor.url(tenantID: Self.tenant, app: "web"))
            #expect(url == "http://127.0.0.1:\(service.publishedPort ?? -1)")
            let steps = log.steps.joined(separator: "\n")
            #expect(steps.contains("converged") && !steps.contains("s3cret"))
        }
    }

    @Test("an update sends Version.Index and re-reads after update out of sequence")
    func updateRetriesOutOfSequence() async throws {
        try await Self.withEngine(.unixSocket) { engine, executor in
            try await executor.deploy(Self.release(1), artifact: .init(reference: "registry.local/web:1"), previous: nil,
                                      log: .discarding)
            engine.injectOutOfSequence()
            let log = SwarmLogRecorder()
            let v2 = Self.release(2, strategy: .init(type: .blueGreen))
            try await executor.deploy(v2, artifact: .init(reference: "registry.local/web:2"), previous: Self.release(1),
                                      log: log.log)
            let updates = engine.requests.filter { $0.hasPrefix("POST /services/") && $0.contains("/update?version=") }
            #expect(updates.count == 2)
            #expect(log.steps.contains { $0.contains("update out of sequence") })
            // The second attempt carries the index read again after the refusal.
            let versions = updates.compactMap { $0.components(separatedBy: "version=").last.flatMap { Int($0) } }
            #expect(versions.count == 2 && versions[1] > versions[0])
            let service = try #require(engine.service(named: Self.serviceName))
            #expect(service.spec["TaskTemplate"]?["ContainerSpec"]?["Image"]?.stringValue == "registry.local/web:2")
            #expect(service.spec["UpdateConfig"]?["Parallelism"]?.engineNumber == 0)
            #expect(service.updateStatus?["State"]?.stringValue == "completed")
            let running = engine.tasks(ofService: Self.serviceName).filter { $0.desiredState == "running" }
            #expect(running.count == 2 && running.allSatisfy {
                $0.state == "running" && $0.spec["ContainerSpec"]?["Image"]?.stringValue == "registry.local/web:2"
            })
        }
    }

    @Test("rollback_started and rollback_completed are failed deploys, though the Engine calls the rollback done",
          arguments: [FakeDockerEngine.Outcome.rollback, .rollbackAtOnce])
    func engineRollbackFails(outcome: FakeDockerEngine.Outcome) async throws {
        try await Self.withEngine(.tcp) { engine, executor in
            try await executor.deploy(Self.release(1), artifact: .init(reference: "registry.local/web:1"), previous: nil,
                                      log: .discarding)
            engine.nextUpdate(outcome)
            let failure = await #expect(throws: DeployFailure.self) {
                try await executor.deploy(Self.release(2), artifact: .init(reference: "registry.local/web:2"),
                                          previous: Self.release(1), log: .discarding)
            }
            #expect(failure?.kind == .healthCheck)
            #expect(failure?.message.contains(outcome == .rollback ? "rollback_started" : "rollback_completed") == true)
            #expect(failure?.message.contains("update rolled back due to failure") == true)

            // The tracker's own rollback right after: the Engine's rollback, whether still under
            // way or done, is not this change's, and v1 runs.
            try await executor.rollback(to: Self.release(1), artifact: .init(reference: "registry.local/web:1"),
                                        from: Self.release(2), log: .discarding)
            try await Self.waitUntil {
                engine.service(named: Self.serviceName)?.updateStatus?["State"]?.stringValue == "rollback_completed"
            }
            #expect(engine.tasks(ofService: Self.serviceName).filter { $0.desiredState == "running" }.allSatisfy {
                $0.state == "running" && $0.spec["ContainerSpec"]?["Image"]?.stringValue == "registry.local/web:1"
            })
        }
    }

    @Test("a paused update (canary: one task at a time, pausing on failure) fails the deploy")
    func pausedFails() async throws {
        try await Self.withEngine(.tcp) { engine, executor in
            try await executor.deploy(Self.release(1), artifact: .init(reference: "registry.local/web:1"), previous: nil,
                                      log: .discarding)
            engine.nextUpdate(.pause)
            let canary = Self.release(2, strategy: .init(type: .canary, pause: 2))
            let failure = await #expect(throws: DeployFailure.self) {
                try await executor.deploy(canary, artifact: .init(reference: "registry.local/web:2"),
                                          previous: Self.release(1), log: .discarding)
            }
            #expect(failure?.kind == .healthCheck && failure?.message.contains("paused") == true)
            let update = engine.service(named: Self.serviceName)?.spec["UpdateConfig"]
            #expect(update?["Parallelism"]?.engineNumber == 1 && update?["FailureAction"]?.stringValue == "pause")
            #expect(update?["Delay"]?.engineNumber == 2e9)
        }
    }

    @Test("tasks of a bad image that fail on the new spec end as replica_startup")
    func badImageFailsReplicaStartup() async throws {
        try await Self.withEngine(.tcp) { engine, executor in
            try await executor.deploy(Self.release(1), artifact: .init(reference: "registry.local/web:1"), previous: nil,
                                      log: .discarding)
            engine.markBad(image: "registry.local/web:broken")
            let failure = await #expect(throws: DeployFailure.self) {
                try await executor.deploy(Self.release(2), artifact: .init(reference: "registry.local/web:broken"),
                                          previous: Self.release(1), log: .discarding)
            }
            #expect(failure?.kind == .replicaStartup)
            #expect(failure?.message.contains("exits at once") == true)
        }
    }

    @Test("the release already running, deployed again (a tracker resuming after a crash), converges with no update cycle")
    func redeployIsIdempotent() async throws {
        try await Self.withEngine(.tcp) { engine, executor in
            try await executor.deploy(Self.release(1), artifact: .init(reference: "registry.local/web:1"), previous: nil,
                                      log: .discarding)
            let before = Set(engine.tasks(ofService: Self.serviceName).map(\.id))
            try await executor.deploy(Self.release(1), artifact: .init(reference: "registry.local/web:1"), previous: nil,
                                      log: .discarding)
            #expect(engine.requests.filter { $0.contains("/update?version=") }.count == 1)
            #expect(engine.service(named: Self.serviceName)?.updateStatus == nil)
            #expect(Set(engine.tasks(ofService: Self.serviceName).map(\.id)) == before)
        }
    }

    @Test("a rollout past deploy_timeout fails as timeout; a cancelled one stops at once")
    func timeoutAndCancellation() async throws {
        try await Self.withEngine(.tcp) { engine, executor in
            engine.markStuck(image: "registry.local/web:stuck")
            var release = Self.release(1)
            release.spec.deployTimeout = 1
            let failure = await #expect(throws: DeployFailure.self) {
                try await executor.deploy(release, artifact: .init(reference: "registry.local/web:stuck"), previous: nil,
                                          log: .discarding)
            }
            #expect(failure?.kind == .timeout)

            let rollout = Task {
                try await executor.deploy(Self.release(2), artifact: .init(reference: "registry.local/web:stuck"),
                                          previous: nil, log: .discarding)
            }
            try await Self.waitUntil { engine.requests.contains { $0.contains("/update?version=") } }
            rollout.cancel()
            await #expect(throws: CancellationError.self) { try await rollout.value }
        }
    }

    @Test("a rollback to the previous release asks the Engine for rollback=previous; to an older one, deploys it")
    func rollbackUsesPreviousSpec() async throws {
        try await Self.withEngine(.tcp) { engine, executor in
            for version in 1...2 {
                try await executor.deploy(Self.release(version), artifact: .init(reference: "registry.local/web:\(version)"),
                                          previous: nil, log: .discarding)
            }
            try await executor.rollback(to: Self.release(1), artifact: .init(reference: "registry.local/web:1"),
                                        from: Self.release(2), log: .discarding)
            #expect(engine.requests.filter { $0.contains("rollback=previous") }.count == 1)
            var service = try #require(engine.service(named: Self.serviceName))
            #expect(service.spec["Labels"]?["fluke.version"]?.stringValue == "v1")
            #expect(service.updateStatus?["State"]?.stringValue == "rollback_completed")
            #expect(engine.tasks(ofService: Self.serviceName).filter { $0.state == "running" }.allSatisfy {
                $0.spec["ContainerSpec"]?["Image"]?.stringValue == "registry.local/web:1"
            })

            // After v3, the previous spec is v1's: a rollback to v2 rolls v2's kept spec out again.
            try await executor.deploy(Self.release(3), artifact: .init(reference: "registry.local/web:3"), previous: nil,
                                      log: .discarding)
            try await executor.rollback(to: Self.release(2), artifact: .init(reference: "registry.local/web:2"),
                                        from: Self.release(3), log: .discarding)
            #expect(engine.requests.filter { $0.contains("rollback=previous") }.count == 1)
            service = try #require(engine.service(named: Self.serviceName))
            #expect(service.spec["TaskTemplate"]?["ContainerSpec"]?["Image"]?.stringValue == "registry.local/web:2")
            #expect(service.updateStatus?["State"]?.stringValue == "completed")
        }
    }
}

extension SwarmExecutorTests {
    static func release(_ version: Int, app: String = "web", replicas: Int = 2,
                        strategy: AppSpec.Strategy = .init()) -> ReleaseInput {
        let spec = AppSpec(replicas: replicas, port: 8080, env: ["MODE": "test"],
                           healthCheck: .init(path: "/health", interval: 1, timeout: 1, retries: 3, startPeriod: 0),
                           strategy: strategy, deployTimeout: 60, image: "registry.local/\(app):\(version)")
        return ReleaseInput(tenantID: tenant, projectID: UUID(), app: app, version: version, deploymentID: UUID(),
                            spec: spec, environment: ["MODE": "test", "API_KEY": "s3cret"])
    }

    static func withEngine(_ listen: FakeDockerEngine.Listen,
                           _ body: @escaping @Sendable (FakeDockerEngine, SwarmExecutor) async throws -> Void)
        async throws {
        let engine = FakeDockerEngine()
        try await engine.run(listen) { host in
            let executor = try SwarmExecutor(configuration: .init(
                dockerHost: host, apiVersion: "/v1.45", pollInterval: .milliseconds(20),
                verifyPeriod: .milliseconds(100), operationTimeout: .seconds(60)))
            try await body(engine, executor)
        }
    }
}

/// A ``DeployLog`` that keeps what it is given.
final class SwarmLogRecorder: Sendable {
    private let kept = Mutex<(steps: [String], output: [String])>(([], []))
    var steps: [String] { kept.withLock { $0.steps } }
    var output: [String] { kept.withLock { $0.output } }

    var log: DeployLog {
        DeployLog(step: { level, _, message in self.kept.withLock { $0.steps.append("\(level) \(message)") } },
                  output: { line, stream in self.kept.withLock { $0.output.append("\(stream): \(line)") } })
    }
}
