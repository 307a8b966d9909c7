import Foundation

/// Runs apps as Docker Swarm services through the Docker Engine API (`DOCKER_HOST`).
///
/// One service per app and tenant (``serviceName(tenantID:app:)``), labelled `fluke.tenant_id`,
/// `fluke.app` and `fluke.version`. Rollouts are the Engine's own rolling updates, configured
/// from the app's strategy (``updateConfig(for:)``) and judged as the docker CLI judges them,
/// except that any `rollback_*` state is a failed deploy. Hooks run as swarm jobs.
///
/// Canary on swarm: the Engine balances a service's VIP evenly over its tasks and has no
/// traffic weights, so the spec's percentage steps cannot be honoured. A canary is a rolling
/// update one task at a time (`Parallelism` 1), `strategy.pause` seconds apart, that *pauses*
/// on the first failed task rather than rolling back by itself; the executor watches each
/// step (tasks on the new spec / replicas is the share of traffic) and a pause fails the
/// deploy, which the tracker then rolls back.
public struct SwarmExecutor: DeployExecutor {
    /// Where the Engine is and how the executor talks to it.
    public struct Configuration: Sendable {
        /// `unix:///var/run/docker.sock` or `tcp://host:port`, as in `DOCKER_HOST`.
        public var dockerHost: String
        /// The Engine API version prefix. Defaults to `/v1.45`.
        public var apiVersion: String
        /// How often a rollout's progress is read. Defaults to 200 ms, as the docker CLI does.
        public var pollInterval: Duration
        /// An overlay network every app's tasks join, if any.
        public var network: String?
        /// How long a converged rollout must stay converged before it counts. Defaults to nil:
        /// the update config's `Monitor` (the health check interval), as the docker CLI waits.
        public var verifyPeriod: Duration?
        /// How long one Engine request may take to answer. Defaults to 30 seconds.
        public var requestTimeout: Duration
        /// How long scale, restart and hooks may take. Defaults to 600 seconds.
        public var operationTimeout: Duration
        /// The host published ports are reached on: the tcp host of `dockerHost`, else `127.0.0.1`.
        public var publicHost: String?
        /// Credentials for private images: the `X-Registry-Auth` value (base64url of
        /// `{"username","password","serveraddress"}`), sent with pulls, creates and updates so
        /// that every node can pull. Secret: never logged.
        public var registryAuth: String?

        public init(dockerHost: String = "unix:///var/run/docker.sock", apiVersion: String = "/v1.45",
                    pollInterval: Duration = .milliseconds(200), network: String? = nil,
                    verifyPeriod: Duration? = nil, requestTimeout: Duration = .seconds(30),
                    operationTimeout: Duration = .seconds(600), publicHost: String? = nil, registryAuth: String? = nil) {
            self.dockerHost = dockerHost
            self.apiVersion = apiVersion
            self.pollInterval = pollInterval
            self.network = network
            self.verifyPeriod = verifyPeriod
            self.requestTimeout = requestTimeout
            self.operationTimeout = operationTimeout
            self.publicHost = publicHost
            self.registryAuth = registryAuth
        }

        /// The settings from `DOCKER_HOST` (default: the local socket) and `DOCKER_API_VERSION`.
        public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment)
            -> Configuration {
            var configuration = Configuration()
            if let host = environment["DOCKER_HOST"], !host.isEmpty { configuration.dockerHost = host }
            if let version = environment["DOCKER_API_VERSION"], !version.isEmpty {
                configuration.apiVersion = version.hasPrefix("v") ? "/" + version : "/v" + version
            }
            return configuration
        }
    }

    public let configuration: Configuration
    let engine: DockerEngineClient

    public var kind: ExecutorKind { .swarm }

    /// Throws ``DeployFailure`` (`.executor`) when `dockerHost` is neither `unix://` nor `tcp://`.
    public init(configuration: Configuration = .init()) throws {
        self.configuration = configuration
        engine = try DockerEngineClient(dockerHost: configuration.dockerHost, apiVersion: configuration.apiVersion,
                                        requestTimeout: configuration.requestTimeout,
                                        registryAuth: configuration.registryAuth)
    }

    /// The app's service: `fluke-<first 12 hex of the tenant id>-<app>`, unique per tenant.
    /// Service names are DNS labels (at most 63 characters): longer ones keep their start and
    /// end with a hash of the whole name, so they stay unique.
    public static func serviceName(tenantID: UUID, app: String) -> String {
        let tenant = tenantID.uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(12)
        return dnsLabel("fluke-\(tenant)-\(app)")
    }

    static func dnsLabel(_ name: String) -> String {
        guard name.count > 63 else { return name }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a: stable across processes, unlike Hasher.
        for byte in name.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        let hex = String(hash, radix: 16)
        let suffix = String(repeating: "0", count: 16 - hex.count) + hex
        return name.prefix(63 - suffix.count - 1) + "-" + suffix
    }

    static func labels(tenantID: UUID, app: String, version: String?) -> [String: String] {
        var labels = ["fluke.tenant_id": tenantID.uuidString.lowercased(), "fluke.app": app]
        if let version { labels["fluke.version"] = version }
        return labels
    }

    /// The service, or nil when it does not exist.
    func inspect(_ name: String) async throws -> DockerEngine.Service? {
        do {
            return try await engine.get(DockerEngine.Service.self, "/services/\(name)")
        } catch let error as DockerEngineError where error.isNotFound {
            return nil
        }
    }

    /// Runs Engine calls, turning the Engine's refusals into ``DeployFailure`` of `kind`.
    func engineCall<T>(_ kind: DeployFailure.Kind = .executor, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as DockerEngineError {
            throw DeployFailure(kind, error.message)
        } catch let error as DecodingError {
            throw DeployFailure(kind, "unexpected answer from the Docker Engine: \(error)")
        }
    }

    /// The filters query parameter: `{"service":["name"],…}`.
    static func filters(_ filters: [String: [String]]) -> (String, String) {
        let data = (try? JSONSerialization.data(withJSONObject: filters, options: [.sortedKeys])) ?? Data("{}".utf8)
        return ("filters", String(decoding: data, as: UTF8.self))
    }

    func tasks(service: String, desiredRunning: Bool) async throws -> [DockerEngine.SwarmTask] {
        var filters = ["service": [service]]
        if desiredRunning { filters["desired-state"] = ["running"] }
        return try await engine.get([DockerEngine.SwarmTask].self, "/tasks", query: [Self.filters(filters)])
    }
}
