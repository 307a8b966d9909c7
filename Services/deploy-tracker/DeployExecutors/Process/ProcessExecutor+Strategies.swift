import Foundation

/// Rolling, blue-green and canary over a serving app. Each leaves the old set serving when it
/// fails part-way (or is cancelled).
extension ProcessExecutor {
    /// For each old replica a healthy new one takes its place in the upstream (`max_surge` at a
    /// time, one nginx reload each), then the old one stops.
    func rollingUpdate(_ key: AppKey, target: ReleaseRecord, state initial: AppState, strategy: AppSpec.Strategy,
                       log: DeployLog) async throws {
        var state = initial
        let old = await liveServing(key, initial)
        let surge = max(1, strategy.maxSurge ?? 1)
        var remaining = old
        var fresh: [String] = []
        do {
            while fresh.count < target.replicas {
                let batch = min(surge, target.replicas - fresh.count)
                fresh += try await startHealthy(key, target, count: batch, log: log).map(\.id)
                let leaving = fresh.count == target.replicas ? remaining.count : min(batch, remaining.count)
                let dropped = Array(remaining.prefix(leaving))
                // One reload swaps them: nginx's new workers use the healthy new replicas while its
                // old workers finish their requests to the leaving ones, stopped only once those
                // workers are gone (retire).
                try await publish(key, members: (remaining.dropFirst(leaving) + fresh).map { .init(id: $0, weight: 1) },
                                  state: &state)
                remaining.removeFirst(leaving)
                guard !dropped.isEmpty else { continue }
                await retire(key, dropped)
                await log.info("replaced \(dropped.joined(separator: ", ")) with \(target.version) replicas")
            }
            state.release = target
            try await supervisor.setState(key, state)
        } catch {
            let restore = state, stillOld = remaining, started = fresh, missing = old.count - remaining.count
            await uncancelled { [self] in
                await self.restoreOldSet(key, state: restore, old: stillOld, discard: started, missing: missing, log: log)
            }
            throw error
        }
    }

    /// The new set starts beside the old; once all are healthy one reload switches the upstream.
    /// The old set keeps running for `rollback_window` (a rollback within it starts nothing).
    func blueGreen(_ key: AppKey, target: ReleaseRecord, state initial: AppState, strategy: AppSpec.Strategy,
                   log: DeployLog) async throws {
        var state = initial
        if let standby = state.standby {
            await supervisor.stop(key, ids: standby.ids)
            state.standby = nil
        }
        let old = await liveServing(key, initial)
        let started = try await startHealthy(key, target, count: target.replicas, log: log)
        let window = strategy.rollbackWindow ?? 300
        do {
            let previous = state.release
            state.release = target
            state.standby = previous.map { .init(release: $0, ids: old, until: Date().addingTimeInterval(Double(window))) }
            try await publish(key, members: started.map { .init(id: $0.id, weight: 1) }, state: &state)
        } catch {
            let restore = initial
            await uncancelled { [self] in
                await self.restoreOldSet(key, state: restore, old: old, discard: started.map(\.id), missing: 0, log: log)
            }
            throw error
        }
        await log.info("switched to \(target.version); \(initial.release?.version ?? "the old set") kept \(window) s for a rollback")
        if window <= 0 {
            state.standby = nil
            try await supervisor.setState(key, state)
            await retire(key, old)
        }
    }

