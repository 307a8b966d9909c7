import AsyncHTTPClient
import Foundation
import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// The nginx in front of every app, owned by the executor: started in a session of its own (it
/// outlives the tracker, and a restarted tracker adopts it), reloaded after each upstream change
/// and confirmed live before the rollout goes on.
actor Nginx {
    let binary: String
    let directory: URL
    let appPorts: ClosedRange<Int>
    private var ports: PortMap
    private(set) var controlPort: Int
    /// The newest configuration generation asked for, and the newest confirmed live.
    private var generation: Int
    private var applied = 0
    /// A start or reload is under way (the actor is re-entered at every await).
    private var busy = false

    init(binary: String, directory: URL, appPorts: ClosedRange<Int>) throws {
        self.binary = binary
        self.directory = directory
        self.appPorts = appPorts
        let fm = FileManager.default
        for sub in ["apps", "logs", "tmp"] {
            try fm.createDirectory(at: directory.appendingPathComponent(sub), withIntermediateDirectories: true)
        }
        var ports = JSONFile.read(PortMap.self, from: directory.appendingPathComponent("ports.json")) ?? PortMap()
        if ports.control == nil {
            ports.control = Nginx.firstFreePort(in: appPorts, excluding: Set(ports.apps.values))
        }
        guard let control = ports.control else { throw DeployFailure(.executor, "no free port in \(appPorts)") }
        try JSONFile.write(ports, to: directory.appendingPathComponent("ports.json"))
        self.ports = ports
        controlPort = control
        let controlText = try? String(contentsOf: directory.appendingPathComponent("control.conf"), encoding: .utf8)
        generation = controlText.flatMap { text in
            text.split(separator: "\n").first.flatMap { Int($0.split(separator: " ").last ?? "") }
        } ?? 0
    }

    /// Picks up what another tracker on the same data directory wrote since: app ports and the
    /// configuration generation (replicas of deploy-tracker on one machine share the directory).
    func refresh() {
        if let read = JSONFile.read(PortMap.self, from: directory.appendingPathComponent("ports.json")) {
            ports.apps = read.apps
        }
        let text = try? String(contentsOf: directory.appendingPathComponent("control.conf"), encoding: .utf8)
        if let onDisk = text.flatMap({ $0.split(separator: "\n").first.flatMap { Int($0.split(separator: " ").last ?? "") } }),
           onDisk > generation {
            generation = onDisk
        }
    }

    /// The app's stable port, allocated once.
    func port(for key: AppKey, allocate: Bool) throws -> Int? {
        if let port = ports.apps[key.description] { return port }
        guard allocate else { return nil }
        var taken = Set(ports.apps.values)
        taken.insert(controlPort)
        guard let port = Nginx.firstFreePort(in: appPorts, excluding: taken) else {
            throw DeployFailure(.executor, "no free app port in \(appPorts)")
        }
        ports.apps[key.description] = port
        try JSONFile.write(ports, to: directory.appendingPathComponent("ports.json"))
        return port
    }

    func releasePort(for key: AppKey) throws {
        ports.apps[key.description] = nil
        try JSONFile.write(ports, to: directory.appendingPathComponent("ports.json"))
    }

    /// The pid of the running master, if its pid file names a live nginx.
    var masterPID: pid_t? {
        guard let text = try? String(contentsOf: directory.appendingPathComponent("nginx.pid"), encoding: .utf8),
              let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)),
              let command = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"),
              String(decoding: command, as: UTF8.self).contains("nginx") else { return nil }
        return pid
    }

    /// Starts nginx unless it already runs (then it is adopted as it is).
    func ensureRunning() async throws {
        // Two rollouts' first steps may race here: one starts nginx, the other waits for it.
        while busy { try await Task.sleep(for: .milliseconds(10)) }
        if masterPID != nil { return }
        busy = true
        defer { busy = false }
        try mainConfig().write(to: directory.appendingPathComponent("nginx.conf"), atomically: true, encoding: .utf8)
        generation += 1
        let wanted = generation
        try controlConfig(generation: wanted)
            .write(to: directory.appendingPathComponent("control.conf"), atomically: true, encoding: .utf8)
        let outcome = try await ShellCommand(arguments: command([]), environment: [:]).run()
        guard outcome.status == 0 else { throw DeployFailure(.executor, "nginx did not start: \(outcome.summary)") }
        try await confirm(wanted)
        applied = max(applied, wanted)
    }

    /// Writes the app's conf file and reloads; returns once the new configuration serves.
    func apply(_ key: AppKey, port: Int, servers: [(address: String, weight: Int)]) async throws {
        try await ensureRunning()
        try appConfig(key, port: port, servers: servers)
            .write(to: appConfigFile(key), atomically: true, encoding: .utf8)
        try await reload()
    }

    /// Deletes the app's conf file and reloads.
    func removeApp(_ key: AppKey) async throws {
        try? FileManager.default.removeItem(at: appConfigFile(key))
        if masterPID != nil { try await reload() }
    }

    /// `nginx -s reload` (which parses the configuration first and refuses a bad one, exit 1 with
    /// its error), then polls the control server until it answers the new generation.
    ///
    /// Reloads are coalesced: a caller arriving while one runs waits for the next, which covers
    /// every conf file written before it began (50 apps rolling out at once do not queue 50 reloads).
    func reload() async throws {
        generation += 1
        let wanted = generation
        while applied < wanted {
            if busy {
                try await Task.sleep(for: .milliseconds(10))
                continue
            }
            busy = true
            defer { busy = false }
            let target = generation
            try controlConfig(generation: target)
                .write(to: directory.appendingPathComponent("control.conf"), atomically: true, encoding: .utf8)
            if masterPID == nil {
                busy = false
                try await ensureRunning()
                continue
            }
            let oldWorkers = masterPID.map { Self.children(of: $0) } ?? []
            let outcome = try await ShellCommand(arguments: command(["-s", "reload"]), environment: [:]).run()
            guard outcome.status == 0 else { throw DeployFailure(.executor, "nginx reload: \(outcome.summary)") }
            try await confirm(target)
            // The master lets the old workers accept for another 100 ms after starting the new
            // ones; until they are told to quit, a request may still be routed the old way.
            await waitUntilNotAccepting(oldWorkers)
            applied = max(applied, target)
        }
    }

    /// Waits (up to `limit`) until no worker of an older configuration is left, so that nothing
    /// still sends requests to replicas about to be stopped.
    func drain(limit: Duration) async {
        guard let master = masterPID else { return }
        let deadline = ContinuousClock.now + limit
        var poll = PollInterval(to: .milliseconds(50))
        while ContinuousClock.now < deadline {
            let draining = Self.children(of: master).contains { pid in
                let command = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") ?? Data()
                return String(decoding: command, as: UTF8.self).contains("shutting down")
            }
            if !draining { return }
            try? await poll.sleep()
        }
    }

    /// Empties access and error logs grown past `limit` (nginx appends, so it writes on at the
    /// new end; under load an app logs ~700 k lines a minute). A canary step counting across
    /// the cut sees fewer requests, never wrong ones.
    func capLogs(limit: UInt64 = 64 << 20) {
        let logs = directory.appendingPathComponent("logs")
        for name in (try? FileManager.default.contentsOfDirectory(atPath: logs.path)) ?? [] {
            let path = logs.appendingPathComponent(name).path
            let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.uint64Value ?? 0
            if size > limit { truncate(path, 0) }
        }
    }

    /// Stops nginx (`-s quit`: requests in flight finish) and waits for it to go.
    func stop() async {
        guard let master = masterPID else { return }
        _ = try? await ShellCommand(arguments: command(["-s", "quit"]), environment: [:]).run()
        for _ in 0..<200 where kill(master, 0) == 0 {
            try? await Task.sleep(for: .milliseconds(50))
        }
    }

    private func command(_ extra: [String]) -> [String] {
        [binary, "-p", directory.path + "/", "-c", directory.path + "/nginx.conf",
         "-e", directory.path + "/logs/error.log"] + extra
    }

    /// Waits (up to 5 s) until each of `workers` has exited or is shutting down (it has closed
    /// its listening sockets then).
    private func waitUntilNotAccepting(_ workers: [pid_t]) async {
        let deadline = ContinuousClock.now + .seconds(5)
        var poll = PollInterval(to: .milliseconds(20))
        while ContinuousClock.now < deadline {
            let accepting = workers.contains { pid in
                guard let command = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
                let text = String(decoding: command, as: UTF8.self)
                return text.contains("nginx") && !text.contains("shutting down")
            }
            if !accepting { return }
            try? await poll.sleep()
        }
    }

    private func confirm(_ wanted: Int) async throws {
        let deadline = ContinuousClock.now + .seconds(15)
        var poll = PollInterval(to: .milliseconds(20))
        while ContinuousClock.now < deadline {
            if let live = await liveGeneration(), live >= wanted { return }
            try await poll.sleep()
        }
        throw DeployFailure(.executor, "nginx did not load configuration generation \(wanted)")
    }

    private func liveGeneration() async -> Int? {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(controlPort)/generation")
        // A new connection each time: a kept-alive one may belong to a worker of the old configuration.
        request.headers.add(name: "Connection", value: "close")
        guard let response = try? await HTTPClient.shared.execute(request, timeout: .seconds(2)),
              let body = try? await response.body.collect(upTo: 64) else { return nil }
        return Int(String(buffer: body))
    }

    static func children(of parent: pid_t) -> [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { pid_t($0) }.filter { pid in
            guard let fields = ChildProcess.statFields(pid), fields.count > 1 else { return false }
            return pid_t(fields[1]) == parent
        }
    }
}
