import Foundation

extension SwarmExecutor {
    /// Runs a hook as a swarm job (`ReplicatedJob`, one completion) in the release's image with
    /// the app's environment, copies its output to `log`, and removes the job. A failed or
    /// rejected task fails the hook: `.validation` before the rollout, `.hook` after it.
    public func runHook(_ phase: String, command: String, release: ReleaseInput, log: DeployLog) async throws {
        let kind: DeployFailure.Kind = phase == "post_deploy" ? .hook : .validation
        guard let image = release.image ?? release.spec.image else {
            throw DeployFailure(kind, "\(phase) hook: the release names no image to run it in")
        }
        let spec = jobSpec(phase, command: command, release: release, image: image)
        await log.info("\(phase) hook: running as swarm job \(spec.name)", phase == "post_deploy" ? .postDeploy : .preDeploy)
        try await createJob(spec, kind: kind)
        let outcome: String?
        do {
            outcome = try await waitForJob(spec.name, phase: phase, kind: kind)
            try? await copyOutput(of: spec.name, to: log)
        } catch {
            await removeDetached(spec.name)
            throw error
        }
        await removeDetached(spec.name)
        if let failure = outcome {
            await log.error("\(phase) hook failed: \(failure)")
            throw DeployFailure(kind, "\(phase) hook failed: \(failure)")
        }
        await log.info("\(phase) hook: done")
    }

    func jobSpec(_ phase: String, command: String, release: ReleaseInput, image: String) -> DockerEngine.ServiceSpec {
        let base = Self.serviceName(tenantID: release.tenantID, app: release.app)
        let deployment = release.deploymentID.uuidString.lowercased().prefix(8)
        let name = Self.dnsLabel("\(base)-\(phase.replacingOccurrences(of: "_", with: "-"))-\(deployment)")
        var labels = Self.labels(tenantID: release.tenantID, app: release.app, version: release.versionName)
        labels["fluke.hook"] = phase
        let container = DockerEngine.ContainerSpec(
            image: image, labels: labels, command: ["/bin/sh", "-c", command],
            env: release.environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" })
        return DockerEngine.ServiceSpec(
            name: name, labels: labels,
            taskTemplate: .init(containerSpec: container, restartPolicy: .init(condition: "none"),
                                networks: configuration.network.map { [.init(target: $0)] }),
            mode: .init(replicatedJob: .init(maxConcurrent: 1, totalCompletions: 1)))
    }

    /// A job of the same name is left from an earlier attempt of this deployment (a tracker
    /// killed mid-hook): it is replaced.
    private func createJob(_ spec: DockerEngine.ServiceSpec, kind: DeployFailure.Kind) async throws {
        let body = try DockerEngine.encoder.encode(spec)
        for attempt in 1...2 {
            do {
                try await engine.send(.POST, "/services/create", json: body)
                return
            } catch let error as DockerEngineError where error.isNameConflict && attempt == 1 {
                _ = try? await engine.send(.DELETE, "/services/\(spec.name)")
            } catch let error as DockerEngineError {
                throw DeployFailure(.executor, "creating job \(spec.name): \(error.message)")
            }
        }
    }

    /// Waits for the job's task to end: nil when it completed, else why it failed.
    private func waitForJob(_ name: String, phase: String, kind: DeployFailure.Kind) async throws -> String? {
        let clock = ContinuousClock()
        let deadline = clock.now + configuration.operationTimeout
        while clock.now < deadline {
            let jobTasks = try await engineCall { try await tasks(service: name, desiredRunning: false) }
            if jobTasks.contains(where: { $0.status.state == "complete" }) { return nil }
            if let failed = jobTasks.first(where: \.failed) {
                let exit = failed.status.err ?? failed.status.message ?? failed.status.state
                return "task \(failed.status.state): \(exit)"
            }
            try await Task.sleep(for: configuration.pollInterval)
        }
        throw DeployFailure(kind, "\(phase) hook did not finish within \(configuration.operationTimeout)")
    }

    /// Removes a service even when the calling task is cancelled: a hook's job must not be
    /// left running because its deployment was cancelled.
    func removeDetached(_ name: String) async {
        let engine = engine
        await Task { _ = try? await engine.send(.DELETE, "/services/\(name)") }.value
    }
}
