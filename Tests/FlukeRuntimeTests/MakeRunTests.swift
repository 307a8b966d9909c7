import FlukePostgres
import FlukeTestSupport
import Foundation
import Testing

/// `make run` itself (deploy/local/run.sh, with the executables `make test` built and a state
/// directory of its own): a second run leaves the first alone, a run killed with -9 does not stop
/// the next, and SIGTERM leaves no process behind.
@Suite("make run", .needsPostgresAndNATS)
struct MakeRunTests {
    static let servicePorts = [8000, 8001, 8080, 8082]

    static func portInUse(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }

    /// The services' ports are fixed; a developer's own fleet on this machine means not now.
    static var portsFree: Bool { !servicePorts.contains(where: portInUse) }

    /// One `make run`, spawned with posix_spawn and reaped with waitpid: Foundation's Process
    /// on Linux waits for the daemons the script leaves behind before it reports an exit.
    final class Run: @unchecked Sendable {
        let pid: pid_t
        let output: String
        private var status: Int32?

        init(runDir: String, pgPort: Int, natsPort: Int) throws {
            output = runDir + "-" + UUID().uuidString.prefix(6) + ".out"
            var env = ProcessInfo.processInfo.environment
            env["FLUKE_SKIP_BUILD"] = "1"
            env["FLUKE_RUN_DIR"] = runDir
            env["FLUKE_PG_PORT"] = String(pgPort)
            env["FLUKE_NATS_PORT"] = String(natsPort)
            // make test's own NATS passwords must not leak in: run.sh generates its fleet's.
            for key in env.keys where (key.hasPrefix("FLUKE_NATS_") && key.hasSuffix("_PASSWORD")) || key.hasPrefix("FLUKE_TEST_") {
                env[key] = nil
            }
            let script = TestEnvironment.repositoryRoot.path + "/deploy/local/run.sh"
            let args = ["/bin/bash", "-c", "exec bash \"$0\" >\"$1\" 2>&1 </dev/null", script, output]
            var cArgs = args.map { strdup($0) } + [nil]
            var cEnv = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
            defer { cArgs.forEach { free($0) }; cEnv.forEach { free($0) } }
            // The test process may ignore or block SIGTERM and SIGINT, and a shell cannot trap a
            // signal ignored when it started: give the script the default dispositions and mask.
            var attributes = posix_spawnattr_t()
            posix_spawnattr_init(&attributes)
            defer { posix_spawnattr_destroy(&attributes) }
            var defaults = sigset_t(), empty = sigset_t()
            sigemptyset(&defaults)
            sigaddset(&defaults, SIGTERM)
            sigaddset(&defaults, SIGINT)
            sigemptyset(&empty)
            posix_spawnattr_setsigdefault(&attributes, &defaults)
            posix_spawnattr_setsigmask(&attributes, &empty)
            posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
            var pid: pid_t = 0
            let rc = posix_spawn(&pid, "/bin/bash", nil, &attributes, &cArgs, &cEnv)
            guard rc == 0 else { throw TestFailure("posix_spawn failed: \(rc)") }
            self.pid = pid
        }

        var text: String { (try? String(contentsOfFile: output, encoding: .utf8)) ?? "" }

        /// The exit status once it has exited (128 + n for a signal), else nil.
        func exited() -> Int32? {
            if let status { return status }
            var raw: Int32 = 0
            guard waitpid(pid, &raw, WNOHANG) == pid else { return nil }
            status = raw & 0x7F == 0 ? (raw >> 8) & 0xFF : 128 + (raw & 0x7F)
            return status
        }

        func waitForExit(timeout: Duration) async throws -> Int32 {
            try await eventually(timeout: timeout, "make run to exit") { self.exited() != nil }
            return exited()!
        }
    }

    static func alive(_ pid: Int32) -> Bool {
        // A zombie (exited, not yet reaped) has no exe link.
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/exe")) != nil
    }

    @Test("a second make run is refused and leaves the first running; after kill -9 the next starts cleanly; SIGTERM leaves nothing behind",
          .enabled(if: MakeRunTests.portsFree, "ports 8000, 8001, 8080 or 8082 are taken (a fleet is running here)"),
          .timeLimit(.minutes(5)))
    func lifecycle() async throws {
        let runDir = TestEnvironment.workDir + "/run-" + UUID().uuidString.prefix(8)
        do {
            try await Self.lifecycle(runDir: runDir)
        } catch {
            Self.stopLeftovers(runDir)
            throw error
        }
    }

