import DeployExecutors
import FlukeRuntime
import Foundation
import Logging
import ServiceLifecycle
#if canImport(Glibc)
import Glibc
#endif

/// The executors `DEPLOY_EXECUTORS` enables, configured from the service's settings.
func makeExecutors(config: DeployConfig, logger: Logger) throws -> ExecutorSet {
    var executors: [any DeployExecutor] = []
    var workers: [any Service] = []
    let env = config.environment
    if config.executors.contains(.process) {
        let ports = try portRange(env["DEPLOY_APP_PORTS"], "DEPLOY_APP_PORTS", default: 20000...20999)
        let replicaPorts = try portRange(env["DEPLOY_REPLICA_PORTS"], "DEPLOY_REPLICA_PORTS", default: 21000...29999)
        let process = try ProcessExecutor(configuration: .init(
            dataDirectory: config.dataDirectory.appendingPathComponent("process", isDirectory: true),
            nginxBinary: env["DEPLOY_NGINX_BIN"].flatMap { $0 == "nginx" ? nil : $0 }, appPortRange: ports,
            replicaPortRange: replicaPorts, processUser: env["DEPLOY_PROCESS_USER"]))
        executors.append(process)
        // Replicas of deploy-tracker on one machine share the data directory: one supervises.
        let lock = config.dataDirectory.appendingPathComponent("process/supervisor.lock").path
        workers.append(Supervisor { await SupervisorLock(path: lock).whileHeld { await process.supervise() } })
    }
    if config.executors.contains(.swarm) {
        do {
            executors.append(try SwarmExecutor(configuration: .fromEnvironment(env)))
        } catch {
            throw ConfigError("DOCKER_HOST", "is not usable: \(error)")
        }
    }
    if config.executors.contains(.kubernetes) {
        // Only when the cluster is configured: a tracker outside Kubernetes keeps the others.
        if let configuration = try? KubernetesExecutor.Configuration.fromEnvironment(env.merging(
            ProcessInfo.processInfo.environment.filter { $0.key.hasPrefix("KUBERNETES_SERVICE_") }) { own, _ in own }) {
            let kubernetes = try KubernetesExecutor(configuration: configuration)
            executors.append(kubernetes)
            workers.append(ShutdownHook { try? await kubernetes.shutdown() })
        } else {
            logger.notice("kubernetes executor off: no KUBERNETES_API_URL and not in a cluster")
        }
    }
    return ExecutorSet(executors, workers: workers)
}

/// `low-high`, as `DEPLOY_APP_PORTS` and `DEPLOY_REPLICA_PORTS` write it.
func portRange(_ raw: String?, _ name: String, default value: ClosedRange<Int>) throws -> ClosedRange<Int> {
    guard let raw else { return value }
    let parts = raw.split(separator: "-").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
    guard parts.count == 2, parts[0] >= 1024, parts[0] <= parts[1], parts[1] <= 65535 else {
        throw ConfigError(name, "must be a port range such as 20000-20999 (above 1023)")
    }
    return parts[0]...parts[1]
}

/// An executor's long-lived watch (the process executor's replica supervisor), stopped at shutdown.
struct Supervisor: Service {
    let body: @Sendable () async -> Void
    init(_ body: @escaping @Sendable () async -> Void) { self.body = body }
    func run() async throws {
        await cancelWhenGracefulShutdown { await body() }
    }
}

/// An exclusive `flock` on a file in the data directory: held by one process at a time, and
/// released by the kernel when its holder dies (even by kill -9).
struct SupervisorLock: Sendable {
    let path: String

    /// Runs `body` once the lock is held, trying every 2 s until then; returns when cancelled.
    func whileHeld(_ body: @Sendable () async -> Void) async {
        while !Task.isCancelled {
            let fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
            if fd >= 0 {
                if flock(fd, LOCK_EX | LOCK_NB) == 0 {
                    await body()
                    close(fd)
                    return
                }
                close(fd)
            }
            try? await Task.sleep(for: .seconds(2))
        }
    }
}
