import DeployExecutors
import FlukeModels
import FlukeTestSupport
import Foundation
import Testing

extension KubernetesExecutorTests {
    @Test("scale patches spec.replicas, restart sets restartedAt and replaces the pods, remove deletes everything")
    func scaleRestartRemove() async throws {
        try await Self.withExecutor { fake, executor in
            try await Self.deploy(executor, Self.release(1, image: "registry.local/shop:1.0", replicas: 1))
            try await executor.scale(tenantID: Self.tenant, app: "shop", replicas: 3, log: .discarding)
            #expect(fake.podImages(of: Self.base).count == 3)
            #expect(FakeKube.int(fake.deployment(Self.base)?["spec"]?["replicas"]) == 3)

            let before = Set(try await executor.replicas(tenantID: Self.tenant, app: "shop").map(\.id))
            try await executor.restart(tenantID: Self.tenant, app: "shop", log: .discarding)
            let annotations = FakeKube.strings(fake.deployment(Self.base)?["spec"]?["template"]?["metadata"]?["annotations"])
            #expect(annotations["kubectl.kubernetes.io/restartedAt"].flatMap(RFC3339.parse) != nil)
            let after = try await executor.replicas(tenantID: Self.tenant, app: "shop")
            #expect(after.count == 3 && before.isDisjoint(with: after.map(\.id)))

            try await executor.remove(tenantID: Self.tenant, app: "shop")
            #expect(fake.deploymentNames.isEmpty && fake.service(Self.base) == nil && fake.podNames.isEmpty
                    && fake.secretNames.isEmpty)
            #expect(await executor.url(tenantID: Self.tenant, app: "shop") == nil)
            #expect(try await executor.replicas(tenantID: Self.tenant, app: "shop").isEmpty)
        }
    }

    @Test("API errors are executor failures carrying the Status reason and message")
    func statusErrors() async throws {
        try await Self.withExecutor { _, executor in
            let failure = await #expect(throws: DeployFailure.self) {
                try await executor.scale(tenantID: Self.tenant, app: "ghost", replicas: 2, log: .discarding)
            }
            #expect(failure?.kind == .executor)
            #expect(failure?.message.contains("404 (NotFound): deployments.apps \"fluke-8f3c2a1b4d5e-ghost\" not found") == true)
        }
        let unreachable = try KubernetesExecutor(configuration: .init(apiURL: "http://127.0.0.1:\(freePort())"))
        let failure = await #expect(throws: DeployFailure.self) {
            _ = try await unreachable.replicas(tenantID: Self.tenant, app: "shop")
        }
        #expect(failure?.kind == .executor && failure?.message.contains("unreachable") == true)
        try await unreachable.shutdown()
        #expect(throws: KubernetesExecutor.ConfigurationError.self) {
            _ = try KubernetesExecutor(configuration: .init(apiURL: "https://k8s.example", caFile: "/nonexistent/ca.crt"))
        }
    }

    @Test("hooks run as Jobs with backoffLimit 0; their output is kept and the Job deleted; failures map by phase")
    func hooks() async throws {
        try await Self.withExecutor(.init(failingCommands: ["./migrate --fail"])) { fake, executor in
            let release = Self.release(1, image: "registry.local/shop:1.0", env: ["DB": "postgres://x"])
            let recorder = KubeLogRecorder()
            try await executor.runHook("pre_deploy", command: "./migrate", release: release, log: recorder.log)
            #expect(recorder.all.contains("output: running: ./migrate"))
            let created = try #require(fake.requests.first { $0.method == "POST" && $0.path.hasSuffix("/jobs") })
            #expect(FakeKube.int(created.body?["spec"]?["backoffLimit"]) == 0)
            #expect(FakeKube.get(created.body, ["spec", "template", "spec", "containers"])?.firstContainerCommand
                    == FakeKube.value(["/bin/sh", "-c", "./migrate"]))
            #expect(FakeKube.get(created.body, ["spec", "template", "spec", "containers"])
                    == FakeKube.value([["name": "hook", "image": "registry.local/shop:1.0",
                                        "command": ["/bin/sh", "-c", "./migrate"],
                                        "envFrom": [["secretRef": ["name": "\(Self.base)-v1-env"]]]]]))
            #expect(fake.secretData("\(Self.base)-v1-env") == ["DB": "postgres://x"])
            #expect(fake.jobNames.isEmpty)
            #expect(fake.requests.contains { $0.method == "DELETE" && $0.path.contains("/jobs/")
                                             && $0.query.contains("propagationPolicy=Background") })

            let before = await #expect(throws: DeployFailure.self) {
                try await executor.runHook("pre_deploy", command: "./migrate --fail", release: release, log: .discarding)
            }
            #expect(before?.kind == .validation && before?.message.contains("BackoffLimitExceeded") == true)
            let after = await #expect(throws: DeployFailure.self) {
                try await executor.runHook("post_deploy", command: "./migrate --fail", release: release, log: .discarding)
            }
            #expect(after?.kind == .hook)
            #expect(fake.jobNames.isEmpty)
        }
    }

    @Test("the bearer token goes with every request; a refused one is an executor failure with the Status message")
    func bearerToken() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kube-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let tokenFile = directory.appendingPathComponent("token").path
        try Data("s3cret\n".utf8).write(to: URL(fileURLWithPath: tokenFile))

        try await Self.withExecutor(.init(token: "s3cret"), token: .file(tokenFile)) { fake, executor in
            try await Self.deploy(executor, Self.release(1, image: "registry.local/shop:1.0"))
            #expect(!fake.requests.isEmpty && fake.requests.allSatisfy { $0.authorization == "Bearer s3cret" })
        }
        try await Self.withExecutor(.init(token: "s3cret"), token: .value("wrong")) { _, executor in
            let failure = await #expect(throws: DeployFailure.self) {
                try await Self.deploy(executor, Self.release(1, image: "registry.local/shop:1.0"))
            }
            #expect(failure?.kind == .executor && failure?.message.contains("Unauthorized") == true)
            let checks = await executor.validate(Self.release(1, image: "registry.local/shop:1.0"))
            #expect(checks.first { $0.name == "kubernetes_api" }?.ok == false)
        }
    }

    @Test("validate reports image, reachability, namespace and spec without creating anything")
    func validate() async throws {
        try await Self.withExecutor { fake, executor in
            let checks = await executor.validate(Self.release(1, image: "registry.local/shop:1.0"))
            #expect(checks.map(\.name) == ["image", "kubernetes_api", "namespace", "spec"])
            #expect(checks.allSatisfy { $0.ok }, "\(checks)")
            let bad = await executor.validate(Self.release(1, image: "Not An Image"))
            #expect(bad.first { $0.name == "image" }?.ok == false)
            #expect(!fake.requests.contains { $0.method != "GET" })
        }
        try await Self.withExecutor(.init(namespaces: ["default"])) { _, executor in
            let checks = await executor.validate(Self.release(1, image: "registry.local/shop:1.0"))
            #expect(checks.first { $0.name == "namespace" }?.ok == false)
        }
    }

    @Test("followLogs reads every pod's log with timestamps")
    func followLogs() async throws {
        try await Self.withExecutor { _, executor in
            try await Self.deploy(executor, Self.release(1, image: "registry.local/shop:1.0"))
            let recorder = KubeLogRecorder()
            try await executor.followLogs(tenantID: Self.tenant, app: "shop", since: nil) { line in
                await recorder.log.output("\(line.replica) \(line.text) \(line.timestamp.timeIntervalSince1970 > 1_000_000_000)",
                                    line.stream)
            }
            let pods = try await executor.replicas(tenantID: Self.tenant, app: "shop").map(\.id)
            #expect(pods.count == 2)
            for pod in pods { #expect(recorder.all.contains("output: \(pod) hello from \(pod) true")) }
        }
    }

    @Test("object names are unique per tenant and leave room for -green-canary within a DNS label")
    func objectNames() {
        #expect(KubernetesExecutor.objectName(tenantID: Self.tenant, app: "shop") == Self.base)
        let other = UUID(uuidString: "00000000-0000-4000-8000-000000000001")!
        #expect(KubernetesExecutor.objectName(tenantID: other, app: "shop") == "fluke-000000000000-shop")
        let long1 = "a" + String(repeating: "b", count: 61) + "1"
        let long2 = "a" + String(repeating: "b", count: 61) + "2"
        let names = [long1, long2].map { KubernetesExecutor.objectName(tenantID: Self.tenant, app: $0) }
        #expect(names[0] != names[1])
        #expect(names.allSatisfy { ($0 + "-green-canary").count <= 63 && !$0.hasSuffix("-") })
    }

    @Test("fromEnvironment: explicit settings, the in-cluster defaults, and nothing at all")
    func fromEnvironment() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sa-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try Data("team-a\n".utf8).write(to: directory.appendingPathComponent("namespace"))
        try Data("pem".utf8).write(to: directory.appendingPathComponent("ca.crt"))

        let explicit = try KubernetesExecutor.Configuration.fromEnvironment(
            ["KUBERNETES_API_URL": "https://k8s.example:6443", "KUBERNETES_TOKEN_FILE": "/etc/kube/token",
             "KUBERNETES_CA_FILE": "/etc/kube/ca.pem", "KUBERNETES_NAMESPACE": "apps"],
            serviceAccountDirectory: directory.path)
        #expect(explicit == .init(apiURL: "https://k8s.example:6443", token: .file("/etc/kube/token"),
                                  caFile: "/etc/kube/ca.pem", namespace: "apps"))

        let inCluster = try KubernetesExecutor.Configuration.fromEnvironment(
            ["KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"],
            serviceAccountDirectory: directory.path)
        #expect(inCluster == .init(apiURL: "https://10.96.0.1:443", token: .file(directory.path + "/token"),
                                   caFile: directory.path + "/ca.crt", namespace: "team-a"))

        let local = try KubernetesExecutor.Configuration.fromEnvironment(
            ["KUBERNETES_API_URL": "http://127.0.0.1:8001", "KUBERNETES_TOKEN_FILE": ""],
            serviceAccountDirectory: directory.path + "/missing")
        #expect(local == .init(apiURL: "http://127.0.0.1:8001", token: .none, caFile: nil, namespace: "default"))

        #expect(throws: KubernetesExecutor.ConfigurationError.self) {
            try KubernetesExecutor.Configuration.fromEnvironment([:], serviceAccountDirectory: directory.path)
        }
        #expect(throws: KubernetesExecutor.ConfigurationError.self) {
            try KubernetesExecutor.Configuration.fromEnvironment(["KUBERNETES_API_URL": "k8s.example"])
        }
        #expect(throws: KubernetesExecutor.ConfigurationError.self) {
            try KubernetesExecutor.Configuration.fromEnvironment(["KUBERNETES_API_URL": "https://k8s.example",
                                                                  "KUBERNETES_NAMESPACE": "Not_Valid"])
        }
    }
}