    /// After a failure: whatever the runs left (services, nats-server, Postgres) goes.
    static func stopLeftovers(_ runDir: String) {
        let parent = (runDir as NSString).deletingLastPathComponent
        for file in (try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? []
        where file.hasPrefix((runDir as NSString).lastPathComponent + "-") {
            let text = (try? String(contentsOfFile: parent + "/" + file, encoding: .utf8)) ?? ""
            FileHandle.standardError.write(Data("---- \(file)\n\(text.suffix(3000))\n".utf8))
        }
        if let text = try? String(contentsOfFile: runDir + "/run.pid", encoding: .utf8),
           let pid = Int32(text.split(separator: " ").first ?? "") { kill(pid, SIGTERM) }
        sleep(3)
        for file in (try? FileManager.default.contentsOfDirectory(atPath: runDir)) ?? [] where file.hasSuffix(".pid") {
            if let text = try? String(contentsOfFile: runDir + "/" + file, encoding: .utf8),
               let pid = Int32(text.split(separator: " ").first?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") {
                kill(pid, SIGKILL)
            }
        }
        try? runLib("fleet_nats_stop '\(runDir)/nats'; fleet_pg_stop '\(runDir)/pg'")
    }

    static func lifecycle(runDir: String) async throws {
        let (pgPort, natsPort) = (freePort(), freePort())
        let first = try Run(runDir: runDir, pgPort: pgPort, natsPort: natsPort)
        // Until the banner's last line: the lines after "is running" were read a moment later once.
        try await eventually(timeout: .seconds(120), "the first fleet running, its banner printed") {
            first.text.contains("FlukeBase Fleet is running") && first.text.contains("with nothing but python3:")
        }
        let fleetEnv = try String(contentsOfFile: runDir + "/fleet.env", encoding: .utf8)
        #expect(fleetEnv.contains("FLUKE_NATS_HEARTBEAT_USER=heartbeat"))
        #expect(fleetEnv.contains("FLUKE_NATS_HEARTBEAT_PASSWORD=p"))
        // fluke needs nothing but what make run wrote: the URLs, the admin token, federation's key.
        #expect(first.text.contains("fluke projects"), "the banner suggests fluke")
        // The dashboard: its URL in the banner, served, and every service open to it (CORS).
        #expect(first.text.contains("http://127.0.0.1:8000/ui/"), "the banner names the dashboard")
        let page = try await HTTP.get("http://127.0.0.1:8000/ui/")
        #expect(page.status == 200 && String(decoding: page.body, as: UTF8.self).contains("type=\"module\""))
        let preflight = try await HTTP.send("OPTIONS", "http://127.0.0.1:8080/api/v1/projects/x/env",
                                            headers: ["Origin": "http://127.0.0.1:8000", "Access-Control-Request-Method": "GET"])
        #expect(preflight.status == 204 && preflight.headers.contains { $0.key.lowercased() == "access-control-allow-origin" })
        let noLogin = ["XDG_CONFIG_HOME": runDir + "/fluke-config"]
        for command in [["projects", "--json"], ["catalog", "--json"]] {
            let run = try await CommandRun.run(TestEnvironment.binDir + "/fluke", command + ["--fleet-env", runDir + "/fleet.env"],
                                               environment: noLogin)
            #expect(run.status == 0, "fluke \(command[0]): \(run.stderr)")
            #expect((try? run.json() as? [String: Any])?["items"] != nil, "\(run.stdout)")
        }
        // Its Postgres asks every role for its own password.
        let secrets = try String(contentsOfFile: runDir + "/secrets.env", encoding: .utf8)
        let pmPassword = try #require(secrets.split(separator: "\n").first { $0.hasPrefix("FLUKE_DB_PM_PASSWORD=") }?
            .split(separator: "=", maxSplits: 1).last.map(String.init))
        for (url, accepted) in [("postgres://fluke_pm@127.0.0.1:\(pgPort)/fluke", false),
                                ("postgres://fluke_pm:wrong@127.0.0.1:\(pgPort)/fluke", false),
                                ("postgres://postgres@127.0.0.1:\(pgPort)/fluke", false),
                                ("postgres://fluke_pm:\(pmPassword)@127.0.0.1:\(pgPort)/fluke", true)] {
            let client = PostgresClient(configuration: .init(url: url, applicationName: "make-run-test", maxConnections: 1),
                                        logger: TestEnvironment.logger)
            let ok = (try? await client.ping()) != nil
            #expect(ok == accepted, "\(url.replacingOccurrences(of: pmPassword, with: "…"))")
            await client.shutdown()
        }

        let second = try Run(runDir: runDir, pgPort: freePort(), natsPort: freePort())
        #expect(try await second.waitForExit(timeout: .seconds(60)) != 0)
        #expect(second.text.contains("already running"), "\(second.text)")
        #expect(second.text.contains("pid \(first.pid)"))
        #expect(try await HTTP.get("http://127.0.0.1:8000/ready").status == 200)
        #expect(FileManager.default.fileExists(atPath: runDir + "/fleet.env"))

        // A crash of make run itself: its servers stay, with their pid files.
        kill(first.pid, SIGKILL)
        _ = try await first.waitForExit(timeout: .seconds(10))
        let third = try Run(runDir: runDir, pgPort: pgPort, natsPort: natsPort)
        try await eventually(timeout: .seconds(120), "the next fleet running") { third.text.contains("FlukeBase Fleet is running") }
        #expect(try await HTTP.get("http://127.0.0.1:8000/ready").status == 200)
        let pidFiles = try FileManager.default.contentsOfDirectory(atPath: runDir).filter { $0.hasSuffix(".pid") && $0 != "run.pid" }
        var pids = try pidFiles.compactMap { Int32(try String(contentsOfFile: runDir + "/" + $0, encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)) }
        if let nats = try? String(contentsOfFile: runDir + "/nats/nats.pid", encoding: .utf8) {
            pids += [Int32(nats.trimmingCharacters(in: .whitespacesAndNewlines))].compactMap { $0 }
        }
        #expect(pids.count >= 5, "\(pidFiles)")

        kill(third.pid, SIGTERM)
        #expect(try await third.waitForExit(timeout: .seconds(60)) == 0, "\(third.text)")
        for pid in pids { #expect(!Self.alive(pid), "pid \(pid) outlived make run") }
        #expect(!FileManager.default.fileExists(atPath: runDir + "/fleet.env"))
        #expect(!FileManager.default.fileExists(atPath: runDir + "/pg/data/postmaster.pid"))
        for port in Self.servicePorts { #expect(!Self.portInUse(port), "port \(port) still open") }
    }
}
