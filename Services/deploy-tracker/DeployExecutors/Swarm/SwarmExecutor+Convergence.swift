import Foundation

extension SwarmExecutor {
    /// What a convergence watch waits for.
    struct Watch: Sendable {
        /// `rollout`: any `rollback_*` state is a failure. `requestedRollback`: the executor asked
        /// for `rollback=previous`, so `rollback_started` is progress and `rollback_completed`
        /// the end.
        enum Mode: Sendable { case rollout, requestedRollback }

        var service: String
        var target: DockerEngine.TaskSpec
        var replicas: Int
        var mode: Mode = .rollout
        /// The `UpdateStatus` from before this change: until the Engine starts a new update, it
        /// describes an earlier one and is ignored (``isStale(_:before:)``).
        var staleStatus: DockerEngine.UpdateStatus?
        /// Tasks that existed before this change: their failures are not this rollout's.
        var earlierTasks: Set<String> = []
        /// How long the service must stay converged.
        var verify: Duration
        var timeout: Duration
        var what: String
    }

    /// Failed attempts of one slot's task on the new spec after which it is not coming up.
    static let startupAttempts = 3

    /// Snapshot taken before a change, so that the watch ignores what came before it.
    func before(_ service: DockerEngine.Service?) async throws -> (DockerEngine.UpdateStatus?, Set<String>) {
        guard let service else { return (nil, []) }
        let existing = try await engineCall { try await tasks(service: service.spec.name, desiredRunning: false) }
        return (service.updateStatus, Set(existing.map(\.id)))
    }

    /// Waits until the service runs `target` as the docker CLI judges it (`docker service
    /// update --detach=false`): polls the service and its tasks; converged is one running task
    /// per slot, all on the new spec, and it must stay so for `verify`. `paused` and
    /// `rollback_paused` fail; in a rollout, so do `rollback_started` and `rollback_completed`,
    /// although the Engine reports the latter as a success.
    func waitForConvergence(_ watch: Watch, log: DeployLog) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now + watch.timeout
        var convergedSince: ContinuousClock.Instant?
        var reported = -1
        while true {
            guard clock.now < deadline else {
                throw DeployFailure(.timeout, "\(watch.what) did not converge within \(watch.timeout)")
            }
            let (service, running, all) = try await engineCall {
                guard let service = try await inspect(watch.service) else {
                    throw DeployFailure(.executor, "service \(watch.service) disappeared during \(watch.what)")
                }
                return (service, try await tasks(service: watch.service, desiredRunning: true),
                        try await tasks(service: watch.service, desiredRunning: false))
            }
            let failures = all.filter { !watch.earlierTasks.contains($0.id) && $0.failed && $0.spec?.runs(watch.target) == true }
            let status = Self.isStale(service.updateStatus, before: watch.staleStatus) ? nil : service.updateStatus
            try Self.judge(status, failures: failures, watch: watch)
            try Self.checkStartupFailures(failures, watch: watch)

            let onTarget = running.filter { $0.status.state == "running" && $0.spec?.runs(watch.target) == true }
            if onTarget.count != reported {
                reported = onTarget.count
                await log.info("\(watch.what): \(onTarget.count)/\(watch.replicas) tasks running the new spec",
                               .healthCheck)
            }
            let settled = status == nil || status?.known == .completed
                || (watch.mode == .requestedRollback && status?.known == .rollbackCompleted)
            if settled && Self.converged(running: running, target: watch.target, replicas: watch.replicas) {
                let since = convergedSince ?? clock.now
                convergedSince = since
                if clock.now - since >= watch.verify {
                    await log.info("\(watch.what): converged, \(watch.replicas) tasks running", .healthCheck)
                    return
                }
            } else {
                convergedSince = nil
            }
            try await Task.sleep(for: configuration.pollInterval)
        }
    }

    /// Whether `status` still describes the update (or rollback) that was under way or done
    /// before this change: the same one, or the same cycle moved on (`rollback_started` →
    /// `rollback_completed` keeps its `StartedAt`). The Engine keeps the last status for as
    /// long as no new update starts, and a change of replicas alone starts none.
    static func isStale(_ status: DockerEngine.UpdateStatus?, before: DockerEngine.UpdateStatus?) -> Bool {
        guard let status, let before else { return status == nil }
        return status == before || (status.startedAt != nil && status.startedAt == before.startedAt)
    }

    /// One running task per slot `1…replicas`, each on the target spec, and none beyond.
    static func converged(running: [DockerEngine.SwarmTask], target: DockerEngine.TaskSpec, replicas: Int) -> Bool {
        var slots = Set<Int>()
        for task in running {
            guard let slot = task.slot else { continue }
            guard slot <= replicas else { return false }
            if task.status.state == "running", task.spec?.runs(target) == true { slots.insert(slot) }
        }
        return slots.count == replicas
    }

    /// Fails on the states that end a rollout badly, carrying the Engine's message.
    static func judge(_ status: DockerEngine.UpdateStatus?, failures: [DockerEngine.SwarmTask], watch: Watch) throws {
        guard let status else { return }
        let message = status.message ?? ""
        let kind: DeployFailure.Kind = failures.isEmpty ? .healthCheck : .replicaStartup
        switch status.known {
        case .updating, .completed:
            return
        case .paused:
            throw DeployFailure(kind, "\(watch.what): the Engine paused the update: \(message)")
        case .rollbackPaused:
            throw DeployFailure(kind, "\(watch.what): the Engine paused a rollback: \(message)")
        case .rollbackStarted, .rollbackCompleted:
            guard watch.mode == .rollout else { return }
            throw DeployFailure(kind, "\(watch.what): the Engine rolled the update back (\(status.state ?? "")): \(message)")
        case nil:
            throw DeployFailure(.executor, "\(watch.what): unknown update state \(status.state ?? "none"): \(message)")
        }
    }

    /// A slot whose new task failed ``startupAttempts`` times is not coming up.
    static func checkStartupFailures(_ failures: [DockerEngine.SwarmTask], watch: Watch) throws {
        let bySlot = Dictionary(grouping: failures) { $0.slot ?? 0 }
        guard let (slot, failed) = bySlot.first(where: { $0.value.count >= startupAttempts }) else { return }
        let last = failed.last?.status
        throw DeployFailure(.replicaStartup, "\(watch.what): task \(slot) failed \(failed.count) times: "
            + "\(last?.err ?? last?.message ?? last?.state ?? "")")
    }
}
