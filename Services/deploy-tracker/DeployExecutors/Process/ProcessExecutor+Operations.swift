import Foundation

/// Scale, restart and the apps' output.
extension ProcessExecutor {
    public func scale(tenantID: UUID, app: String, replicas: Int, log: DeployLog) async throws {
        let key = AppKey(tenantID: tenantID, app: app)
        await refresh(key)
        guard var state = await supervisor.state(key), var release = state.release else {
            throw DeployFailure(.executor, "\(app) does not run")
        }
        let current = await liveServing(key, state)
        let wanted = max(0, replicas)
        if wanted > current.count {
            let started = try await startHealthy(key, release, count: wanted - current.count, log: log)
            try await publish(key, members: (current + started.map(\.id)).map { .init(id: $0, weight: 1) }, state: &state)
        } else if wanted < current.count {
            let kept = Array(current.prefix(wanted)), dropped = Array(current.dropFirst(wanted))
            try await publish(key, members: kept.map { .init(id: $0, weight: 1) }, state: &state)
            await retire(key, dropped)
        }
        release.replicas = wanted
        state.release = release
        try await supervisor.setState(key, state)
        await log.info("\(app) scaled from \(current.count) to \(wanted) replicas", .scaleEvent)
    }

    /// A rolling restart of the current release.
    public func restart(tenantID: UUID, app: String, log: DeployLog) async throws {
        let key = AppKey(tenantID: tenantID, app: app)
        await refresh(key)
        guard let state = await supervisor.state(key), let release = state.release else {
            throw DeployFailure(.executor, "\(app) does not run")
        }
        try await rollingUpdate(key, target: release, state: state, strategy: .init(type: .rolling), log: log)
        await log.info("\(app) restarted (\(release.version))", .configChange)
    }

    /// Tails every replica's log file, picking up replicas as they appear. Files written before
    /// `since` are read from their end (the files hold no timestamps; lines carry when they were read).
    public func followLogs(tenantID: UUID, app: String, since: Date?,
                           _ line: @escaping @Sendable (AppLogLine) async -> Void) async throws {
        let key = AppKey(tenantID: tenantID, app: app)
        var readers: [String: LineReader] = [:]
        let opened = Date()
        var adopted = ContinuousClock.now - .seconds(10)
        while !Task.isCancelled {
            // Replicas another tracker on this data directory started since.
            if ContinuousClock.now - adopted > .seconds(2) {
                await supervisor.adopt(key)
                adopted = .now
            }
            let records = await supervisor.allRecords(key)
            let done = records.isEmpty
            for record in records where readers[record.id] == nil {
                let path = layout.logFile(key, id: record.id).path
                let modified = (try? FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date) ?? opened
                let fromEnd = since.map { modified < $0 } ?? true
                readers[record.id] = try? LineReader(path: path, fromEnd: fromEnd && modified < opened)
            }
            for (id, reader) in readers {
                for text in reader.newLines() {
                    await line(AppLogLine(timestamp: Date(), replica: id, stream: "stdout", text: text))
                }
            }
            if done { return }
            try await Task.sleep(for: .milliseconds(250))
        }
    }
}
