import Foundation

/// Rollouts: the first one, the strategies' shared steps, and rollbacks.
extension ProcessExecutor {
    public func deploy(_ release: ReleaseInput, artifact: Artifact, previous: ReleaseInput?, log: DeployLog) async throws {
        let key = AppKey(tenantID: release.tenantID, app: release.app)
        await refresh(key)
        let target = try await prepare(release, artifact: artifact)
        let port = try await appPort(key)
        let state = await supervisor.state(key) ?? AppState(port: port)
        await log.info("rolling out \(target.version) (\(target.replicas) replicas, \(release.spec.strategy.type.rawValue))",
                       .deployStart)
        let serving = await liveServing(key, state)
        if serving.isEmpty {
            try await firstRollout(key, target: target, state: state, log: log)
        } else {
            switch release.spec.strategy.type {
            case .rolling: try await rollingUpdate(key, target: target, state: state, strategy: release.spec.strategy, log: log)
            case .blueGreen: try await blueGreen(key, target: target, state: state, strategy: release.spec.strategy, log: log)
            case .canary: try await canary(key, target: target, state: state, strategy: release.spec.strategy, log: log)
            }
        }
        await log.info("\(target.version) serves on http://127.0.0.1:\(port)", .deployComplete)
    }

    public func rollback(to release: ReleaseInput, artifact: Artifact, from current: ReleaseInput?, log: DeployLog)
        async throws {
        let key = AppKey(tenantID: release.tenantID, app: release.app)
        await refresh(key)
        // The automatic rollback after a failed rollout finds the old set still serving.
        if let state = await supervisor.state(key), let serving = state.release, serving.version == release.versionName,
           await liveServing(key, state).count == serving.replicas {
            await log.info("\(serving.version) serves already, all \(serving.replicas) replicas running; nothing to do",
                           .deployComplete)
            return
        }
        if var state = await supervisor.state(key), let standby = state.standby,
           standby.release.version == release.versionName {
            var alive = true
            for id in standby.ids {
                if !(await supervisor.isRunning(key, id)) { alive = false }
            }
            if alive {
                let replaced = state.servingIDs
                state.release = standby.release
                state.standby = nil
                try await publish(key, members: standby.ids.map { .init(id: $0, weight: 1) }, state: &state)
                await log.info("switched back to \(standby.release.version) within its blue-green window; nothing started",
                               .deployComplete)
                await retire(key, replaced)
                return
            }
        }
        try await deploy(release, artifact: artifact, previous: current, log: log)
    }

    /// The release as a record, its environment remembered, its artifact checked.
    func prepare(_ release: ReleaseInput, artifact: Artifact) async throws -> ReleaseRecord {
        guard let command = release.spec.startCommand, !command.isEmpty else {
            throw DeployFailure(.validation, "the spec has no start_command")
        }
        guard FileManager.default.fileExists(atPath: artifact.reference) else {
            throw DeployFailure(.build, "the release directory \(artifact.reference) is gone")
        }
        let key = AppKey(tenantID: release.tenantID, app: release.app)
        await supervisor.remember(key, version: release.versionName, environment: release.environment)
        return ReleaseRecord(version: release.versionName, directory: artifact.reference, startCommand: command,
                             healthCheck: release.spec.healthCheck, replicas: max(1, release.spec.replicas))
    }

    func appPort(_ key: AppKey) async throws -> Int {
        do {
            try await nginx.ensureRunning()
            guard let port = try await nginx.port(for: key, allocate: true) else {
                throw DeployFailure(.executor, "no app port for \(key)")
            }
            return port
        } catch let failure as DeployFailure {
            throw failure
        } catch {
            throw DeployFailure(.executor, "nginx: \(error)")
        }
    }

    /// The serving replicas that still run (a dead upstream is no upstream to keep).
    func liveServing(_ key: AppKey, _ state: AppState) async -> [String] {
        var live: [String] = []
        for id in state.servingIDs {
            if await supervisor.isRunning(key, id) { live.append(id) }
        }
        return live
    }

    func firstRollout(_ key: AppKey, target: ReleaseRecord, state: AppState, log: DeployLog) async throws {
        var state = state
        let leftovers = state.servingIDs + (state.standby?.ids ?? [])
        let started = try await startHealthy(key, target, count: target.replicas, log: log)
        do {
            state.release = target
            state.standby = nil
            try await publish(key, members: started.map { .init(id: $0.id, weight: 1) }, state: &state)
        } catch {
            await uncancelled { [supervisor] in await supervisor.stop(key, ids: started.map(\.id)) }
            throw error
        }
        await supervisor.stop(key, ids: leftovers)
    }

    /// Starts `count` replicas of `release` and waits for all to be healthy; when one fails, all
    /// of them are stopped and the failure thrown.
    func startHealthy(_ key: AppKey, _ release: ReleaseRecord, count: Int, log: DeployLog) async throws -> [ReplicaRecord] {
        var started: [ReplicaRecord] = []
        do {
            for _ in 0..<count {
                started.append(try await supervisor.start(key, release: release))
            }
            for replica in started {
                await log.info("started replica \(replica.id) of \(release.version) on port \(replica.port)")
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for replica in started {
                    group.addTask { [supervisor] in
                        try await HealthChecker.waitUntilHealthy(replica, check: release.healthCheck, log: log) {
                            await supervisor.isRunning(key, replica.id)
                        }
                        try await supervisor.markHealthy(key, replica.id)
                    }
                }
                try await group.waitForAll()
            }
            return started
        } catch {
            let ids = started.map(\.id)
            await uncancelled { [supervisor] in await supervisor.stop(key, ids: ids) }
            if let spawn = error as? SpawnError { throw DeployFailure(.replicaStartup, spawn.description) }
            throw error
        }
    }

    /// Points the app's upstream at `members`, reloads nginx (confirmed live) and records it.
    func publish(_ key: AppKey, members: [AppState.Member], state: inout AppState) async throws {
        var servers: [(address: String, weight: Int)] = []
        for member in members {
            if let record = await supervisor.record(key, member.id) { servers.append((record.address, member.weight)) }
        }
        do {
            try await nginx.apply(key, port: state.port, servers: servers)
        } catch let failure as DeployFailure {
            throw failure
        } catch {
            throw DeployFailure(.executor, "nginx: \(error)")
        }
        state.upstream = members
        try await supervisor.setState(key, state)
    }

    /// Stops replicas that left the upstream, once nginx's old workers have let go of them.
    func retire(_ key: AppKey, _ ids: [String]) async {
        guard !ids.isEmpty else { return }
        await nginx.drain(limit: configuration.stopGrace)
        await supervisor.stop(key, ids: ids)
    }

    /// Runs clean-up work to its end even when the rollout's task was cancelled (a cancelled
    /// deployment or a deploy timeout must still leave the old set serving).
    func uncancelled(_ body: @escaping @Sendable () async -> Void) async {
        await Task { await body() }.value
    }
}
