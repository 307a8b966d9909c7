import DeployExecutors
import FlukeModels
import FlukeTestSupport
import Foundation
import Testing

extension KubernetesExecutorTests {
    static let canary = AppSpec.Strategy(type: .canary, steps: [25, 50, 100], pause: 0)

    @Test("canary: a second Deployment grows step by step, then stable takes the template and the canary goes")
    func canarySteps() async throws {
        try await Self.withExecutor { fake, executor in
            try await Self.deploy(executor, Self.release(1, image: "registry.local/shop:1.0", replicas: 3))
            let recorder = KubeLogRecorder()
            try await Self.deploy(executor, Self.release(2, image: "registry.local/shop:2.0", replicas: 3,
                                                         strategy: Self.canary), log: recorder.log)

            #expect(fake.deploymentNames == ["fluke/\(Self.base)"])
            #expect(fake.podImages(of: Self.base) == Array(repeating: "registry.local/shop:2.0", count: 3))
            // 25 % beside 3 stable is 1 canary pod; 50 % is 3.
            let canaryName = "\(Self.base)-canary"
            let created = fake.requests.first { $0.method == "POST" && $0.body?["metadata"]?["name"] == .string(canaryName) }
            #expect(FakeKube.int(created?.body?["spec"]?["replicas"]) == 1)
            #expect(FakeKube.strings(created?.body?["spec"]?["template"]?["metadata"]?["labels"])["fluke.dev/track"] == "canary")
            let grown = fake.requests.first { $0.method == "PATCH" && $0.path.hasSuffix("/\(canaryName)") }
            #expect(FakeKube.int(grown?.body?["spec"]?["replicas"]) == 3)
            #expect(fake.requests.contains { $0.method == "DELETE" && $0.path.hasSuffix("/\(canaryName)") })
            #expect(recorder.all.contains { $0.contains("canary step 25 %") })
            #expect(recorder.all.contains { $0.contains("canary step 50 %") })
        }
    }

