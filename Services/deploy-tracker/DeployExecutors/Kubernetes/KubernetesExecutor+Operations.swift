import FlukeModels
import Foundation

extension KubernetesExecutor {
    /// The Deployment serving the app now: the stable one of the slot its Service selects.
    func liveDeploymentName(tenantID: UUID, app: String) async throws -> String {
        let base = Self.objectName(tenantID: tenantID, app: app)
        return Self.deploymentName(base: base, slot: try await liveSlot(base: base))
    }

    /// Sets `spec.replicas` of the live Deployment and waits until that many are available.
    public func scale(tenantID: UUID, app: String, replicas: Int, log: DeployLog) async throws {
        let name = try await liveDeploymentName(tenantID: tenantID, app: app)
        try await client.patch(deploymentsPath(name), ["spec": ["replicas": max(0, replicas)]], type: .strategicMerge)
        await log.info("deployment \(name) scaled to \(replicas) replicas", .scaleEvent)
        try await waitForRollout(name, timeout: Self.operationTimeout, log: log)
    }

    /// Replaces every pod the way `kubectl rollout restart` does: a new
    /// `kubectl.kubernetes.io/restartedAt` annotation on the pod template.
    public func restart(tenantID: UUID, app: String, log: DeployLog) async throws {
        let name = try await liveDeploymentName(tenantID: tenantID, app: app)
        let patch = ["spec": ["template": ["metadata": ["annotations": [Label.restartedAt: RFC3339.format(Date())]]]]]
        try await client.patch(deploymentsPath(name), patch, type: .strategicMerge)
        await log.info("deployment \(name) restarting", .configChange)
        try await waitForRollout(name, timeout: Self.operationTimeout, log: log)
    }

    /// Seconds a scale or restart may take before it counts as failed.
    static let operationTimeout = 600

    /// Deletes the app's Deployments (stable, canary, both slots), its Service and its environment Secrets.
    public func remove(tenantID: UUID, app: String) async throws {
        let labels = Self.appLabels(tenantID: tenantID, app: app)
        let list = try await client.get(KubeList<KubeDeploymentState>.self,
                                        deploymentsPath() + "?labelSelector=\(Self.selector(labels))")
        for name in list.items.compactMap(\.metadata.name) {
            try await deleteDeployment(name)
        }
        let base = Self.objectName(tenantID: tenantID, app: app)
        try await client.send(.DELETE, servicesPath(base), accept: [200, 202, 404])
        try await deleteSecrets(tenantID: tenantID, app: app)
    }

    /// Every pod of the app, whatever its Deployment.
    public func replicas(tenantID: UUID, app: String) async throws -> [ReplicaStatus] {
        let pods = try await client.get(KubeList<KubePod>.self, podsPath(selector: Self.appLabels(tenantID: tenantID, app: app)))
        return pods.items.filter { $0.metadata.labels?[Label.hook] == nil }.map(Self.replicaStatus)
            .sorted { $0.id < $1.id }
    }

    /// A pod's state: phase and container readiness, with waiting reasons that mean it will
    /// not come up on its own counted as crashed.
    static func replicaStatus(_ pod: KubePod) -> ReplicaStatus {
        let containers = pod.status?.containerStatuses ?? []
        let restarts = containers.reduce(0) { $0 + $1.restartCount }
        let stuck: Set = ["CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "InvalidImageName",
                          "CreateContainerConfigError"]
        let state: ReplicaStatus.State
        if pod.metadata.deletionTimestamp != nil {
            state = .stopped
        } else if containers.contains(where: { $0.state?.waiting?.reason.map(stuck.contains) == true }) {
            state = .crashed
        } else {
            switch pod.status?.phase {
            case "Running":
                state = !containers.isEmpty && containers.allSatisfy(\.ready) ? .healthy : .running
            case "Succeeded": state = .stopped
            case "Failed": state = .crashed
            default: state = .starting
            }
        }
        return ReplicaStatus(id: pod.metadata.name ?? "", state: state, version: pod.metadata.labels?[Label.version],
                             address: pod.status?.podIP, restarts: restarts)
    }

    /// `http://<service>.<namespace>.svc.cluster.local:<port>`, when the app's Service exists.
    public func url(tenantID: UUID, app: String) async -> String? {
        let base = Self.objectName(tenantID: tenantID, app: app)
        guard let service = try? await client.get(KubeService.self, servicesPath(base)),
              let port = service.spec.ports?.first?.port else { return nil }
        return "http://\(base).\(namespace).svc.cluster.local:\(port)"
    }

    /// The image reference, the API server's reachability (`GET /version`), the namespace, and
    /// the spec's numbers; nothing is created.
    public func validate(_ release: ReleaseInput) async -> [ValidationCheck] {
        var checks: [ValidationCheck] = []
        if let image = release.image ?? release.spec.image {
            let ok = Self.isValidImageReference(image)
            checks.append(.init(name: "image", ok: ok, detail: ok ? image : "\(image) is not a valid image reference"))
        } else {
            checks.append(.init(name: "image", ok: false, detail: "a kubernetes app needs an image"))
        }
        checks.append(await reachability())
        checks.append(await namespaceCheck())
        let spec = release.spec
        var problems: [String] = []
        if spec.replicas < 0 { problems.append("replicas must be 0 or more") }
        if let port = spec.port, !(1...65535).contains(port) { problems.append("port must be 1–65535") }
        if spec.deployTimeout < 1 { problems.append("deploy_timeout must be at least 1 s") }
        if spec.strategy.canarySteps.contains(where: { !(1...100).contains($0) }) {
            problems.append("canary steps must be percentages from 1 to 100")
        }
        checks.append(.init(name: "spec", ok: problems.isEmpty,
                            detail: problems.isEmpty ? "ok" : problems.joined(separator: "; ")))
        return checks
    }

    private func reachability() async -> ValidationCheck {
        do {
            let reply = try await client.send(.GET, "/version")
            let version = (try? JSONDecoder().decode([String: String].self, from: reply.body))?["gitVersion"]
            return .init(name: "kubernetes_api", ok: true, detail: "reachable" + (version.map { ", \($0)" } ?? ""))
        } catch {
            return .init(name: "kubernetes_api", ok: false, detail: "\(error)")
        }
    }

    private func namespaceCheck() async -> ValidationCheck {
        do {
            let reply = try await client.send(.GET, "/api/v1/namespaces/\(namespace)", accept: [200, 403, 404])
            switch reply.status {
            case 200: return .init(name: "namespace", ok: true, detail: "\(namespace) exists")
            // A service account limited to its namespace may not read namespaces at all.
            case 403: return .init(name: "namespace", ok: true, detail: "\(namespace) not readable; assumed present")
            default: return .init(name: "namespace", ok: false, detail: "namespace \(namespace) does not exist")
            }
        } catch {
            return .init(name: "namespace", ok: false, detail: "\(error)")
        }
    }
}
