import DeployExecutors
@testable import FlukeCLI
import DeployTracker
import FleetTestServices
import FlukeTestSupport
import Foundation
import LogStreamer
import ProjectManager
import Testing

/// `fluke deploy` against project-manager, deploy-tracker (process executor, nginx) and
/// log-streamer: an upload goes through its five phases, printed as they pass, with its log.
@Suite("fluke deploy with the process executor", .needsPostgresAndNATS)
struct DeployCLITests {
    static let appSource = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("DeployExecutorTests/Fixtures/app.py")

    static func spec(build: String) -> String {
        let spec: [String: Any] = [
            "replicas": 1, "deploy_timeout": 120, "build_command": build, "start_command": "exec /usr/bin/python3 app.py",
            "health_check": ["path": "/health", "interval": 1, "timeout": 2, "retries": 3, "start_period": 1],
        ]
        return String(decoding: try! JSONSerialization.data(withJSONObject: spec), as: UTF8.self)
    }

    @Test("apps create, then deploy DIR: every phase printed in order with the build's log lines, exit 0; a failing build exits 2")
    func deployDirectory() async throws {
        let fleet = try await ServiceHarness(
            migrating: [PMMigrations.migrator, DeployMigrations.migrator, LogsMigrations.migrator],
            fleetSettings: ["FLUKE_JWT_PUBLIC_KEYS": TestKeys.jwtPublicKeys, "FLUKE_ENCRYPTION_KEY": ServiceSettings.encryptionKey])
        let data = TestEnvironment.workDir + "/fluke-deploy-\(UUID().uuidString.prefix(8))"
        let base = 40_000 + Int.random(in: 0..<20) * 100
        let trackerSettings = ["DEPLOY_DATA_DIR": data, "DEPLOY_EXECUTORS": "process",
                               "DEPLOY_APP_PORTS": "\(base)-\(base + 19)", "DEPLOY_REPLICA_PORTS": "\(base + 20)-\(base + 99)"]
        let source = TestEnvironment.workDir + "/fluke-src-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.appSource.path, toPath: source + "/app.py")

        try await fleet.run(.projectManager) { pmClient, _ in
            let pm = JSONClient(client: pmClient)
            let world = try await TenantWorld.make(pm, scopes: ["context:read", "deploy:write", "logs:read", "logs:write"])
            do {
                try await Self.run(fleet, trackerSettings, pmPort: pmClient.port!, world: world, data: data, source: source)
            } catch {
                await DeployFixturesCleanup.stop(data, tenant: world.tenantID, apps: ["web", "broken"])
                throw error
            }
            await DeployFixturesCleanup.stop(data, tenant: world.tenantID, apps: ["web", "broken"])
        }
    }

