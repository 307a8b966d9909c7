import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A command run to completion (a build, a hook, `nginx -s reload`, deploy-tracker's `git clone` and
/// `tar -x`), its output lines handed over as they come. Spawned with posix_spawn and polled:
/// neither Foundation's `Process` (libdispatch sources) nor a blocked thread.
public struct ShellCommand: Sendable {
    public var arguments: [String]
    public var directory: String?
    public var environment: [String: String]
    /// Where the output is kept (the release's build log); a temporary file when nil.
    public var outputFile: String?

    public init(arguments: [String], directory: String? = nil, environment: [String: String], outputFile: String? = nil) {
        self.arguments = arguments
        self.directory = directory
        self.environment = environment
        self.outputFile = outputFile
    }

    /// The exit status and the last lines of output.
    public struct Outcome: Sendable {
        public var status: Int32
        public var lastLines: [String]
        public var summary: String { "exit \(status)" + (lastLines.isEmpty ? "" : ": " + lastLines.joined(separator: " | ")) }
    }

    /// Runs it, polling its output file and its exit (no thread blocks on it); a cancelled task
    /// stops the command's whole process group.
    public func run(_ line: @Sendable (String) async -> Void = { _ in }) async throws -> Outcome {
        let file = outputFile ?? NSTemporaryDirectory() + "fleet-cmd-" + UUID().uuidString + ".log"
        _ = FileManager.default.createFile(atPath: file, contents: nil)
        defer { if outputFile == nil { try? FileManager.default.removeItem(atPath: file) } }
        let pid = try ChildProcess.spawn(.init(arguments: arguments, directory: directory, environment: environment,
                                               outputFile: file))
        let reader = try LineReader(path: file)
        var last: [String] = []
        func drain() async {
            for text in reader.newLines() {
                last.append(text)
                if last.count > 5 { last.removeFirst() }
                await line(text)
            }
        }
        var poll = PollInterval(to: .milliseconds(50))
        while true {
            if let status = ChildProcess.reap(pid) {
                await drain()
                await drain()
                return Outcome(status: status, lastLines: last)
            }
            await drain()
            do {
                try await poll.sleep()
            } catch {
                ChildProcess.signalGroup(pid, SIGKILL)
                while ChildProcess.reap(pid) == nil { usleep(10_000) }
                throw error
            }
        }
    }

    /// `/bin/sh -c command`, as `user` when given (setpriv, else runuser).
    static func shell(_ command: String, user: String?) -> [String] {
        let shell = ["/bin/sh", "-c", command]
        guard let user else { return shell }
        for setpriv in ["/usr/bin/setpriv", "/bin/setpriv"] where FileManager.default.isExecutableFile(atPath: setpriv) {
            return [setpriv, "--reuid=\(user)", "--regid=\(primaryGroup(of: user) ?? 65534)", "--init-groups", "--"] + shell
        }
        return ["/usr/sbin/runuser", "-u", user, "--"] + shell
    }

    static func primaryGroup(of user: String) -> gid_t? {
        guard let entry = getpwnam(user) else { return nil }
        return entry.pointee.pw_gid
    }

    /// Makes `path` and everything under it `user`'s.
    static func giveOwnership(of path: String, to user: String) {
        guard let entry = getpwnam(user) else { return }
        let uid = entry.pointee.pw_uid, gid = entry.pointee.pw_gid
        chown(path, uid, gid)
        guard let walker = FileManager.default.enumerator(atPath: path) else { return }
        for case let relative as String in walker { lchown(path + "/" + relative, uid, gid) }
    }
}
