import Foundation

extension KubernetesExecutor {
    /// Whether a Deployment serves the release everyone gets or the one under trial.
    enum Track: String, Sendable {
        case stable, canary
    }

    /// The two homes a blue-green app alternates between; every other app lives in `blue`.
    enum Slot: String, Sendable {
        case blue, green
        var other: Slot { self == .blue ? .green : .blue }
    }

    static func deploymentName(base: String, slot: Slot, track: Track = .stable) -> String {
        base + (slot == .green ? "-green" : "") + (track == .canary ? "-canary" : "")
    }

    /// The port the app listens on inside its container (`$PORT`). Defaults to `8080`.
    static func containerPort(_ spec: AppSpec) -> Int { spec.port ?? 8080 }

    /// What a Deployment of this slot and track selects; the template adds the version.
    static func deploymentSelector(tenantID: UUID, app: String, slot: Slot, track: Track) -> [String: String] {
        appLabels(tenantID: tenantID, app: app).merging([Label.track: track.rawValue, Label.slot: slot.rawValue]) { $1 }
    }

    /// The release's pod template. `forPatch` adds the strategic-merge directive that replaces
    /// `env` instead of merging it; a JSON Patch (rollback) or a create must not carry it.
    static func podTemplate(_ release: ReleaseInput, image: String, slot: Slot, track: Track,
                            forPatch: Bool) -> KubePodTemplate {
        let spec = release.spec
        let port = containerPort(spec)
        let check = spec.healthCheck
        let container = KubeContainer(
            name: "app", image: image, env: KubeEnvList([.init(name: "PORT", value: String(port))], replaceInPatch: forPatch),
            envFrom: [.init(secretRef: .init(name: secretName(release)))],
            ports: [.init(name: "http", containerPort: port)],
            readinessProbe: .init(httpGet: .init(path: check.path, port: port), initialDelaySeconds: check.startPeriod,
                                  periodSeconds: max(1, check.interval), timeoutSeconds: max(1, check.timeout),
                                  failureThreshold: max(1, check.retries)))
        var labels = deploymentSelector(tenantID: release.tenantID, app: release.app, slot: slot, track: track)
        labels[Label.version] = release.versionName
        return KubePodTemplate(metadata: .init(labels: labels), spec: .init(containers: [container]))
    }

    /// The Secret holding a release's environment: `<name>-v<N>-env`.
    static func secretName(_ release: ReleaseInput) -> String {
        "\(objectName(tenantID: release.tenantID, app: release.app))-\(release.versionName)-env"
    }

    /// The release's environment (`spec.env` with `env_from` merged in) as a Secret. Pods read it
    /// through `envFrom`, so no value appears in a Deployment or Job, which far more accounts may
    /// read than Secrets (the built-in `view` role reads Deployments, not Secrets).
    static func secret(_ release: ReleaseInput) -> KubeSecret {
        var labels = appLabels(tenantID: release.tenantID, app: release.app)
        labels[Label.version] = release.versionName
        return KubeSecret(metadata: .init(name: secretName(release), labels: labels), stringData: release.environment)
    }

    /// The whole Deployment for a create, or (`forPatch`) the strategic-merge patch of an update:
    /// the same shape, without the immutable selector.
    static func deployment(_ release: ReleaseInput, image: String, name: String, slot: Slot, track: Track,
                           replicas: Int, forPatch: Bool) -> KubeDeployment {
        let spec = release.spec
        var surge = max(0, spec.strategy.maxSurge ?? 1)
        let unavailable = max(0, spec.strategy.maxUnavailable ?? 0)
        // Both zero is refused by the API server (422): nothing could ever be replaced.
        if surge == 0 && unavailable == 0 { surge = 1 }
        var labels = deploymentSelector(tenantID: release.tenantID, app: release.app, slot: slot, track: track)
        labels[Label.version] = release.versionName
        let selector = deploymentSelector(tenantID: release.tenantID, app: release.app, slot: slot, track: track)
        return KubeDeployment(
            metadata: .init(name: forPatch ? nil : name, labels: labels),
            spec: .init(replicas: max(0, replicas), selector: forPatch ? nil : .init(matchLabels: selector),
                        template: podTemplate(release, image: image, slot: slot, track: track, forPatch: forPatch),
                        strategy: .init(rollingUpdate: .init(maxSurge: surge, maxUnavailable: unavailable)),
                        progressDeadlineSeconds: max(1, spec.deployTimeout)))
    }

    /// The app's Service: port `port` to the pods' `http` port, selecting the live slot.
    static func service(tenantID: UUID, app: String, name: String, port: Int, slot: Slot) -> KubeService {
        var selector = appLabels(tenantID: tenantID, app: app)
        selector[Label.slot] = slot.rawValue
        return KubeService(metadata: .init(name: name, labels: appLabels(tenantID: tenantID, app: app)),
                           spec: .init(selector: selector, ports: [.init(name: "http", port: port, targetPort: "http")]))
    }

    /// A hook as a Job: the release's image, `/bin/sh -c command`, one attempt.
    static func job(_ release: ReleaseInput, image: String, name: String, phase: String, command: String,
                    timeout: Int) -> KubeJob {
        var labels = appLabels(tenantID: release.tenantID, app: release.app)
        labels[Label.hook] = phase.replacingOccurrences(of: "_", with: "-")
        labels[Label.version] = release.versionName
        let container = KubeContainer(name: "hook", image: image, command: ["/bin/sh", "-c", command],
                                      envFrom: [.init(secretRef: .init(name: secretName(release)))])
        return KubeJob(metadata: .init(name: name, labels: labels),
                       spec: .init(backoffLimit: 0, activeDeadlineSeconds: max(1, timeout), ttlSecondsAfterFinished: 600,
                                   template: .init(metadata: .init(labels: labels),
                                                   spec: .init(containers: [container], restartPolicy: "Never"))))
    }
}