    static func run(_ fleet: ServiceHarness, _ trackerSettings: [String: String], pmPort: Int, world: TenantWorld,
                    data: String, source: String) async throws {
        try await fleet.run(.logStreamer) { logsClient, _ in
            try await fleet.run(.deployTracker, trackerSettings) { trackerClient, _ in
                let env = [
                    "FLUKE_PROJECT_MANAGER_URL": "http://127.0.0.1:\(pmPort)",
                    "FLUKE_DEPLOY_TRACKER_URL": "http://127.0.0.1:\(trackerClient.port!)",
                    "FLUKE_LOG_STREAMER_URL": "http://127.0.0.1:\(logsClient.port!)",
                    "FLUKE_TOKEN": world.token, "XDG_CONFIG_HOME": data + "/config",
                ]
                let created = try await FlukeHarness.fluke(["apps", "create", "web", "--executor", "process", "--spec",
                                                            Self.spec(build: "echo building the site; printf v > version.txt")], env)
                try #require(created.status == 0, "\(created.stderr)")
                let deployed = try await CommandRun.run(FlukeHarness.fluke, ["deploy", source, "--app", "web"], environment: env,
                                                        timeout: .seconds(180))
                #expect(deployed.status == 0, "\(deployed.stdout)\n\(deployed.stderr)")
                let lines = deployed.stdout.split(separator: "\n").map(String.init)
                let phases = lines.filter { $0.contains(": succeeded") || $0.contains(": skipped") }.map { $0.prefix { $0 != ":" } }
                #expect(phases == ["pre_build", "build", "pre_deploy", "deploy", "post_deploy"], "\(deployed.stdout)")
                #expect(lines.last?.hasSuffix(": success") == true, "\(deployed.stdout)")
                #expect(deployed.stdout.contains("building the site"), "the build's own output arrives: \(deployed.stdout)")
                // Every line of the deployment's log printed once, from the live tail (replayed from before it opened).
                let listed = try await FlukeHarness.fluke(["deployments", "list", "web", "--json"], env)
                let latest = try #require(((try listed.json() as? [String: Any])?["items"] as? [[String: Any]])?.first?["id"] as? String)
                let full = try await FlukeHarness.fluke(["logs", "web", "--deployment", latest, "--limit", "1000", "--json"], env)
                let messages = try #require(try full.json() as? [[String: Any]], "\(full.stdout)").compactMap { $0["message"] as? String }
                let printed = lines.filter { $0.hasPrefix("  ") }
                #expect(printed.count == messages.count && !messages.isEmpty, "printed \(printed) of \(messages)")
                #expect(zip(printed, messages).allSatisfy { $0.hasSuffix($1) }, "in the log's order: \(printed) vs \(messages)")

                // The log afterwards, oldest first; then --follow shows what comes next.
                let logs = try await FlukeHarness.fluke(["logs", "web", "--json"], env)
                let logged = try #require(try logs.json() as? [[String: Any]], "\(logs.stdout)")
                #expect(logged.contains { ($0["message"] as? String)?.contains("building the site") == true })
                let follower = try ServiceProcess(executable: "fluke", environment: env, arguments: ["logs", "web", "--follow", "--limit", "1"])
                defer { follower.signal(SIGKILL) }
                try await Task.sleep(for: .seconds(2))
                let posted = try await HTTP.send("POST", "http://127.0.0.1:\(logsClient.port!)/api/v1/logs",
                                                 headers: ["Authorization": "Bearer \(world.token)"],
                                                 json: Data(#"[{"level":"warn","message":"sent while following","source":{"service":"t"},"flukedeploy_metadata":{"app_name":"web"}}]"#.utf8))
                #expect(posted.status == 202, "\(String(decoding: posted.body, as: UTF8.self))")
                try await eventually(timeout: .seconds(20), "fluke logs --follow prints the new line") {
                    follower.log.contains("WARN sent while following")
                }

                // On a terminal: a spinner with the running phase's time, redrawn in place.
                let pty = try await CommandRun.run("/usr/bin/script", ["-qefc", "\(FlukeHarness.fluke) deploy \(source) --app web", "/dev/null"],
                                                   environment: env, timeout: .seconds(180))
                #expect(pty.status == 0, "\(pty.stdout)")
                #expect(pty.stdout.contains("\u{1B}[2K") && DeployWatcher.spinner.contains { pty.stdout.contains($0) },
                        "a spinner redrawn in place: \(pty.stdout.debugDescription.prefix(2000))")
                #expect(pty.stdout.contains(": success"))

                let history = try await FlukeHarness.fluke(["deployments", "list", "web", "--json"], env)
                let items = try #require((try history.json() as? [String: Any])?["items"] as? [[String: Any]])
                #expect(items.first?["status"] as? String == "success")

                // An agent's session over MCP: deploy from git, follow the logs (bounded), roll back.
                let repository = try Self.gitRepository(source)
                var agent = env
                agent["DEPLOY_APP"] = "web"
                agent["DEPLOY_GIT"] = "file://" + repository
                let out = try await MCPTests.session("deploy", agent)
                try Self.checkDeploySession(out)
                // The same over Streamable HTTP, the agent's token sent with each request.
                try await MCPTests.withHTTPServer(env) { url in
                    try Self.checkDeploySession(try await MCPTests.session("deploy", agent, target: url))
                }
                func structured(_ key: String) -> [String: Any] { MCPTests.structured(out[key]) ?? [:] }

                // notifications/cancelled stops a tool call in flight: it is never answered; others are.
                let deploymentID = try #require(structured("final")["id"] as? String)
                let script = TestEnvironment.repositoryRoot.appendingPathComponent("Tests/FlukeCLITests/Fixtures/mcp_cancel.py").path
                let cancel = try await CommandRun.run(MCPTests.python, [script, FlukeHarness.fluke, deploymentID], environment: env,
                                                      timeout: .seconds(60))
                let answered = try #require((try cancel.json() as? [String: Any])?["answered"] as? [String: Double], "\(cancel.stderr)")
                #expect(answered["2"] == nil, "the cancelled call was answered: \(answered)")
                #expect((answered["3"] ?? 99) < 2, "\(answered)")
                #expect((answered["4"] ?? 0) >= 1.5 && (answered["4"] ?? 99) < 8, "the other call still follows for its 2 s: \(answered)")

                _ = try await FlukeHarness.fluke(["apps", "create", "broken", "--executor", "process", "--spec",
                                                  Self.spec(build: "echo the build breaks; exit 3")], env)
                let failed = try await CommandRun.run(FlukeHarness.fluke, ["deploy", source, "--app", "broken"], environment: env,
                                                      timeout: .seconds(180))
                #expect(failed.status == 2, "\(failed.stdout)\n\(failed.stderr)")
                #expect(failed.stdout.contains("build: failed"), "\(failed.stdout)")
            }
        }
    }
}

extension DeployCLITests {
    /// What an agent's MCP deploy session (mcp_session.py "deploy") must have seen.
    static func checkDeploySession(_ out: [String: Any]) throws {
        func structured(_ key: String) -> [String: Any] { MCPTests.structured(out[key]) ?? [:] }
        #expect((out["validate"] as? [String: Any])?["is_error"] as? Bool == false, "\(out["validate"] ?? "")")
        #expect(structured("final")["status"] as? String == "success", "\(out["final"] ?? "")")
        let page = structured("logs_page")
        #expect(((page["entries"] as? [Any])?.count ?? 0) == 3 && page["more"] as? Bool == true, "\(page)")
        #expect(((structured("logs_next")["entries"] as? [Any])?.count ?? 0) > 0)
        let followed = try #require(out["follow_seconds"] as? Double)
        #expect(followed >= 1.5 && followed < 10, "follow waits wait_seconds, not forever: \(followed)")
        #expect((structured("logs_follow")["entries"] as? [Any])?.isEmpty == true)
        let queried = structured("query_logs")["items"] as? [[String: Any]]
        #expect(queried?.count == 2, "query_logs honours limit: \(out["query_logs"] ?? "")")
        let deployments = (structured("history")["deployments"] as? [Any])?.count ?? 0
        #expect(deployments >= 3)
        #expect(structured("rollback_unconfirmed")["confirm_needed"] as? Bool == true)
        #expect((structured("history_after_unconfirmed")["deployments"] as? [Any])?.count == deployments, "nothing without confirm")
        #expect(structured("rollback_final")["status"] as? String == "success", "\(out["rollback_final"] ?? "")")
        #expect(structured("rollback_final")["kind"] as? String == "rollback")
    }

    /// `directory` committed as a git repository (a deployment source), in a copy.
    static func gitRepository(_ directory: String) throws -> String {
        let repository = directory + "-git"
        try FileManager.default.copyItem(atPath: directory, toPath: repository)
        for arguments in [["init", "-q", "-b", "main"], ["add", "."],
                          ["-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-q", "-m", "source"]] {
            let git = Process()
            git.executableURL = URL(fileURLWithPath: "/usr/bin/git")
            git.arguments = ["-C", repository] + arguments
            try git.run()
            git.waitUntilExit()
            guard git.terminationStatus == 0 else { throw TestFailure("git \(arguments) failed") }
        }
        return repository
    }
}

/// What the process executor left running (replicas and nginx outlive the tracker by design).
enum DeployFixturesCleanup {
    static func stop(_ dataDirectory: String, tenant: String, apps: [String]) async {
        guard let tenantID = UUID(uuidString: tenant), let executor = try? ProcessExecutor(configuration: .init(
            dataDirectory: URL(fileURLWithPath: dataDirectory).appendingPathComponent("process"))) else { return }
        for app in apps { try? await executor.remove(tenantID: tenantID, app: app) }
        await executor.stopNginx()
    }
}
