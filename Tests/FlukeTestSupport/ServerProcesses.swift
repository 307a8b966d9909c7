import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs a helper from deploy/local/lib.sh, the same code `make run` and `make test` use.
///
/// posix_spawn + waitpid rather than Foundation's Process: the helpers leave daemons behind
/// (nats-server, postgres), and Process' exit detection waits for them on Linux.
public func runLib(_ script: String) throws {
    let root = TestEnvironment.repositoryRoot.path
    let args = ["/bin/bash", "-c", "set -e; cd '\(root)'; source deploy/local/lib.sh; " + script]
    var cArgs = args.map { strdup($0) } + [nil]
    defer { cArgs.forEach { free($0) } }
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, "/bin/bash", nil, nil, &cArgs, environ)
    guard rc == 0 else { throw TestFailure("posix_spawn failed: \(rc)") }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
    let exitCode = (status >> 8) & 0xFF
    guard status & 0x7F == 0, exitCode == 0 else {
        throw TestFailure("deploy/local/lib.sh: `\(script)` exited \(exitCode)")
    }
}

/// A private nats-server with JetStream, for tests that stop and restart it.
public final class NATSServer: @unchecked Sendable {
    public let port: Int
    public let directory: String
    public var url: String { "nats://127.0.0.1:\(port)" }

    public init() throws {
        directory = TestEnvironment.workDir + "/nats-" + UUID().uuidString.prefix(8)
        // A free port can be taken by a parallel test between picking and binding: try another.
        var attempt = 0
        while true {
            let candidate = freePort()
            do {
                try runLib("fleet_nats_start '\(directory)' \(candidate)")
                port = candidate
                return
            } catch where attempt < 4 {
                attempt += 1
            }
        }
    }

    public func start() throws { try runLib("fleet_nats_start '\(directory)' \(port)") }

    /// Starts it again with `FLUKE_NATS_<KEY>_PASSWORD` values of the caller's choosing (a
    /// password rotated under a running service).
    public func start(passwords: [String: String]) throws {
        let assignments = passwords.map { "\($0.key)='\($0.value)'" }.joined(separator: " ")
        try runLib("\(assignments) fleet_nats_start '\(directory)' \(port)")
    }
    public func stop() throws { try runLib("fleet_nats_stop '\(directory)'"); waitForPortClosed(port) }
    deinit { try? stop() }
}

/// A private Postgres cluster (with the fleet's roles and schemas), for tests that restart it.
public final class PostgresServer: @unchecked Sendable {
    public let port: Int
    public let directory: String
    /// Superuser URL of its `fluke` database.
    public var adminURL: String { "postgres://postgres@127.0.0.1:\(port)/fluke" }
    public func url(role: String) -> String { "postgres://\(role)@127.0.0.1:\(port)/fluke" }

    public init() throws {
        port = freePort()
        directory = TestEnvironment.workDir + "/pg-" + UUID().uuidString.prefix(8)
        try start()
    }

    public func start() throws { try runLib("fleet_pg_start '\(directory)' \(port)") }
    public func stop() throws { try runLib("fleet_pg_stop '\(directory)'") }
    deinit { try? stop() }
}

func waitForPortClosed(_ port: Int) {
    for _ in 0..<100 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = UInt16(port).bigEndian
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        close(fd)
        if rc != 0 { return }
        usleep(50_000)
    }
}

/// A private JetStream cluster of `size` nats-servers on loopback (`fleet_nats_start` with
/// cluster flags), each with its own store directory, the fleet's users (deploy/nats/auth.conf),
/// and routes that log in as user `route` with a password of its own, as the prod overlay's do.
public final class NATSCluster: @unchecked Sendable {
    public struct Node: Sendable {
        public let name: String
        public let port: Int
        public let clusterPort: Int
        public let directory: String
        public var url: String { "nats://127.0.0.1:\(port)" }
    }

    public let nodes: [Node]
    public let directory: String
    /// Every node's client URL, comma-separated: what NATS_URL lists.
    public var url: String { nodes.map(\.url).joined(separator: ",") }

    public init(size: Int = 3) throws {
        let directory = TestEnvironment.workDir + "/nats-cluster-" + UUID().uuidString.prefix(8)
        self.directory = directory
        nodes = (0..<size).map { i in
            Node(name: "n\(i)", port: freePort(), clusterPort: freePort(), directory: directory + "/n\(i)")
        }
        let routePassword = "p" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        let routes = nodes.map { "nats://route:\(routePassword)@127.0.0.1:\($0.clusterPort)" }.joined(separator: ",")
        do {
            for node in nodes {
                try runLib("""
                    fleet_nats_start '\(node.directory)' \(node.port) --server_name \(node.name) \
                    --cluster_name fluke-test --cluster nats://route:\(routePassword)@127.0.0.1:\(node.clusterPort) \
                    --routes '\(routes)'
                    """)
            }
        } catch {
            stop()
            throw error
        }
    }

    /// SIGKILL: the node is gone at once, as a crashed machine is (no lame duck, no flush).
    public func kill(_ name: String) throws {
        guard let node = nodes.first(where: { $0.name == name }) else { throw TestFailure("no node \(name)") }
        let text = (try? String(contentsOfFile: node.directory + "/nats.pid", encoding: .utf8)) ?? ""
        guard let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)),
              (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/exe"))?
                .hasSuffix("nats-server") == true else {
            throw TestFailure("node \(name) is not running")
        }
        _ = Glibc.kill(pid, SIGKILL)
        waitForPortClosed(node.port)
    }

    public func stop() {
        for node in nodes { try? runLib("fleet_nats_stop '\(node.directory)'") }
    }

    deinit { stop() }
}
