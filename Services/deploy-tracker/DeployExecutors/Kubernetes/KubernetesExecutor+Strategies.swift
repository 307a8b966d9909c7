import FlukeModels
import Foundation

extension KubernetesExecutor {
    /// Seconds each canary step is watched when the spec names no `pause`.
    static let defaultCanaryPause = 30
    /// Seconds the previous blue-green slot keeps its pods when the spec names no `rollback_window`.
    static let defaultRollbackWindow = 300

    /// Runs the new template as `<name>-canary` beside the untouched stable Deployment, step by
    /// step, then hands it to stable. Any failure deletes the canary; stable is only touched at 100 %.
    func canaryDeploy(_ release: ReleaseInput, image: String, base: String, slot: Slot, log: DeployLog) async throws {
        let stableName = Self.deploymentName(base: base, slot: slot)
        let canaryName = Self.deploymentName(base: base, slot: slot, track: .canary)
        let stable = try await client.get(KubeDeploymentState.self, deploymentsPath(stableName))
        let stableReplicas = max(1, stable.spec.replicas ?? release.spec.replicas)
        let pause = max(0, release.spec.strategy.pause ?? Self.defaultCanaryPause)
        do {
            for percent in release.spec.strategy.canarySteps where percent > 0 && percent < 100 {
                let replicas = Self.canaryReplicas(percent: percent, stable: stableReplicas)
                try await rollingDeploy(release, image: image, name: canaryName, slot: slot, track: .canary,
                                        replicas: replicas, log: log)
                await log.info("canary step \(percent) %: \(replicas) canary beside \(stableReplicas) stable replicas",
                               .healthCheck)
                try await watchCanary(canaryName, seconds: pause)
            }
            try await rollingDeploy(release, image: image, name: stableName, slot: slot, log: log)
        } catch {
            await log.error("canary of \(release.versionName) failed, deleting \(canaryName): \(error)", .deployError)
            await cleanUp { try await deleteDeployment(canaryName) }
            throw error
        }
        try await deleteDeployment(canaryName)
        await log.info("canary \(release.versionName) promoted to \(stableName); \(canaryName) deleted", .deployComplete)
    }

    /// Canary pods beside `stable` untouched stable ones so that their share approximates
    /// `percent`: c / (stable + c) ≈ percent / 100, at least one.
    static func canaryReplicas(percent: Int, stable: Int) -> Int {
        guard percent < 100 else { return stable }
        let exact = Double(stable) * Double(percent) / Double(100 - percent)
        return max(1, Int(exact.rounded()))
    }

    /// Watches a rolled-out canary for `seconds`: losing an available replica or reaching its
    /// progress deadline fails the step.
    func watchCanary(_ name: String, seconds: Int) async throws {
        let end = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < end {
            try await Task.sleep(for: min(poll, end - ContinuousClock.now))
            let state = try await client.get(KubeDeploymentState.self, deploymentsPath(name))
            if case .waiting(let why) = try Self.rolloutProgress(state, name: name) {
                try await failIfPodsCannotStart(state, name: name)
                throw DeployFailure(.healthCheck, "canary \(name) became unhealthy: \(why)")
            }
        }
    }

    /// Rolls the new template out in the idle slot and switches the Service's selector to it once
    /// fully available.
    func blueGreenDeploy(_ release: ReleaseInput, image: String, base: String, live: Slot, log: DeployLog)
        async throws {
        let idle = live.other
        let idleName = Self.deploymentName(base: base, slot: idle)
        do {
            try await rollingDeploy(release, image: image, name: idleName, slot: idle, log: log)
        } catch {
            await cleanUp { try await scaleToZero(idleName) }
            throw error
        }
        try await ensureService(release, base: base, slot: live)
        try await switchService(base: base, from: live, release: release, log: log)
    }

    /// Within a blue-green rollback window the release may still run in the idle slot: switching
    /// the Service back to it is a rollback without a restart. Returns whether it did.
    func switchBackIfIdleServes(_ release: ReleaseInput, base: String, live: Slot, log: DeployLog) async throws -> Bool {
        let idleName = Self.deploymentName(base: base, slot: live.other)
        let reply = try await client.send(.GET, deploymentsPath(idleName), accept: [200, 404])
        guard reply.status == 200 else { return false }
        let idle = try client.decode(KubeDeploymentState.self, from: reply.body)
        guard idle.spec.template?.metadata?.labels?[Label.version] == release.versionName, (idle.spec.replicas ?? 0) > 0,
              (try? Self.rolloutProgress(idle, name: idleName)) == .done else { return false }
        try await switchService(base: base, from: live, release: release, log: log)
        return true
    }

    /// Points the Service at the other slot, and schedules the retirement of the one it leaves
    /// after the rollback window.
    func switchService(base: String, from live: Slot, release: ReleaseInput, log: DeployLog) async throws {
        let idle = live.other
        let liveName = Self.deploymentName(base: base, slot: live)
        let idleName = Self.deploymentName(base: base, slot: idle)
        try await client.patch(servicesPath(base), ["spec": ["selector": [Label.slot: idle.rawValue]]],
                               type: .strategicMerge)
        await log.info("service \(base) switched from \(liveName) to \(idleName) (\(release.versionName))",
                       .deployComplete)

        let window = max(0, release.spec.strategy.rollbackWindow ?? Self.defaultRollbackWindow)
        let retireAfter = RFC3339.format(Date().addingTimeInterval(TimeInterval(window)))
        try await client.patch(deploymentsPath(liveName), ["metadata": ["annotations": [Label.retireAfter: retireAfter]]],
                               type: .strategicMerge)
        await log.info("\(liveName) keeps its pods for \(window) s for a rollback without a restart")
        let executor = self
        Task.detached {
            try? await Task.sleep(for: .seconds(window))
            guard let slot = try? await executor.liveSlot(base: base) else { return }
            try? await executor.retireIdleSlotIfDue(base: base, live: slot)
        }
    }

    /// Scales the idle blue-green slot to zero once its rollback window is over. Run by the
    /// timer set at the switch and again at every deploy, for a tracker restarted meanwhile.
    func retireIdleSlotIfDue(base: String, live: Slot) async throws {
        let idleName = Self.deploymentName(base: base, slot: live.other)
        let reply = try await client.send(.GET, deploymentsPath(idleName), accept: [200, 404])
        guard reply.status == 200 else { return }
        let idle = try client.decode(KubeDeploymentState.self, from: reply.body)
        guard idle.spec.replicas != 0, let text = idle.metadata.annotations?[Label.retireAfter],
              let due = RFC3339.parse(text), due <= Date() else { return }
        try await scaleToZero(idleName)
    }

    func scaleToZero(_ name: String) async throws {
        try await client.patch(deploymentsPath(name), ["spec": ["replicas": 0]], type: .strategicMerge)
    }

    /// Runs clean-up after a failure even when the failure was a cancellation, which would
    /// otherwise cancel the clean-up's own requests too.
    func cleanUp(_ work: @escaping @Sendable () async throws -> Void) async {
        await Task { try? await work() }.value
    }
}
