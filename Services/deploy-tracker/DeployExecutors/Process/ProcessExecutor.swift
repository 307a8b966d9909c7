import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs apps as supervised processes on this machine behind nginx: what `make run` uses.
///
/// State lives under `DEPLOY_DATA_DIR`, and nginx and the replicas run in sessions of their own,
/// so they keep serving while the tracker is down and a new instance on the same directory
/// adopts them:
/// - `apps/<tenant>/<app>/releases/v<N>/`: a release's built copy of its source (its artifact,
///   kept for rollbacks without a rebuild), `v<N>.build.log` beside it;
/// - `apps/<tenant>/<app>/replicas/<id>.json` and `<id>.log`: pid, pid start time, port,
///   version, restarts; the replica's stdout and stderr;
/// - `apps/<tenant>/<app>/state.json`: the upstream (replicas and weights), the current release,
///   a blue-green standby set and when its window ends;
/// - `nginx/`: nginx.conf, control.conf (the generation a reload waits for), `apps/*.conf`
///   (each app's upstream and server on its stable port), ports.json, logs (per app access
///   logs recording each request's upstream and status), temp paths.
///
/// One executor (one supervisor) per data directory: two trackers sharing one would both
/// restart the same dead replica.
public final class ProcessExecutor: DeployExecutor {
    /// Where and how it runs things.
    public struct Configuration: Sendable {
        /// `DEPLOY_DATA_DIR`.
        public var dataDirectory: URL
        /// nginx's executable. Defaults to `nginx` on `PATH`, else `/usr/sbin/nginx`.
        public var nginxBinary: String
        /// The apps' stable ports, nginx's listeners. Defaults to 20000–20999.
        public var appPortRange: ClosedRange<Int>
        /// The replicas' ports. Defaults to 21000–29999.
        public var replicaPortRange: ClosedRange<Int>
        /// `DEPLOY_PROCESS_USER`: builds, hooks and replicas run as this user when set.
        public var processUser: String?
        /// How long a replica gets between SIGTERM and SIGKILL. Defaults to 10 seconds.
        public var stopGrace: Duration

        public init(dataDirectory: URL, nginxBinary: String? = nil, appPortRange: ClosedRange<Int> = 20000...20999,
                    replicaPortRange: ClosedRange<Int> = 21000...29999, processUser: String? = nil,
                    stopGrace: Duration = .seconds(10)) {
            self.dataDirectory = dataDirectory
            self.nginxBinary = nginxBinary ?? ProcessExecutor.findOnPath("nginx") ?? "/usr/sbin/nginx"
            self.appPortRange = appPortRange
            self.replicaPortRange = replicaPortRange
            self.processUser = processUser
            self.stopGrace = stopGrace
        }

        /// From the tracker's settings: `DEPLOY_DATA_DIR` (default `./.deploy-data`) and
        /// `DEPLOY_PROCESS_USER` (unset or empty: the tracker's own user).
        public init(environment: [String: String]) {
            let directory = environment["DEPLOY_DATA_DIR"].flatMap { $0.isEmpty ? nil : $0 } ?? ".deploy-data"
            let user = environment["DEPLOY_PROCESS_USER"].flatMap { $0.isEmpty ? nil : $0 }
            self.init(dataDirectory: URL(fileURLWithPath: directory).standardizedFileURL, processUser: user)
        }
    }

    public let kind = ExecutorKind.process
    public let configuration: Configuration
    let layout: ProcessLayout
    let nginx: Nginx
    let supervisor: ReplicaSupervisor

    /// Reads what a previous instance left in the data directory (replicas and nginx are adopted
    /// as they run); starts nothing until first used.
    public init(configuration: Configuration) throws {
        self.configuration = configuration
        layout = ProcessLayout(root: configuration.dataDirectory)
        try FileManager.default.createDirectory(at: layout.appsDirectory, withIntermediateDirectories: true)
        nginx = try Nginx(binary: configuration.nginxBinary, directory: layout.nginxDirectory,
                          appPorts: configuration.appPortRange)
        supervisor = ReplicaSupervisor(layout: layout, replicaPorts: configuration.replicaPortRange,
                                       processUser: configuration.processUser, stopGrace: configuration.stopGrace)
    }

    /// Watches the replicas until cancelled (the tracker runs it as a long-lived task): restarts
    /// the dead with backoff, ends blue-green windows, checks health every `interval`, starts
    /// nginx again if it died. Replicas no serving or standby set claims (a rollout cut short by
    /// a crash) are stopped when it begins.
    public func supervise() async {
        // What other trackers on this data directory did before this one took over supervision.
        await supervisor.adoptAll()
        await nginx.refresh()
        await supervisor.stopOrphans()
        try? await nginx.ensureRunning()
        var lastAdoption = ContinuousClock.now
        while !Task.isCancelled {
            if ContinuousClock.now - lastAdoption > .seconds(2) {
                await supervisor.adoptAll()
                lastAdoption = .now
            }
            // nginx killed or crashed: started again with every app's conf file still in place.
            if await nginx.masterPID == nil, !Task.isCancelled { try? await nginx.ensureRunning() }
            let probes = await supervisor.round()
            await withTaskGroup(of: Void.self) { group in
                for probe in probes {
                    group.addTask { [supervisor] in
                        let healthy = await HealthChecker.probe(port: probe.port, check: probe.check) == nil
                        await supervisor.setHealthState(probe.id, healthy ? .healthy : .unhealthy)
                    }
                }
            }
            await nginx.capLogs()
            try? await Task.sleep(for: .milliseconds(250))
        }
    }

    /// Stops nginx (the replicas are the apps': `remove` stops them). For tests and `make run`'s stop.
    public func stopNginx() async { await nginx.stop() }

    /// What another tracker on the same data directory changed, read before acting on `key`.
    func refresh(_ key: AppKey) async {
        await supervisor.adopt(key)
        await nginx.refresh()
    }

    public func url(tenantID: UUID, app: String) async -> String? {
        await nginx.refresh()
        guard let port = try? await nginx.port(for: AppKey(tenantID: tenantID, app: app), allocate: false) else {
            return nil
        }
        return "http://127.0.0.1:\(port)"
    }

    public func replicas(tenantID: UUID, app: String) async throws -> [ReplicaStatus] {
        await refresh(AppKey(tenantID: tenantID, app: app))
        return await supervisor.statuses(AppKey(tenantID: tenantID, app: app))
    }

    public func remove(tenantID: UUID, app: String) async throws {
        let key = AppKey(tenantID: tenantID, app: app)
        await refresh(key)
        await supervisor.stop(key, ids: await supervisor.allRecords(key).map(\.id))
        try await nginx.removeApp(key)
        try await nginx.releasePort(for: key)
        await supervisor.forget(key)
        try? FileManager.default.removeItem(at: layout.appDirectory(key))
    }

    /// What replicas, builds and hooks inherit from the tracker: no more than a shell needs (the
    /// tracker's own settings hold its secrets).
    static let baseEnvironment: [String: String] = {
        let env = ProcessInfo.processInfo.environment
        var base = ["PATH": env["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"]
        for name in ["HOME", "LANG", "LC_ALL", "TZ"] { base[name] = env[name] }
        return base
    }()

    static func findOnPath(_ program: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/\(program)" }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}