    @Test("canary: a failing canary is deleted and stable keeps its template")
    func failingCanary() async throws {
        try await Self.withExecutor(.init(badImages: ["registry.local/shop:broken"])) { fake, executor in
            try await Self.deploy(executor, Self.release(1, image: "registry.local/shop:1.0", replicas: 3))
            let failure = await #expect(throws: DeployFailure.self) {
                try await Self.deploy(executor, Self.release(2, image: "registry.local/shop:broken", replicas: 3,
                                                             strategy: Self.canary))
            }
            #expect(failure?.kind == .healthCheck)
            #expect(fake.deploymentNames == ["fluke/\(Self.base)"])
            let stable = fake.deployment(Self.base)
            #expect(Self.image(stable) == "registry.local/shop:1.0")
            #expect(FakeKube.int(stable?["metadata"]?["generation"]) == 1)
            #expect(fake.podImages(of: Self.base) == Array(repeating: "registry.local/shop:1.0", count: 3))
            #expect(!fake.requests.contains { $0.method == "PATCH" && $0.path.hasSuffix("/deployments/\(Self.base)") })
        }
    }

    @Test("canary: a canary losing a pod during its pause fails the step; the canary goes, stable stays")
    func canaryFailsDuringPause() async throws {
        try await Self.withExecutor { fake, executor in
            try await Self.deploy(executor, Self.release(1, image: "registry.local/shop:1.0", replicas: 3))
            let canaryName = "\(Self.base)-canary"
            // The step is logged once the canary is available, just before its pause: crash it then.
            let log = DeployLog(step: { _, _, message in
                if message.hasPrefix("canary step 25 %") { fake.crashPod(of: canaryName) }
            }, output: { _, _ in })
            let strategy = AppSpec.Strategy(type: .canary, steps: [25, 100], pause: 120)
            let failure = await #expect(throws: DeployFailure.self) {
                try await executor.deploy(Self.release(2, image: "registry.local/shop:2.0", replicas: 3, strategy: strategy),
                                          artifact: Artifact(reference: "registry.local/shop:2.0"), previous: nil, log: log)
            }
            #expect(failure?.kind == .healthCheck && failure?.message.contains("became unhealthy") == true)
            #expect(fake.deploymentNames == ["fluke/\(Self.base)"])
            #expect(fake.podImages(of: Self.base) == Array(repeating: "registry.local/shop:1.0", count: 3))
            #expect(FakeKube.int(fake.deployment(Self.base)?["metadata"]?["generation"]) == 1)
        }
    }

    @Test("a cancelled canary (deploy_timeout, a cancel request) deletes the canary and throws CancellationError")
    func cancelledCanary() async throws {
        try await Self.withExecutor { fake, executor in
            try await Self.deploy(executor, Self.release(1, image: "registry.local/shop:1.0", replicas: 3))
            let strategy = AppSpec.Strategy(type: .canary, steps: [25, 100], pause: 600)
            let recorder = KubeLogRecorder()
            let rollout = Task {
                try await Self.deploy(executor, Self.release(2, image: "registry.local/shop:2.0", replicas: 3,
                                                             strategy: strategy), log: recorder.log)
            }
            try await eventually("the canary's pause") { recorder.all.contains { $0.hasPrefix("canary step 25 %") } }
            #expect(fake.deploymentNames.contains("fluke/\(Self.base)-canary"))
            rollout.cancel()
            await #expect(throws: CancellationError.self) { try await rollout.value }
            #expect(fake.deploymentNames == ["fluke/\(Self.base)"])
            #expect(fake.podImages(of: Self.base) == Array(repeating: "registry.local/shop:1.0", count: 3))
        }
    }

    @Test("a rolling deploy deletes a canary left behind by a tracker that died mid-canary")
    func leftoverCanary() async throws {
        try await Self.withExecutor { fake, executor in
            try await Self.deploy(executor, Self.release(1, image: "registry.local/shop:1.0"))
            let leftover = "\(Self.base)-canary"
            fake.state.withLock { state in
                state.deployments["fluke/\(leftover)"] = FakeKube.value([
                    "metadata": ["name": leftover, "namespace": "fluke", "generation": 1], "spec": ["replicas": 0]])
            }
            try await Self.deploy(executor, Self.release(2, image: "registry.local/shop:2.0"))
            #expect(fake.deploymentNames == ["fluke/\(Self.base)"])
        }
    }

    @Test("blue-green: the idle slot rolls out, then the Service selector switches; the old slot keeps running")
    func blueGreen() async throws {
        try await Self.withExecutor { fake, executor in
            let strategy = AppSpec.Strategy(type: .blueGreen, rollbackWindow: 600)
            try await Self.deploy(executor, Self.release(1, image: "registry.local/shop:1.0", strategy: strategy))
            try await Self.deploy(executor, Self.release(2, image: "registry.local/shop:2.0", strategy: strategy))

            let green = "\(Self.base)-green"
            #expect(fake.podImages(of: green) == ["registry.local/shop:2.0", "registry.local/shop:2.0"])
            #expect(fake.podImages(of: Self.base) == ["registry.local/shop:1.0", "registry.local/shop:1.0"])
            #expect(FakeKube.strings(fake.service(Self.base)?["spec"]?["selector"])["fluke.dev/slot"] == "green")
            let blue = fake.deployment(Self.base)
            #expect(FakeKube.strings(blue?["metadata"]?["annotations"])["fluke.dev/retire-after"] != nil)

            // The next rolling deploy goes to the live (green) slot.
            try await Self.deploy(executor, Self.release(3, image: "registry.local/shop:3.0"))
            #expect(fake.podImages(of: green) == ["registry.local/shop:3.0", "registry.local/shop:3.0"])
            let replicas = try await executor.replicas(tenantID: Self.tenant, app: "shop")
            #expect(replicas.filter { $0.version == "v3" }.count == 2)
        }
    }

    @Test("blue-green: after the rollback window the old slot is scaled to zero, its Deployment kept")
    func blueGreenRetiresOldSlot() async throws {
        try await Self.withExecutor { fake, executor in
            let strategy = AppSpec.Strategy(type: .blueGreen, rollbackWindow: 0)
            try await Self.deploy(executor, Self.release(1, image: "registry.local/shop:1.0", strategy: strategy))
            try await Self.deploy(executor, Self.release(2, image: "registry.local/shop:2.0", strategy: strategy))
            try await eventually("the blue slot scaled to zero") {
                FakeKube.int(fake.deployment(Self.base)?["spec"]?["replicas"]) == 0 && fake.podImages(of: Self.base).isEmpty
            }
            #expect(Self.image(fake.deployment(Self.base)) == "registry.local/shop:1.0")
            #expect(fake.podImages(of: "\(Self.base)-green") == ["registry.local/shop:2.0", "registry.local/shop:2.0"])
        }
    }

    @Test("blue-green: a rollback within the window switches the Service back without touching a Deployment")
    func blueGreenRollback() async throws {
        try await Self.withExecutor { fake, executor in
            let strategy = AppSpec.Strategy(type: .blueGreen, rollbackWindow: 600)
            let first = Self.release(1, image: "registry.local/shop:1.0", strategy: strategy)
            try await Self.deploy(executor, first)
            try await Self.deploy(executor, Self.release(2, image: "registry.local/shop:2.0", strategy: strategy))
            let names = [Self.base, "\(Self.base)-green"]
            let generations = names.map { FakeKube.int(fake.deployment($0)?["metadata"]?["generation"]) }

            try await executor.rollback(to: first, artifact: Artifact(reference: "registry.local/shop:1.0"), from: nil,
                                        log: .discarding)
            #expect(FakeKube.strings(fake.service(Self.base)?["spec"]?["selector"])["fluke.dev/slot"] == "blue")
            #expect(names.map { FakeKube.int(fake.deployment($0)?["metadata"]?["generation"]) } == generations)
            #expect(!fake.requests.contains { $0.contentType == "application/json-patch+json" })
            #expect(FakeKube.strings(fake.deployment("\(Self.base)-green")?["metadata"]?["annotations"])["fluke.dev/retire-after"] != nil)
            #expect(fake.podImages(of: Self.base) == ["registry.local/shop:1.0", "registry.local/shop:1.0"])
        }
    }

    @Test("rollback restores the release's pod template with a JSON Patch of /spec/template, as rollout undo does")
    func rollback() async throws {
        try await Self.withExecutor { fake, executor in
            let first = Self.release(1, image: "registry.local/shop:1.0", env: ["MODE": "one"])
            try await Self.deploy(executor, first)
            try await Self.deploy(executor, Self.release(2, image: "registry.local/shop:2.0", env: ["EXTRA": "x"]))
            #expect(fake.podImages(of: Self.base) == ["registry.local/shop:2.0", "registry.local/shop:2.0"])

            try await executor.rollback(to: first, artifact: Artifact(reference: "registry.local/shop:1.0"), from: nil,
                                        log: .discarding)
            let deployment = fake.deployment(Self.base)
            #expect(Self.image(deployment) == "registry.local/shop:1.0")
            #expect(Self.environment(deployment) == ["PORT": "8080"])
            #expect(Self.secretsReferenced(deployment) == ["\(Self.base)-v1-env"])
            #expect(fake.secretData("\(Self.base)-v1-env") == ["MODE": "one"])
            #expect(fake.secretNames == ["fluke/\(Self.base)-v1-env"])
            #expect(FakeKube.strings(deployment?["spec"]?["template"]?["metadata"]?["labels"])["fluke.dev/version"] == "v1")
            #expect(fake.podImages(of: Self.base) == ["registry.local/shop:1.0", "registry.local/shop:1.0"])
            let undo = fake.requests.last { $0.method == "PATCH" }
            #expect(undo?.contentType == "application/json-patch+json")
            guard case .array(let operations)? = undo?.body else {
                Issue.record("the rollback was not a JSON patch")
                return
            }
            #expect(operations.first?["op"] == .string("replace") && operations.first?["path"] == .string("/spec/template"))
        }
    }
}
