import FlukeModels
import Foundation

extension KubernetesExecutor {
    /// Runs a hook as a batch/v1 Job (the release's image, `/bin/sh -c command`, `backoffLimit: 0`),
    /// hands its pod's output to `log`, and deletes it afterwards (propagation `Background`).
    /// A failed Job is `.validation` before the rollout (`pre_build`, `pre_deploy`) and `.hook` after.
    public func runHook(_ phase: String, command: String, release: ReleaseInput, log: DeployLog) async throws {
        let failureKind: DeployFailure.Kind = phase == "post_deploy" ? .hook : .validation
        guard let image = release.image ?? release.spec.image, Self.isValidImageReference(image) else {
            throw DeployFailure(failureKind, "the \(phase) hook runs in the app's image, and there is no valid one")
        }
        let base = Self.objectName(tenantID: release.tenantID, app: release.app)
        let suffix = UUID().uuidString.lowercased().prefix(8)
        // Job names end up in the `job-name` label of its pods, which holds 63 characters at most.
        var prefix = String(base.prefix(42))
        while prefix.hasSuffix("-") { prefix.removeLast() }
        let name = "\(prefix)-\(phase.replacingOccurrences(of: "_", with: "-").prefix(11))-\(suffix)"
        let job = Self.job(release, image: image, name: name, phase: phase, command: command,
                           timeout: release.spec.deployTimeout)
        try await applySecret(release)
        try await client.send(.POST, jobsPath(), json: job)
        await log.info("\(phase) hook started as job \(name)", Self.hookEvent(phase))
        let outcome: JobOutcome
        do {
            outcome = try await waitForJob(name, timeout: release.spec.deployTimeout)
        } catch {
            await cleanUp { try await deleteJob(name) }
            throw error
        }
        await copyOutput(jobName: name, log: log)
        await cleanUp { try await deleteJob(name) }
        switch outcome {
        case .succeeded:
            await log.info("\(phase) hook succeeded", Self.hookEvent(phase))
        case .failed(let why):
            await log.error("\(phase) hook failed: \(why)", Self.hookEvent(phase))
            throw DeployFailure(failureKind, "\(phase) hook failed: \(why)")
        }
    }

    enum JobOutcome: Equatable {
        case succeeded
        case failed(String)
    }

    /// Polls the Job until `status.succeeded` or a `Failed` condition.
    func waitForJob(_ name: String, timeout: Int) async throws -> JobOutcome {
        let deadline = ContinuousClock.now + .seconds(max(1, timeout)) + .seconds(30)
        while true {
            let job = try await client.get(KubeJob.self, jobsPath(name))
            let status = job.status ?? .init()
            if (status.succeeded ?? 0) > 0 { return .succeeded }
            if let failed = status.conditions?.first(where: { $0.type == "Failed" && $0.status == "True" }) {
                return .failed([failed.reason, failed.message].compactMap { $0 }.joined(separator: ": "))
            }
            guard ContinuousClock.now < deadline else {
                return .failed("job \(name) did not finish in \(timeout) s")
            }
            try await Task.sleep(for: poll)
        }
    }

    /// The Job's pod output, line by line, as hook output. Best effort: a log that cannot be read
    /// does not change the hook's outcome.
    func copyOutput(jobName: String, log: DeployLog) async {
        guard let pods = try? await client.get(KubeList<KubePod>.self, podsPath(selector: ["job-name": jobName])) else {
            return
        }
        for pod in pods.items {
            guard let podName = pod.metadata.name else { continue }
            try? await client.streamLines("/api/v1/namespaces/\(namespace)/pods/\(podName)/log") { line in
                await log.output(line, "stdout")
            }
        }
    }

    func deleteJob(_ name: String) async throws {
        try await client.send(.DELETE, jobsPath(name) + "?propagationPolicy=Background", accept: [200, 202, 404])
    }

    static func hookEvent(_ phase: String) -> FlukeModels.UnifiedLogEntry.EventKind? {
        switch phase {
        case "pre_build": return .preBuild
        case "pre_deploy": return .preDeploy
        case "post_deploy": return .postDeploy
        default: return nil
        }
    }
}
