import DeployExecutors
import FlukeModels
import Foundation
import Synchronization
import Testing

/// The Kubernetes executor against ``FakeKubernetesAPI``: what it sends, and what it concludes
/// from what the (fake) controller reports.
@Suite("KubernetesExecutor: apps/v1 Deployments through a fake API server")
struct KubernetesExecutorTests {
    static let tenant = UUID(uuidString: "8f3c2a1b-4d5e-4f60-9a7b-0c1d2e3f4a5b")!
    static let base = "fluke-8f3c2a1b4d5e-shop"

    static func release(_ version: Int, image: String, replicas: Int = 2, env: [String: String] = [:],
                        strategy: AppSpec.Strategy = .init()) -> ReleaseInput {
        let spec = AppSpec(replicas: replicas, port: 8080, env: env,
                           healthCheck: .init(path: "/healthz", interval: 3, timeout: 2, retries: 4, startPeriod: 7),
                           strategy: strategy, deployTimeout: 120, image: image)
        return ReleaseInput(tenantID: tenant, projectID: UUID(), app: "shop", version: version, deploymentID: UUID(),
                            spec: spec, environment: env)
    }

    /// Runs `body` with a fake API server and an executor pointed at it (namespace `fluke`).
    static func withExecutor<T: Sendable>(_ settings: FakeKubernetesAPI.Settings = .init(),
                                          token: KubernetesExecutor.Configuration.Token = .none,
                                          _ body: @escaping @Sendable (FakeKubernetesAPI, KubernetesExecutor) async throws -> T)
        async throws -> T {
        let fake = FakeKubernetesAPI(settings)
        return try await fake.run { url in
            let executor = try KubernetesExecutor(configuration: .init(apiURL: url, token: token, namespace: "fluke",
                                                                      pollInterval: .milliseconds(20)))
            do {
                let result = try await body(fake, executor)
                try await executor.shutdown()
                return result
            } catch {
                try? await executor.shutdown()
                throw error
            }
        }
    }

    static func deploy(_ executor: KubernetesExecutor, _ release: ReleaseInput, log: DeployLog = .discarding) async throws {
        try await executor.deploy(release, artifact: Artifact(reference: release.spec.image!), previous: nil, log: log)
    }

    /// `env` of the stored Deployment's container, by name.
    static func environment(_ deployment: JSONValue?) -> [String: String] {
        guard case .array(let containers)? = deployment?["spec"]?["template"]?["spec"]?["containers"],
              case .array(let env)? = containers.first?["env"] else { return [:] }
        var result: [String: String] = [:]
        for variable in env { result[variable["name"]?.stringValue ?? "?"] = variable["value"]?.stringValue }
        return result
    }

    /// The Secrets the stored Deployment's container reads with `envFrom`.
    static func secretsReferenced(_ deployment: JSONValue?) -> [String] {
        guard case .array(let containers)? = deployment?["spec"]?["template"]?["spec"]?["containers"],
              case .array(let sources)? = containers.first?["envFrom"] else { return [] }
        return sources.compactMap { $0["secretRef"]?["name"]?.stringValue }
    }

    static func image(_ deployment: JSONValue?) -> String? {
        guard case .array(let containers)? = deployment?["spec"]?["template"]?["spec"]?["containers"] else { return nil }
        return containers.first?["image"]?.stringValue
    }

    @Test("a first deploy creates the Deployment and Service and returns once the rollout is complete")
    func createAndRollout() async throws {
        try await Self.withExecutor { fake, executor in
            let release = Self.release(1, image: "registry.local/shop:1.0", env: ["GREETING": "hi"])
            try await Self.deploy(executor, release)

            let deployment = try #require(fake.deployment(Self.base))
            #expect(FakeKube.int(deployment["status"]?["availableReplicas"]) == 2)
            #expect(fake.podImages(of: Self.base) == ["registry.local/shop:1.0", "registry.local/shop:1.0"])
            // The environment is in a Secret the pods read; the Deployment holds only PORT.
            #expect(Self.environment(deployment) == ["PORT": "8080"])
            #expect(Self.secretsReferenced(deployment) == ["\(Self.base)-v1-env"])
            #expect(fake.secretData("\(Self.base)-v1-env") == ["GREETING": "hi"])
            let labels = FakeKube.strings(deployment["spec"]?["template"]?["metadata"]?["labels"])
            #expect(labels["fluke.dev/tenant"] == Self.tenant.uuidString.lowercased() && labels["fluke.dev/app"] == "shop"
                    && labels["fluke.dev/track"] == "stable" && labels["fluke.dev/version"] == "v1")
            guard case .array(let containers)? = deployment["spec"]?["template"]?["spec"]?["containers"] else {
                Issue.record("no containers")
                return
            }
            let probe = containers.first?["readinessProbe"]
            #expect(probe?["httpGet"]?["path"] == .string("/healthz") && FakeKube.int(probe?["httpGet"]?["port"]) == 8080)
            #expect(FakeKube.int(probe?["periodSeconds"]) == 3 && FakeKube.int(probe?["timeoutSeconds"]) == 2
                    && FakeKube.int(probe?["failureThreshold"]) == 4 && FakeKube.int(probe?["initialDelaySeconds"]) == 7)
            #expect(FakeKube.int(deployment["spec"]?["progressDeadlineSeconds"]) == 120)
            let rolling = deployment["spec"]?["strategy"]?["rollingUpdate"]
            #expect(FakeKube.int(rolling?["maxSurge"]) == 1 && FakeKube.int(rolling?["maxUnavailable"]) == 0)

