import Foundation

extension KubernetesExecutor {
    /// Rolls the release out with its strategy (see ``KubernetesExecutor``): canary and blue-green
    /// need a Deployment serving already, so an app's first deploy is always a plain rollout.
    /// Returns once the rollout is complete as `kubectl rollout status` judges it.
    public func deploy(_ release: ReleaseInput, artifact: Artifact, previous: ReleaseInput?, log: DeployLog)
        async throws {
        let base = Self.objectName(tenantID: release.tenantID, app: release.app)
        let live = try await liveSlot(base: base)
        try await retireIdleSlotIfDue(base: base, live: live)
        try await applySecret(release)
        let stableName = Self.deploymentName(base: base, slot: live)
        let stableExists = try await exists(deploymentsPath(stableName))
        if release.spec.strategy.type != .canary {
            // A canary left by a tracker that died mid-canary would keep serving beside the new release.
            try await deleteDeployment(Self.deploymentName(base: base, slot: live, track: .canary))
        }
        switch release.spec.strategy.type {
        case .canary where stableExists:
            try await canaryDeploy(release, image: artifact.reference, base: base, slot: live, log: log)
        case .blueGreen where stableExists:
            try await blueGreenDeploy(release, image: artifact.reference, base: base, live: live, log: log)
        default:
            try await rollingDeploy(release, image: artifact.reference, name: stableName, slot: live, log: log)
        }
        try await ensureService(release, base: base, slot: live)
        await pruneSecrets(tenantID: release.tenantID, app: release.app, log: log)
    }

    /// Creates or updates one Deployment with the release, then waits for its rollout.
    func rollingDeploy(_ release: ReleaseInput, image: String, name: String, slot: Slot, track: Track = .stable,
                       replicas: Int? = nil, log: DeployLog) async throws {
        let count = replicas ?? release.spec.replicas
        let created = try await apply(release, image: image, name: name, slot: slot, track: track, replicas: count)
        await log.info("\(created ? "created" : "updated") deployment \(name): \(release.versionName), \(image), "
                       + "\(count) replicas", .deployStart)
        try await waitForRollout(name, timeout: release.spec.deployTimeout, log: log)
        await log.info("deployment \(name) rolled out", .healthCheck)
    }

    /// POST, or a strategic-merge PATCH when the Deployment exists (409). Returns whether it was created.
    @discardableResult
    func apply(_ release: ReleaseInput, image: String, name: String, slot: Slot, track: Track, replicas: Int)
        async throws -> Bool {
        let whole = Self.deployment(release, image: image, name: name, slot: slot, track: track, replicas: replicas,
                                    forPatch: false)
        let reply = try await client.send(.POST, deploymentsPath(), json: whole, accept: [200, 201, 409])
        guard reply.status == 409 else { return true }
        let patch = Self.deployment(release, image: image, name: name, slot: slot, track: track, replicas: replicas,
                                    forPatch: true)
        try await client.patch(deploymentsPath(name), patch, type: .strategicMerge)
        return false
    }

    /// Creates the app's Service the first time; after that it is left as it is (its selector
    /// only changes in a blue-green switch).
    func ensureService(_ release: ReleaseInput, base: String, slot: Slot) async throws {
        let service = Self.service(tenantID: release.tenantID, app: release.app, name: base,
                                   port: Self.containerPort(release.spec), slot: slot)
        try await client.send(.POST, servicesPath(), json: service, accept: [200, 201, 409])
    }

    /// The slot the app's Service selects; blue when it has no Service yet.
    func liveSlot(base: String) async throws -> Slot {
        let reply = try await client.send(.GET, servicesPath(base), accept: [200, 404])
        guard reply.status == 200 else { return .blue }
        let service = try client.decode(KubeService.self, from: reply.body)
        return service.spec.selector?[Label.slot].flatMap(Slot.init(rawValue:)) ?? .blue
    }

    func exists(_ path: String) async throws -> Bool {
        try await client.send(.GET, path, accept: [200, 404]).status == 200
    }

    /// Waits until the Deployment's rollout is complete, deciding exactly as
    /// `kubectl rollout status` does (see `rolloutProgress`). Gives up with `.timeout` after
    /// `timeout` seconds plus a minute, in case the controller never reports the deadline.
    func waitForRollout(_ name: String, timeout: Int, log: DeployLog) async throws {
        let deadline = ContinuousClock.now + .seconds(max(1, timeout)) + .seconds(60)
        var lastReport = ""
        while true {
            let state = try await client.get(KubeDeploymentState.self, deploymentsPath(name))
            switch try Self.rolloutProgress(state, name: name) {
            case .done: return
            case .waiting(let why):
                if why != lastReport {
                    await log.info(why, .healthCheck)
                    lastReport = why
                }
                try await failIfPodsCannotStart(state, name: name)
            }
            guard ContinuousClock.now < deadline else {
                throw DeployFailure(.timeout, "deployment \(name) did not finish rolling out in \(timeout) s: \(lastReport)")
            }
            try await Task.sleep(for: poll)
        }
    }

