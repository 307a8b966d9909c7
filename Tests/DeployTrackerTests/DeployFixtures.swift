import DeployExecutors
import FlukeTestSupport
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing

/// The fixture app (Tests/DeployExecutorTests/Fixtures/app.py) as a git repository, and the
/// spec deploying it with the process executor.
enum DeployFixtures {
    /// A repository holding the fixture app; each deployment's build writes its release into
    /// `version.txt`, which the app serves.
    static func appRepository() throws -> URL {
        let app = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("DeployExecutorTests/Fixtures/app.py")
        return try DeployHarness.gitRepository(["app.py": try String(contentsOf: app, encoding: .utf8)])
    }

    /// `replicas` of the fixture app with quick health checks; `build` replaces the build command.
    static func spec(replicas: Int = 3, strategy: String = "rolling", build: String? = nil, env: [String: String] = [:],
                     timeout: Int = 120, hooks: [String: String] = [:]) -> [String: Any] {
        var spec: [String: Any] = [
            "replicas": replicas,
            "health_check": ["path": "/health", "interval": 1, "timeout": 2, "retries": 3, "start_period": 1],
            "strategy": ["type": strategy, "pause": 1, "rollback_window": 5],
            "deploy_timeout": timeout,
            "build_command": build ?? "printf '%s' \"$RELEASE\" > version.txt",
            "start_command": "exec /usr/bin/python3 app.py",
            "env": env,
        ]
        if !hooks.isEmpty { spec["hooks"] = hooks }
        return spec
    }

    /// Port ranges per tracker, apart from the executor tests' (10000–29999) and below the
    /// ephemeral range the services' own ports come from; a shared block is still safe (every
    /// port is bind-checked), only less likely.
    static func ports() -> [String: String] {
        let base = 30_000 + Int.random(in: 0..<10) * 270
        return ["DEPLOY_APP_PORTS": "\(base)-\(base + 49)", "DEPLOY_REPLICA_PORTS": "\(base + 50)-\(base + 269)",
                "DEPLOY_EXECUTORS": "process"]
    }

    /// What the app answers on `/` through its address, or nil when it does not answer 200.
    static func served(_ url: String) async -> String? {
        guard let target = URL(string: url + "/") else { return nil }
        var request = URLRequest(url: target)
        request.timeoutInterval = 3
        guard let (data, response) = try? await URLSession.shared.data(for: request),
              (response as? HTTPURLResponse)?.statusCode == 200 else { return nil }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Stops what a tracker's process executor left running in `dataDirectory` (its replicas and
    /// nginx outlive the tracker by design).
    static func stopLeftovers(_ dataDirectory: String, tenantID: UUID, apps: [String]) async {
        guard let executor = try? ProcessExecutor(configuration: .init(
            dataDirectory: URL(fileURLWithPath: dataDirectory).appendingPathComponent("process"))) else { return }
        for app in apps { try? await executor.remove(tenantID: tenantID, app: app) }
        await executor.stopNginx()
    }
}