            let service = try #require(fake.service(Self.base))
            let selector = FakeKube.strings(service["spec"]?["selector"])
            #expect(selector["fluke.dev/app"] == "shop" && selector["fluke.dev/track"] == nil
                    && selector["fluke.dev/version"] == nil)
            #expect(await executor.url(tenantID: Self.tenant, app: "shop")
                    == "http://\(Self.base).fluke.svc.cluster.local:8080")
            let replicas = try await executor.replicas(tenantID: Self.tenant, app: "shop")
            #expect(replicas.count == 2 && replicas.allSatisfy { $0.state == .healthy && $0.version == "v1" })
        }
    }

    @Test("an update is a strategic-merge PATCH and waits for the controller to observe its generation")
    func updateWaitsForObservedGeneration() async throws {
        // The fake's controller notices each new generation 15 ticks late, while the status still
        // shows the old template fully rolled out: only observedGeneration tells them apart.
        try await Self.withExecutor(.init(observationLag: 15)) { fake, executor in
            try await Self.deploy(executor, Self.release(1, image: "registry.local/shop:1.0", env: ["OLD": "1"]))
            try await Self.deploy(executor, Self.release(2, image: "registry.local/shop:2.0", env: ["NEW": "2"]))

            #expect(fake.podImages(of: Self.base) == ["registry.local/shop:2.0", "registry.local/shop:2.0"])
            let deployment = fake.deployment(Self.base)
            #expect(FakeKube.int(deployment?["metadata"]?["generation"]) == 2)
            #expect(FakeKube.int(deployment?["status"]?["observedGeneration"]) == 2)
            // The new release's Secret replaces the old one, which no Deployment uses any more.
            #expect(Self.environment(deployment) == ["PORT": "8080"])
            #expect(Self.secretsReferenced(deployment) == ["\(Self.base)-v2-env"])
            #expect(fake.secretData("\(Self.base)-v2-env") == ["NEW": "2"])
            #expect(fake.secretNames == ["fluke/\(Self.base)-v2-env"])
            let patches = fake.requests.filter { $0.method == "PATCH" && $0.path.hasSuffix("/deployments/\(Self.base)") }
            #expect(patches.count == 1 && patches.first?.contentType == "application/strategic-merge-patch+json")
            #expect(fake.requests.contains { $0.method == "POST" && $0.path == "/apis/apps/v1/namespaces/fluke/deployments" })
        }
    }

    @Test("ProgressDeadlineExceeded fails the deploy as a health-check failure")
    func progressDeadline() async throws {
        try await Self.withExecutor(.init(badImages: ["registry.local/shop:broken"])) { fake, executor in
            try await Self.deploy(executor, Self.release(1, image: "registry.local/shop:1.0"))
            let failure = await #expect(throws: DeployFailure.self) {
                try await Self.deploy(executor, Self.release(2, image: "registry.local/shop:broken"))
            }
            #expect(failure?.kind == .healthCheck)
            #expect(failure?.message.contains("progress deadline") == true)
            let replicas = try await executor.replicas(tenantID: Self.tenant, app: "shop")
            #expect(replicas.contains { $0.state == .crashed && $0.version == "v2" })
        }
    }

    @Test("a new pod in CrashLoopBackOff fails the deploy as a replica startup failure; the old pods keep serving")
    func crashLoop() async throws {
        try await Self.withExecutor(.init(crashingImages: ["registry.local/shop:crash"])) { fake, executor in
            try await Self.deploy(executor, Self.release(1, image: "registry.local/shop:1.0"))
            let failure = await #expect(throws: DeployFailure.self) {
                try await Self.deploy(executor, Self.release(2, image: "registry.local/shop:crash"))
            }
            #expect(failure?.kind == .replicaStartup && failure?.message.contains("CrashLoopBackOff") == true)
            let replicas = try await executor.replicas(tenantID: Self.tenant, app: "shop")
            #expect(replicas.filter { $0.version == "v1" }.map(\.state) == [.healthy, .healthy])
            #expect(replicas.filter { $0.version == "v2" }.map(\.state) == [.crashed])
            #expect(fake.podImages(of: Self.base).filter { $0 == "registry.local/shop:1.0" }.count == 2)
        }
    }

    @Test("build checks the image reference and pulls nothing")
    func build() async throws {
        try await Self.withExecutor { fake, executor in
            let artifact = try await executor.build(Self.release(1, image: "ghcr.io/acme/shop:1.2@sha256:"
                + String(repeating: "ab", count: 32)), log: .discarding)
            #expect(artifact.reference.hasPrefix("ghcr.io/acme/shop:1.2@sha256:"))
            for bad in ["Shop:1", "shop:", "shop::1", "", "a b"] {
                let failure = await #expect(throws: DeployFailure.self) {
                    _ = try await executor.build(Self.release(1, image: bad), log: .discarding)
                }
                #expect(failure?.kind == .build)
            }
            #expect(fake.requests.isEmpty)
        }
    }
}

/// Collects what an executor logs.
final class KubeLogRecorder: Sendable {
    private let lines = Mutex<[String]>([])
    var all: [String] { lines.withLock { $0 } }

    var log: DeployLog {
        DeployLog(step: { _, _, message in self.lines.withLock { $0.append(message) } },
                  output: { line, _ in self.lines.withLock { $0.append("output: \(line)") } })
    }
}
