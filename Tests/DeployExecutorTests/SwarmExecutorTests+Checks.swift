@testable import DeployExecutors
import FlukeModels
import Foundation
import Testing

extension SwarmExecutorTests {
    @Test("build pulls the image: progress lines kept, an error line or a 404 is a build failure")
    func buildPullsImage() async throws {
        try await Self.withEngine(.tcp) { engine, executor in
            let log = SwarmLogRecorder()
            let artifact = try await executor.build(Self.release(1), log: log.log)
            #expect(artifact == Artifact(reference: "registry.local/web:1"))
            #expect(engine.requests.contains("POST /images/create?fromImage=registry.local/web&tag=1"))
            #expect(log.output.contains { $0.contains("Status: Downloaded newer image for registry.local/web:1") })
            #expect(!log.output.contains { $0.contains("512B/1.024kB") })

            engine.failPull(image: "registry.local/web:2", message: "unauthorized: authentication required")
            engine.markMissing(image: "registry.local/web:3")
            for (version, expected) in [(2, "unauthorized"), (3, "pull access denied")] {
                let failure = await #expect(throws: DeployFailure.self) {
                    try await executor.build(Self.release(version), log: .discarding)
                }
                #expect(failure?.kind == .build && failure?.message.contains(expected) == true)
            }
            var invalid = Self.release(4)
            invalid.image = "Registry.local/UPPER:tag"
            let failure = await #expect(throws: DeployFailure.self) { try await executor.build(invalid, log: .discarding) }
            #expect(failure?.kind == .build)
        }
    }

    @Test("private images: X-Registry-Auth goes with the pull, the create and the update, nowhere else")
    func registryAuth() async throws {
        let engine = FakeDockerEngine()
        try await engine.run(.tcp) { host in
            let executor = try SwarmExecutor(configuration: .init(
                dockerHost: host, pollInterval: .milliseconds(20), verifyPeriod: .milliseconds(100),
                registryAuth: "eyJ1c2VybmFtZSI6ImNpIn0"))
            for version in 1...2 {
                let artifact = try await executor.build(Self.release(version), log: .discarding)
                try await executor.deploy(Self.release(version), artifact: artifact, previous: nil, log: .discarding)
            }
            let requests = engine.requests
            let authenticated = requests.filter { $0.hasSuffix(" auth=eyJ1c2VybmFtZSI6ImNpIn0") }
            #expect(authenticated.count == 4, "\(requests)")
            #expect(authenticated.allSatisfy { $0.hasPrefix("POST /images/create") || $0.hasPrefix("POST /services/create")
                || $0.contains("/update?version=") })
        }
    }

    @Test("validate: ping, an active swarm, the image reference, the hooks")
    func validate() async throws {
        try await Self.withEngine(.unixSocket) { engine, executor in
            var release = Self.release(1)
            release.spec.hooks = .init(preDeploy: "./migrate")
            let checks = await executor.validate(release)
            #expect(Set(checks.map(\.name)) == ["executor", "swarm", "image", "spec", "hooks"])
            #expect(checks.allSatisfy { $0.ok }, "\(checks)")

            engine.setSwarmState("inactive")
            release.image = "bad image"
            release.spec.hooks = .init(postDeploy: "  ")
            let failed = await executor.validate(release)
            #expect(Set(failed.filter { !$0.ok }.map(\.name)) == ["swarm", "image", "hooks"])
        }
        let unreachable = try SwarmExecutor(configuration: .init(dockerHost: "unix:///tmp/no-such-docker.sock"))
        let checks = await unreachable.validate(Self.release(1))
        #expect(checks.first { $0.name == "executor" }?.ok == false)
        #expect(checks.contains { $0.name == "swarm" } == false)
        #expect(throws: DeployFailure.self) { try SwarmExecutor(configuration: .init(dockerHost: "ssh://host")) }
    }

    @Test("all six UpdateStatus states: only updating and completed pass a rollout; a requested rollback may roll back")
    func sixStates() throws {
        let watch = SwarmExecutor.Watch(service: "s", target: .init(containerSpec: .init(image: "i")), replicas: 1,
                                        verify: .zero, timeout: .seconds(1), what: "test")
        var rollback = watch
        rollback.mode = .requestedRollback
        func status(_ state: String) -> DockerEngine.UpdateStatus { .init(state: state, message: "engine says \(state)") }
        for state in ["updating", "completed"] {
            try SwarmExecutor.judge(status(state), failures: [], watch: watch)
        }
        for state in ["paused", "rollback_paused", "rollback_started", "rollback_completed"] {
            let failure = #expect(throws: DeployFailure.self) { try SwarmExecutor.judge(status(state), failures: [], watch: watch) }
            #expect(failure?.kind == .healthCheck && failure?.message.contains("engine says \(state)") == true)
        }
        let failedTask = DockerEngine.SwarmTask(id: "t", slot: 1, status: .init(state: "failed", err: "exit 1"))
        let withFailures = #expect(throws: DeployFailure.self) {
            try SwarmExecutor.judge(status("rollback_completed"), failures: [failedTask], watch: watch)
        }
        #expect(withFailures?.kind == .replicaStartup)
        for state in ["rollback_started", "rollback_completed", "updating"] {
            try SwarmExecutor.judge(status(state), failures: [], watch: rollback)
        }
        #expect(throws: DeployFailure.self) { try SwarmExecutor.judge(status("rollback_paused"), failures: [], watch: rollback) }
    }

    @Test("DOCKER_HOST and DOCKER_API_VERSION; only unix:// and tcp:// are engines")
    func configurationFromEnvironment() throws {
        let local = SwarmExecutor.Configuration.fromEnvironment([:])
        #expect(local.dockerHost == "unix:///var/run/docker.sock" && local.apiVersion == "/v1.45")
        #expect(local.pollInterval == .milliseconds(200))
        let remote = SwarmExecutor.Configuration.fromEnvironment(["DOCKER_HOST": "tcp://10.0.0.5:2375",
                                                                  "DOCKER_API_VERSION": "1.44"])
        #expect(remote.dockerHost == "tcp://10.0.0.5:2375" && remote.apiVersion == "/v1.44")
        #expect(try SwarmExecutor(configuration: remote).publicHost == "10.0.0.5")
        let socket = try DockerEngineClient(dockerHost: "unix:///run/user/1000/docker.sock", apiVersion: "/v1.45",
                                            requestTimeout: .seconds(1))
        #expect(socket.baseURL == "http+unix://%2Frun%2Fuser%2F1000%2Fdocker%2Esock/v1.45")
    }

    @Test("service names: unique per tenant, DNS labels of at most 63 characters; image references")
    func namesAndReferences() {
        #expect(SwarmExecutor.serviceName(tenantID: Self.tenant, app: "web") == Self.serviceName)
        let long = String(repeating: "a", count: 63)
        let name = SwarmExecutor.serviceName(tenantID: Self.tenant, app: long)
        #expect(name.count == 63 && name.hasPrefix("fluke-0b7e55f12c3d-aaa"))
        #expect(name != SwarmExecutor.serviceName(tenantID: Self.tenant, app: String(long.dropLast()) + "b"))
        #expect(SwarmExecutor.serviceName(tenantID: UUID(), app: "web") != Self.serviceName)

        #expect(ImageReference("nginx")?.name == "nginx" && ImageReference("nginx")?.pullTag == "latest")
        #expect(ImageReference("localhost:5000/team/app:v1.2")?.name == "localhost:5000/team/app")
        #expect(ImageReference("localhost:5000/team/app:v1.2")?.pullTag == "v1.2")
        let digest = "sha256:" + String(repeating: "0f", count: 32)
        #expect(ImageReference("ghcr.io/org/app@\(digest)")?.pullTag == digest)
        for bad in ["", "UPPER/app", "app:", "app:-x", "a//b", "app@sha256:xyz", "bad image", "-app"] {
            #expect(ImageReference(bad) == nil, "\(bad)")
        }
    }
}