    /// The new set takes a growing share of the traffic (`steps`), each step watched for `pause`
    /// seconds: its replicas' health and their share of 5xx answers in nginx's access log.
    func canary(_ key: AppKey, target: ReleaseRecord, state initial: AppState, strategy: AppSpec.Strategy,
                log: DeployLog) async throws {
        var state = initial
        let old = await liveServing(key, initial)
        let started = try await startHealthy(key, target, count: target.replicas, log: log)
        var steps = strategy.canarySteps.filter { $0 > 0 && $0 <= 100 }
        if steps.last != 100 { steps.append(100) }
        do {
            for percent in steps {
                let accessLog = NginxAccessLog(path: await nginx.accessLogPath(key))
                let mark = accessLog.end()
                try await publish(key, members: Self.canaryMembers(old: old, new: started.map(\.id), percent: percent),
                                  state: &state)
                await log.info("canary \(target.version) takes \(percent) % of the traffic")
                try await watchCanary(key, started, since: mark, log: accessLog, strategy: strategy,
                                      check: target.healthCheck, deployLog: log)
            }
        } catch {
            let restore = initial
            await uncancelled { [self] in
                await self.restoreOldSet(key, state: restore, old: old, discard: started.map(\.id), missing: 0, log: log)
            }
            if error is DeployFailure { throw DeployFailure(.healthCheck, "\(error)") }
            throw error
        }
        state.release = target
        try await supervisor.setState(key, state)
        await retire(key, old)
    }

    /// Weights giving the new replicas `percent` % of the requests between them.
    static func canaryMembers(old: [String], new: [String], percent: Int) -> [AppState.Member] {
        if percent >= 100 || old.isEmpty { return new.map { .init(id: $0, weight: 1) } }
        var newWeight = percent * old.count, oldWeight = (100 - percent) * new.count
        let divisor = gcd(newWeight, oldWeight)
        newWeight /= divisor
        oldWeight /= divisor
        return old.map { .init(id: $0, weight: oldWeight) } + new.map { .init(id: $0, weight: newWeight) }
    }

    private static func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? max(a, 1) : gcd(b, a % b) }

    private func watchCanary(_ key: AppKey, _ replicas: [ReplicaRecord], since mark: UInt64, log accessLog: NginxAccessLog,
                             strategy: AppSpec.Strategy, check: AppSpec.HealthCheck, deployLog: DeployLog) async throws {
        let deadline = ContinuousClock.now + .seconds(max(1, strategy.pause ?? 10))
        let addresses = Set(replicas.map(\.address))
        let maxRatio = strategy.maxErrorRatio ?? 0.05
        var failures: [String: Int] = [:]
        var tally = NginxAccessLog.Tally()
        var offset = mark
        repeat {
            try await Task.sleep(for: .seconds(1))
            for replica in replicas {
                guard await supervisor.isRunning(key, replica.id) else {
                    throw DeployFailure(.healthCheck, "canary replica \(replica.id) exited")
                }
                if let reason = await HealthChecker.probe(port: replica.port, check: check) {
                    failures[replica.id, default: 0] += 1
                    await deployLog.warn("canary replica \(replica.id) health check failed: \(reason)", .healthCheck)
                    if failures[replica.id, default: 0] >= max(1, check.retries) {
                        throw DeployFailure(.healthCheck, "canary replica \(replica.id) unhealthy: \(reason)")
                    }
                } else {
                    failures[replica.id] = 0
                }
            }
            offset = accessLog.count(into: &tally, since: offset, upstreams: addresses)
            if tally.requests > 0, Double(tally.errors) / Double(tally.requests) > maxRatio {
                let message = "canary answered \(tally.errors) 5xx of \(tally.requests) requests (above \(maxRatio))"
                await deployLog.error(message, .healthCheck)
                throw DeployFailure(.healthCheck, message)
            }
        } while ContinuousClock.now < deadline
        await deployLog.info("canary step healthy", .healthCheck)
    }

    /// After a failed rollout: the upstream back to the old replicas (restarting as many old ones
    /// as were already replaced), and the new ones stopped.
    func restoreOldSet(_ key: AppKey, state: AppState, old: [String], discard: [String], missing: Int, log: DeployLog) async {
        var state = state
        var members = old
        if missing > 0, let release = state.release,
           let refill = try? await startHealthy(key, release, count: missing, log: log) {
            members += refill.map(\.id)
        }
        do {
            try await publish(key, members: members.map { .init(id: $0, weight: 1) }, state: &state)
        } catch {
            await log.error("could not restore the upstream of \(key.app): \(error)")
        }
        await retire(key, discard)
        await log.warn("rollout abandoned; \(state.release?.version ?? "the previous release") serves")
    }
}
