import DeployExecutors
import FlukeModels
import FlukeNATS
import FlukeRuntime
import Foundation

/// deploy-tracker's own settings, on top of the fleet's common ones.
public struct DeployConfig: Sendable {
    public var common: FleetConfig
    public var auth: AuthConfig
    public var retention: DeployRetention
    /// Where builds, releases, uploads and the process executor's nginx live.
    public var dataDirectory: URL
    /// Releases kept per app (`DEPLOY_KEEP_RELEASES`); older ones go with their artifacts.
    public var keepReleases: Int
    /// Deployments waiting per app before `409 queue_full`.
    public var queueLimit: Int
    /// Largest source tarball `POST /api/v1/apps/{app_name}/deployments` takes.
    public var maxUploadBytes: Int
    /// Deployments one replica drives at once.
    public var concurrency: Int
    /// How long a replica's claim on a deployment lasts without renewal.
    public var lease: Duration
    /// How long to wait for context-api's env vars (`fluke.rpc.context.env`).
    public var contextTimeout: Duration
    /// Most bytes of finished deployments kept in memory for `GET /api/v1/deployments/{deployment_id}`.
    public var deploymentCacheMaxBytes: Int
    /// The executors apps may use here.
    public var executors: Set<ExecutorKind>
    /// `FLUKE_LOGS` bounds (`FLUKE_LOGS_MAX_BYTES`, `FLUKE_LOGS_MAX_AGE`), shared with log-streamer.
    public var logStream: LogStreamSettings
    /// The settings executors read (`DEPLOY_PROCESS_USER`, `DOCKER_HOST`, `KUBERNETES_*`, …).
    public var environment: [String: String]

    public static let defaultPort = 3000

    public static let variables: [ConfigVariable] = FleetConfig.variables(defaultPort: defaultPort)
        + AuthConfig.variables + DeployRetention.variables + LogStreamSettings.variables + [
            ConfigVariable("DEPLOY_DATA_DIR", default: "/var/lib/fluke-deploy",
                           "builds, kept releases, uploads and the process executor's nginx state"),
            ConfigVariable("DEPLOY_KEEP_RELEASES", default: "10", "releases kept per app (rollback targets)"),
            ConfigVariable("DEPLOY_QUEUE_LIMIT", default: "10", "deployments waiting per app before 409 queue_full"),
            ConfigVariable("DEPLOY_MAX_UPLOAD_BYTES", default: "268435456", "largest source tarball accepted (256 MiB)"),
            ConfigVariable("DEPLOY_CONCURRENCY", default: "64", "deployments one replica drives at once"),
            ConfigVariable("DEPLOY_LEASE_SECONDS", default: "15",
                           "seconds a replica's claim on a deployment lasts unrenewed; another replica takes over after"),
            ConfigVariable("DEPLOY_CONTEXT_TIMEOUT", default: "5", "seconds to wait for context-api's env vars"),
            ConfigVariable("DEPLOY_DEPLOYMENT_CACHE_MAX_BYTES", default: "16777216",
                           "most bytes of finished deployments kept in memory for GET /api/v1/deployments/{deployment_id} (0: none)"),
            ConfigVariable("DEPLOY_EXECUTORS", default: "process,swarm,kubernetes",
                           "executors apps may use: process, swarm, kubernetes (comma-separated)"),
            ConfigVariable("DEPLOY_PROCESS_USER", default: "", "run process-executor builds and replicas as this user"),
            ConfigVariable("DEPLOY_NGINX_BIN", default: "nginx", "the nginx binary the process executor runs"),
            ConfigVariable("DEPLOY_APP_PORTS", default: "20000-20999", "ports nginx gives apps (one stable port each)"),
            ConfigVariable("DEPLOY_REPLICA_PORTS", default: "21000-29999", "ports process-executor replicas listen on"),
            ConfigVariable("DOCKER_HOST", default: "unix:///var/run/docker.sock", "the Docker Engine of the swarm executor"),
            ConfigVariable("KUBERNETES_API_URL", default: "", "the Kubernetes API server (default: in-cluster)"),
            ConfigVariable("KUBERNETES_TOKEN_FILE", default: "", "bearer token file (default: the service account's)"),
            ConfigVariable("KUBERNETES_CA_FILE", default: "", "CA bundle of the API server (default: the service account's)"),
            ConfigVariable("KUBERNETES_NAMESPACE", default: "", "namespace apps go to (default: the service account's)"),
        ]

    public init(reader: ConfigReader) throws {
        common = try FleetConfig(serviceName: "deploy-tracker", reader: reader)
        auth = try AuthConfig(reader: reader)
        retention = try DeployRetention(reader: reader)
        let dir = try reader.string("DEPLOY_DATA_DIR")
        guard dir.hasPrefix("/") else { throw ConfigError("DEPLOY_DATA_DIR", "must be an absolute path") }
        dataDirectory = URL(fileURLWithPath: dir, isDirectory: true)
        keepReleases = try reader.int("DEPLOY_KEEP_RELEASES", in: 1...1000)
        queueLimit = try reader.int("DEPLOY_QUEUE_LIMIT", in: 1...1000)
        maxUploadBytes = try reader.int("DEPLOY_MAX_UPLOAD_BYTES", in: 1024...(1 << 34))
        concurrency = try reader.int("DEPLOY_CONCURRENCY", in: 1...1000)
        lease = try reader.seconds("DEPLOY_LEASE_SECONDS", minimum: 2)
        contextTimeout = try reader.seconds("DEPLOY_CONTEXT_TIMEOUT", minimum: 0.1)
        deploymentCacheMaxBytes = try reader.int("DEPLOY_DEPLOYMENT_CACHE_MAX_BYTES", in: 0...(1 << 40))
        logStream = try LogStreamSettings(reader: reader)
        var kinds = Set<ExecutorKind>()
        for name in try reader.string("DEPLOY_EXECUTORS").split(separator: ",") {
            let trimmed = name.trimmingCharacters(in: .whitespaces)
            guard let kind = ExecutorKind(rawValue: trimmed) else {
                throw ConfigError("DEPLOY_EXECUTORS", "names \(trimmed), not one of process, swarm, kubernetes")
            }
            kinds.insert(kind)
        }
        guard !kinds.isEmpty else { throw ConfigError("DEPLOY_EXECUTORS", "must name at least one executor") }
        executors = kinds
        var environment: [String: String] = [:]
        for name in ["DEPLOY_PROCESS_USER", "DEPLOY_NGINX_BIN", "DEPLOY_APP_PORTS", "DEPLOY_REPLICA_PORTS", "DOCKER_HOST",
                     "KUBERNETES_API_URL", "KUBERNETES_TOKEN_FILE", "KUBERNETES_CA_FILE", "KUBERNETES_NAMESPACE"] {
            if let value = reader.optionalString(name), !value.isEmpty { environment[name] = value }
        }
        self.environment = environment
    }
}
