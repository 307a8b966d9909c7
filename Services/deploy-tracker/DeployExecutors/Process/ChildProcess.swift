import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A process could not be started.
struct SpawnError: Error, CustomStringConvertible {
    var description: String
}

/// The one place that starts and signals processes (replicas, builds, hooks, nginx).
///
/// posix_spawn rather than Foundation's `Process`: replicas and nginx must outlive the tracker in
/// sessions of their own (a `kill -9` of deploy-tracker leaves them serving), and `Process`' exit
/// detection on Linux waits for every descendant, which a daemonizing nginx never satisfies.
enum ChildProcess {
    /// What to run and where its output goes.
    struct Launch {
        /// `arguments[0]` is an absolute path.
        var arguments: [String]
        var directory: String?
        var environment: [String: String]
        /// stdout and stderr are appended here; `/dev/null` when nil.
        var outputFile: String?
        /// A new session (and process group), so that signals reach the whole tree and the
        /// terminal's hangup does not.
        var newSession = true
    }

    /// Starts `launch`, returning the child's pid.
    static func spawn(_ launch: Launch) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }

        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, launch.outputFile ?? "/dev/null",
                                         O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // Nothing else of the tracker's (its listening socket, database connections, a test's
        // pipes) may live on in a replica that outlives it.
        if let closeFrom = Self.addCloseFrom {
            _ = closeFrom(&actions, 3)
        } else {
            for fd in Self.openDescriptors() where fd > 2 { posix_spawn_file_actions_addclose(&actions, fd) }
        }
        if let directory = launch.directory {
            guard let addChdir = Self.addChdir else { throw SpawnError(description: "this libc cannot spawn in a directory") }
            _ = addChdir(&actions, directory)
        }
        // The tracker may block signals in its own threads; a replica must start with none blocked.
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGPIPE)
        sigaddset(&defaults, SIGTERM)
        sigaddset(&defaults, SIGINT)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var flags = Int32(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)
        if launch.newSession { flags |= Self.spawnSetsid }
        posix_spawnattr_setflags(&attributes, Int16(flags))

        let environment = launch.environment.map { "\($0.key)=\($0.value)" }
        var argv = launch.arguments.map { strdup($0) } + [nil]
        var envp = environment.map { strdup($0) } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, launch.arguments[0], &actions, &attributes, &argv, &envp)
        guard rc == 0 else {
            throw SpawnError(description: "cannot start \(launch.arguments[0]): \(String(cString: strerror(rc)))")
        }
        return pid
    }

    /// glibc's `POSIX_SPAWN_SETSID`, `posix_spawn_file_actions_addchdir_np` (2.29+) and
    /// `posix_spawn_file_actions_addclosefrom_np` (2.34+) are behind
    /// `_GNU_SOURCE`, which Swift's Glibc module does not define: the flag's value and the
    /// function looked up by name.
    private static let spawnSetsid: Int32 = 0x80
    private typealias AddChdir = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32
    private static let addChdir: AddChdir? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addchdir_np") else {
            return nil
        }
        return unsafeBitCast(symbol, to: AddChdir.self)
    }()

    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    private static let addCloseFrom: AddCloseFrom? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else {
            return nil
        }
        return unsafeBitCast(symbol, to: AddCloseFrom.self)
    }()

    private static func openDescriptors() -> [Int32] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []).compactMap { Int32($0) }
    }

    /// The exit status of our own child `pid` once it has exited (reaping it), nil while it runs
    /// or when it is not our child.
    static func reap(_ pid: pid_t) -> Int32? {
        var status: Int32 = 0
        let rc = waitpid(pid, &status, WNOHANG)
        guard rc == pid else { return nil }
        if status & 0x7F == 0 { return (status >> 8) & 0xFF }
        return 128 + (status & 0x7F)
    }

    /// `/proc/<pid>/stat`'s fields after the command name: index 0 is the state, 1 the parent,
    /// 19 the start time in clock ticks since boot.
    static func statFields(_ pid: pid_t) -> [Substring]? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        return stat[stat.index(after: close)...].split(separator: " ")
    }

    /// When `pid` started (clock ticks since boot): with the pid, what identifies a process
    /// across pid reuse.
    static func startTime(_ pid: pid_t) -> UInt64? {
        guard let fields = statFields(pid), fields.count > 19 else { return nil }
        return UInt64(fields[19])
    }

    /// Whether `pid` is still the process that started at `startTime` and has not exited. An
    /// exited child of ours is reaped on the way.
    static func isRunning(_ pid: pid_t, startTime: UInt64) -> Bool {
        guard pid > 0, let fields = statFields(pid), fields.count > 19, UInt64(fields[19]) == startTime else {
            return false
        }
        if fields[0] == "Z" {
            _ = reap(pid)
            return false
        }
        return true
    }

    /// Signals `pid`'s process group (every replica leads its own), or `pid` alone when it leads none.
    static func signalGroup(_ pid: pid_t, _ signal: Int32) {
        guard pid > 0 else { return }
        if kill(-pid, signal) != 0 { kill(pid, signal) }
    }

    /// The environment `pid` was started with (a restarted tracker recovers an adopted replica's
    /// release environment from it rather than from disk, where secrets never go).
    static func environment(of pid: pid_t) -> [String: String] {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { return [:] }
        var result: [String: String] = [:]
        for entry in data.split(separator: 0) {
            let text = String(decoding: entry, as: UTF8.self)
            guard let equals = text.firstIndex(of: "=") else { continue }
            result[String(text[..<equals])] = String(text[text.index(after: equals)...])
        }
        return result
    }

    /// Whether a TCP port on 127.0.0.1 can be bound now.
    static func portIsFree(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = UInt16(port).bigEndian
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        return rc == 0
    }
}
