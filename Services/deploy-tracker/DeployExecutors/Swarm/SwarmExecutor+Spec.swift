import Foundation

extension SwarmExecutor {
    /// The port an app listens on when its spec names none (it is then not published).
    static let defaultPort = 8080

    /// The whole `ServiceSpec` of a release: the Engine's update takes a full spec, not a patch.
    func serviceSpec(_ release: ReleaseInput, image: String, forceUpdate: UInt64? = nil) -> DockerEngine.ServiceSpec {
        let spec = release.spec
        let labels = Self.labels(tenantID: release.tenantID, app: release.app, version: release.versionName)
        let port = spec.port ?? Self.defaultPort
        var environment = release.environment
        environment["PORT"] = String(port)
        let container = DockerEngine.ContainerSpec(
            image: image, labels: labels, command: nil,
            env: environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" })
        let template = DockerEngine.TaskSpec(
            containerSpec: container,
            restartPolicy: .init(condition: "any", delay: Duration.seconds(5).nanosecondsValue, maxAttempts: 0,
                                 window: 0),
            networks: configuration.network.map { [.init(target: $0)] },
            forceUpdate: forceUpdate)
        let endpoint = spec.port.map { port in
            DockerEngine.EndpointSpec(mode: "vip", ports: [
                .init(protocol: "tcp", targetPort: port, publishedPort: nil, publishMode: "ingress"),
            ])
        }
        return DockerEngine.ServiceSpec(
            name: Self.serviceName(tenantID: release.tenantID, app: release.app), labels: labels,
            taskTemplate: template, mode: .init(replicated: .init(replicas: UInt64(max(0, spec.replicas)))),
            updateConfig: Self.updateConfig(for: spec), rollbackConfig: Self.rollbackConfig(for: spec),
            endpointSpec: endpoint)
    }

    /// How the Engine replaces tasks for the app's strategy. Every strategy starts new tasks
    /// before stopping old ones (`start-first`: apps here mount no volumes) and watches each
    /// batch for one health check interval (`Monitor`).
    ///
    /// - rolling: `max_surge` tasks at once (default 1), rolling back on a failure;
    /// - blue_green: every task at once (`Parallelism` 0): the new set starts beside the old one;
    /// - canary: one task at a time, `pause` seconds apart, *pausing* on a failure (see the
    ///   type's documentation: swarm has no traffic weights).
    static func updateConfig(for spec: AppSpec) -> DockerEngine.UpdateConfig {
        let monitor = Duration.seconds(max(1, spec.healthCheck.interval)).nanosecondsValue
        switch spec.strategy.type {
        case .rolling:
            return .init(parallelism: UInt64(max(1, spec.strategy.maxSurge ?? 1)), delay: 0, failureAction: "rollback",
                         monitor: monitor, maxFailureRatio: 0, order: "start-first")
        case .blueGreen:
            return .init(parallelism: 0, delay: 0, failureAction: "rollback", monitor: monitor, maxFailureRatio: 0,
                         order: "start-first")
        case .canary:
            let pause = Duration.seconds(max(0, spec.strategy.pause ?? spec.healthCheck.interval)).nanosecondsValue
            return .init(parallelism: 1, delay: pause, failureAction: "pause", monitor: monitor, maxFailureRatio: 0,
                         order: "start-first")
        }
    }

    /// How the Engine restores the previous spec: all tasks at once, the quickest way back.
    static func rollbackConfig(for spec: AppSpec) -> DockerEngine.UpdateConfig {
        .init(parallelism: 0, delay: 0, failureAction: "pause",
              monitor: Duration.seconds(max(1, spec.healthCheck.interval)).nanosecondsValue,
              maxFailureRatio: 0, order: "start-first")
    }
}

extension DockerEngine.TaskSpec {
    /// Whether a task created from `self` runs `target`: the same image (the Engine may pin it
    /// to a digest), release label and force-update counter. Any rollout changes one of them.
    func runs(_ target: DockerEngine.TaskSpec) -> Bool {
        let image = containerSpec.image, wanted = target.containerSpec.image
        return (image == wanted || image.hasPrefix(wanted + "@"))
            && containerSpec.labels?["fluke.version"] == target.containerSpec.labels?["fluke.version"]
            && (forceUpdate ?? 0) == (target.forceUpdate ?? 0)
    }
}