    /// Restarts after which a container in `CrashLoopBackOff` counts as never starting.
    static let crashLoopRestarts = 3
    /// Waiting reasons no amount of waiting cures.
    static let hopelessWaitingReasons: Set = ["InvalidImageName", "ErrImageNeverPull", "CreateContainerConfigError"]

    /// Fails with `.replicaStartup` when a pod with the template's labels keeps crashing or can never
    /// start. kubectl would wait for the progress deadline (600 s by default); failing here lets
    /// the tracker roll back minutes earlier. `ImagePullBackOff` is left to the deadline: a
    /// registry can come back.
    func failIfPodsCannotStart(_ state: KubeDeploymentState, name: String) async throws {
        guard let labels = state.spec.template?.metadata?.labels, !labels.isEmpty else { return }
        let pods = try await client.get(KubeList<KubePod>.self, podsPath(selector: labels))
        for pod in pods.items {
            for container in pod.status?.containerStatuses ?? [] {
                guard let waiting = container.state?.waiting, let reason = waiting.reason else { continue }
                if (reason == "CrashLoopBackOff" && container.restartCount >= Self.crashLoopRestarts)
                    || Self.hopelessWaitingReasons.contains(reason) {
                    throw DeployFailure(.replicaStartup, "pod \(pod.metadata.name ?? "?") of \(name) cannot start: \(reason)"
                                        + " after \(container.restartCount) restarts" + (waiting.message.map { ": \($0)" } ?? ""))
                }
            }
        }
    }

    enum RolloutProgress: Equatable {
        case waiting(String)
        case done
    }

    /// kubectl's `DeploymentStatusViewer.Status`, in its order.
    static func rolloutProgress(_ state: KubeDeploymentState, name: String) throws -> RolloutProgress {
        let status = state.status ?? .init()
        guard state.metadata.generation ?? 0 <= status.observedGeneration ?? 0 else {
            return .waiting("waiting for deployment \(name) spec update to be observed")
        }
        if let progressing = status.conditions?.first(where: { $0.type == "Progressing" }),
           progressing.reason == "ProgressDeadlineExceeded" {
            throw DeployFailure(.healthCheck, "deployment \(name) exceeded its progress deadline"
                                + (progressing.message.map { ": \($0)" } ?? ""))
        }
        let updated = status.updatedReplicas ?? 0
        if let wanted = state.spec.replicas, updated < wanted {
            return .waiting("\(updated) of \(wanted) new replicas of \(name) have been updated")
        }
        if let replicas = status.replicas, replicas > updated {
            return .waiting("\(replicas - updated) old replicas of \(name) are pending termination")
        }
        let available = status.availableReplicas ?? 0
        if available < updated {
            return .waiting("\(available) of \(updated) updated replicas of \(name) are available")
        }
        return .done
    }

    /// Restores the release's pod template the way `kubectl rollout undo` does (a JSON Patch
    /// replacing `/spec/template`), drops a canary left from a failed attempt, and waits. When
    /// the release still runs in the idle blue-green slot (within its rollback window), the
    /// Service is switched back to it instead: nothing restarts.
    public func rollback(to release: ReleaseInput, artifact: Artifact, from current: ReleaseInput?, log: DeployLog)
        async throws {
        let base = Self.objectName(tenantID: release.tenantID, app: release.app)
        let live = try await liveSlot(base: base)
        let name = Self.deploymentName(base: base, slot: live)
        try await deleteDeployment(Self.deploymentName(base: base, slot: live, track: .canary))
        try await applySecret(release)
        if try await switchBackIfIdleServes(release, base: base, live: live, log: log) {
            await pruneSecrets(tenantID: release.tenantID, app: release.app, log: log)
            return
        }
        guard try await exists(deploymentsPath(name)) else {
            try await rollingDeploy(release, image: artifact.reference, name: name, slot: live, log: log)
            try await ensureService(release, base: base, slot: live)
            await pruneSecrets(tenantID: release.tenantID, app: release.app, log: log)
            return
        }
        let template = Self.podTemplate(release, image: artifact.reference, slot: live, track: .stable, forPatch: false)
        try await client.patch(deploymentsPath(name), [KubeJSONPatchOperation(path: "/spec/template", value: template)],
                               type: .json)
        await log.info("deployment \(name): pod template of \(release.versionName) restored (\(artifact.reference))",
                       .deployStart)
        try await waitForRollout(name, timeout: release.spec.deployTimeout, log: log)
        try await ensureService(release, base: base, slot: live)
        await pruneSecrets(tenantID: release.tenantID, app: release.app, log: log)
        await log.info("deployment \(name) rolled back to \(release.versionName)", .deployComplete)
    }

    /// Deletes a Deployment (its pods go in the background); absent is fine.
    func deleteDeployment(_ name: String) async throws {
        try await client.send(.DELETE, deploymentsPath(name) + "?propagationPolicy=Background", accept: [200, 202, 404])
    }
}
