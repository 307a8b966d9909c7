import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Keeps every app's replicas and state: starts and stops replicas, restarts the ones that die
/// (backoff 1 s … 30 s), stops a blue-green standby set when its window ends, and adopts what a
/// previous tracker left running.
actor ReplicaSupervisor {
    let layout: ProcessLayout
    let replicaPorts: ClosedRange<Int>
    let processUser: String?
    let stopGrace: Duration
    private var records: [AppKey: [String: ReplicaRecord]] = [:]
    private var states: [AppKey: AppState] = [:]
    /// Release environments by app and version: secrets, so memory only (an adopted replica's
    /// comes from /proc/<pid>/environ).
    private var environments: [AppKey: [String: [String: String]]] = [:]
    private var nextRestart: [String: ContinuousClock.Instant] = [:]
    private var health: [String: ReplicaStatus.State] = [:]
    private var lastProbe: [String: ContinuousClock.Instant] = [:]
    private var portCursor: Int

    init(layout: ProcessLayout, replicaPorts: ClosedRange<Int>, processUser: String?, stopGrace: Duration) {
        self.layout = layout
        self.replicaPorts = replicaPorts
        self.processUser = processUser
        self.stopGrace = stopGrace
        portCursor = replicaPorts.lowerBound
        for key in layout.knownApps() {
            let (state, found, adopted) = Self.load(key, layout: layout, knownVersions: [])
            states[key] = state
            records[key] = found
            environments[key] = adopted
        }
    }

    /// Reads the app's state and replica records from disk, as they are now: at start, and
    /// before each operation, since another tracker on the same data directory may have
    /// changed them (operations on one app are serialized by its deployment's lease).
    func adopt(_ key: AppKey) {
        let (state, found, adopted) = Self.load(key, layout: layout, knownVersions: Set(environments[key].map { Array($0.keys) } ?? []))
        states[key] = state
        records[key] = found
        environments[key, default: [:]].merge(adopted) { own, _ in own }
    }

    /// An app's state, records and the environments of running replicas whose version's is not
    /// known yet (read from `/proc/<pid>/environ`).
    private static func load(_ key: AppKey, layout: ProcessLayout, knownVersions: Set<String>)
        -> (AppState?, [String: ReplicaRecord], [String: [String: String]]) {
        var found: [String: ReplicaRecord] = [:]
        var adopted: [String: [String: String]] = [:]
        let files = (try? FileManager.default.contentsOfDirectory(atPath: layout.replicasDirectory(key).path)) ?? []
        for file in files where file.hasSuffix(".json") {
            guard let record = JSONFile.read(ReplicaRecord.self, from: layout.replicasDirectory(key).appendingPathComponent(file))
            else { continue }
            found[record.id] = record
            if !knownVersions.contains(record.version), adopted[record.version] == nil,
               ChildProcess.isRunning(record.pid, startTime: record.pidStartTime) {
                var env = ChildProcess.environment(of: record.pid)
                env["PORT"] = nil
                adopted[record.version] = env
            }
        }
        return (JSONFile.read(AppState.self, from: layout.stateFile(key)), found, adopted)
    }

    /// ``adopt(_:)`` for every app on disk, apps another tracker added included.
    func adoptAll() {
        for key in layout.knownApps() { adopt(key) }
    }

    // MARK: State

    func state(_ key: AppKey) -> AppState? { states[key] }

    func setState(_ key: AppKey, _ state: AppState?) throws {
        states[key] = state
        if let state { try JSONFile.write(state, to: layout.stateFile(key)) } else {
            try? FileManager.default.removeItem(at: layout.stateFile(key))
        }
    }

    func remember(_ key: AppKey, version: String, environment: [String: String]) {
        environments[key, default: [:]][version] = environment
    }

    func environment(_ key: AppKey, version: String) -> [String: String]? { environments[key]?[version] }

    func record(_ key: AppKey, _ id: String) -> ReplicaRecord? { records[key]?[id] }
    func allRecords(_ key: AppKey) -> [ReplicaRecord] { records[key].map { Array($0.values) } ?? [] }
    func isRunning(_ key: AppKey, _ id: String) -> Bool {
        guard let record = records[key]?[id] else { return false }
        return ChildProcess.isRunning(record.pid, startTime: record.pidStartTime)
    }

    /// The app's replicas with their states now.
    func statuses(_ key: AppKey) -> [ReplicaStatus] {
        allRecords(key).sorted { $0.id < $1.id }.map { record in
            let state: ReplicaStatus.State
            if ChildProcess.isRunning(record.pid, startTime: record.pidStartTime) {
                state = health[record.id] ?? (record.supervised ? .running : .starting)
            } else {
                state = record.supervised ? .crashed : .stopped
            }
            return ReplicaStatus(id: record.id, state: state, version: record.version, address: record.address,
                                 restarts: record.restarts)
        }
    }

    // MARK: Bookkeeping for the rounds

    func allReplicas() -> [(AppKey, [ReplicaRecord])] { records.map { ($0.key, Array($0.value.values)) } }
    func restartTime(_ id: String) -> ContinuousClock.Instant? { nextRestart[id] }
    func scheduleRestart(_ id: String, at instant: ContinuousClock.Instant) { nextRestart[id] = instant }
    func setHealthState(_ id: String, _ state: ReplicaStatus.State) { health[id] = state }

    /// Whether `id`'s background check is due (one per `interval`), noting it as done.
    func isDue(_ id: String, check: AppSpec.HealthCheck, now: ContinuousClock.Instant) -> Bool {
        if let last = lastProbe[id], now - last < .seconds(max(1, check.interval)) { return false }
        lastProbe[id] = now
        return true
    }

    /// Starts a dead replica again on its port, so the upstream needs no change.
    func relaunch(_ key: AppKey, _ record: ReplicaRecord) throws {
        var record = record
        nextRestart[record.id] = nil
        health[record.id] = .starting
        try launch(key, &record, environment: environments[key]?[record.version] ?? [:])
    }

    // MARK: Starting and stopping

    /// Starts one replica of `release` on a free port, unsupervised until `markHealthy`.
    func start(_ key: AppKey, release: ReleaseRecord) throws -> ReplicaRecord {
        let environment = environments[key]?[release.version] ?? [:]
        let id = release.version + "-" + UUID().uuidString.prefix(8).lowercased()
        var record = ReplicaRecord(id: id, version: release.version, port: try freePort(), pid: 0, pidStartTime: 0,
                                   restarts: 0, directory: release.directory, command: release.startCommand,
                                   supervised: false)
        try launch(key, &record, environment: environment)
        health[id] = .starting
        return record
    }

    func markHealthy(_ key: AppKey, _ id: String) throws {
        guard var record = records[key]?[id] else { return }
        record.supervised = true
        health[id] = .healthy
        try save(key, record)
    }

    /// Stops replicas: SIGTERM to each one's process group, SIGKILL after `stopGrace`; their
    /// records go.
    func stop(_ key: AppKey, ids: [String]) async {
        let victims = ids.compactMap { records[key]?[$0] }
        for record in victims {
            records[key]?[record.id] = nil
            nextRestart[record.id] = nil
            health[record.id] = nil
            try? FileManager.default.removeItem(at: layout.recordFile(key, id: record.id))
            // A pid reused by another process since is not ours to signal.
            if ChildProcess.isRunning(record.pid, startTime: record.pidStartTime) {
                ChildProcess.signalGroup(record.pid, SIGTERM)
            }
        }
        let deadline = ContinuousClock.now + stopGrace
        var running = victims.filter { ChildProcess.isRunning($0.pid, startTime: $0.pidStartTime) }
        var poll = PollInterval(to: .milliseconds(50))
        while !running.isEmpty && ContinuousClock.now < deadline {
            try? await poll.sleep()
            running = running.filter { ChildProcess.isRunning($0.pid, startTime: $0.pidStartTime) }
        }
        for record in running { ChildProcess.signalGroup(record.pid, SIGKILL) }
        for record in victims { _ = ChildProcess.reap(record.pid) }
    }

    /// Forgets the app entirely (its records and files are removed by the caller).
    func forget(_ key: AppKey) {
        records[key] = nil
        states[key] = nil
        environments[key] = nil
    }

    private func launch(_ key: AppKey, _ record: inout ReplicaRecord, environment: [String: String]) throws {
        var env = ProcessExecutor.baseEnvironment.merging(environment) { _, release in release }
        env["PORT"] = String(record.port)
        try FileManager.default.createDirectory(at: layout.replicasDirectory(key), withIntermediateDirectories: true)
        let logFile = layout.logFile(key, id: record.id).path
        if !FileManager.default.fileExists(atPath: logFile) {
            _ = FileManager.default.createFile(atPath: logFile, contents: nil)
        }
        let pid = try ChildProcess.spawn(.init(arguments: ShellCommand.shell(record.command, user: processUser),
                                               directory: record.directory, environment: env, outputFile: logFile))
        record.pid = pid
        record.pidStartTime = ChildProcess.startTime(pid) ?? 0
        try save(key, record)
    }

    private func save(_ key: AppKey, _ record: ReplicaRecord) throws {
        records[key, default: [:]][record.id] = record
        try JSONFile.write(record, to: layout.recordFile(key, id: record.id))
    }

    private func freePort() throws -> Int {
        let taken = Set(records.values.flatMap { $0.values.map(\.port) })
        let count = replicaPorts.count
        for offset in 0..<count {
            let port = replicaPorts.lowerBound + (portCursor - replicaPorts.lowerBound + offset) % count
            if !taken.contains(port) && ChildProcess.portIsFree(port) {
                portCursor = port + 1
                return port
            }
        }
        throw DeployFailure(.replicaStartup, "no free replica port in \(replicaPorts)")
    }
}
