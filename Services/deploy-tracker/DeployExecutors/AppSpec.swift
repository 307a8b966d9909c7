import Foundation

/// How an app runs: what `POST /api/v1/apps` takes as `spec`, kept with every release.
///
/// Every field has a default except what its executor needs (`build_command` and
/// `start_command` for process, `image` for swarm and kubernetes), checked by deploy-tracker's
/// API (`AppSpecReader`) before a spec is stored.
public struct AppSpec: Codable, Sendable, Equatable {
    public var replicas: Int
    /// The port the app listens on inside its container or, for the process executor, the
    /// default is the free port handed over in `$PORT`.
    public var port: Int?
    public var env: [String: String]
    public var envFrom: EnvFrom?
    public var healthCheck: HealthCheck
    public var strategy: Strategy
    /// Seconds a deployment may take, from start to the last healthy check: past it, it fails
    /// (and rolls back).
    public var deployTimeout: Int
    public var hooks: Hooks
    public var buildCommand: String?
    public var startCommand: String?
    public var image: String?

    /// `env_from`: values come from context-api's env vars of the app's project and this environment.
    public struct EnvFrom: Codable, Sendable, Equatable {
        public var environment: String
        public init(environment: String) { self.environment = environment }
    }

    /// An HTTP GET of `path` on each replica; 2xx and 3xx are healthy.
    public struct HealthCheck: Codable, Sendable, Equatable {
        public var path: String
        /// Seconds between checks.
        public var interval: Int
        /// Seconds one check may take.
        public var timeout: Int
        /// Failed checks in a row before a replica is unhealthy.
        public var retries: Int
        /// Seconds after start during which failures do not count.
        public var startPeriod: Int

        public init(path: String = "/", interval: Int = 5, timeout: Int = 5, retries: Int = 10, startPeriod: Int = 5) {
            self.path = path
            self.interval = interval
            self.timeout = timeout
            self.retries = retries
            self.startPeriod = startPeriod
        }

        enum CodingKeys: String, CodingKey {
            case path, interval, timeout, retries
            case startPeriod = "start_period"
        }

        /// Any field may be left out; it takes its default.
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let defaults = HealthCheck()
            path = try c.decodeIfPresent(String.self, forKey: .path) ?? defaults.path
            interval = try c.decodeIfPresent(Int.self, forKey: .interval) ?? defaults.interval
            timeout = try c.decodeIfPresent(Int.self, forKey: .timeout) ?? defaults.timeout
            retries = try c.decodeIfPresent(Int.self, forKey: .retries) ?? defaults.retries
            startPeriod = try c.decodeIfPresent(Int.self, forKey: .startPeriod) ?? defaults.startPeriod
        }
    }

    public struct Strategy: Codable, Sendable, Equatable {
        public enum Kind: String, Codable, Sendable, CaseIterable {
            case rolling, blueGreen = "blue_green", canary
        }

        public var type: Kind
        /// Canary: the percentages of traffic the new release gets, in order (default 10, 50, 100).
        public var steps: [Int]?
        /// Canary: seconds to watch each step before the next.
        public var pause: Int?
        /// Rolling: replicas started above `replicas` at once (default 1).
        public var maxSurge: Int?
        /// Rolling: replicas that may be down at once (default 0).
        public var maxUnavailable: Int?
        /// Blue-green: seconds the previous set keeps running after the switch, for a rollback
        /// without a restart (default 300).
        public var rollbackWindow: Int?
        /// Canary: the share of 5xx answers (0–1) above which a step fails (default 0.05).
        public var maxErrorRatio: Double?

        public init(type: Kind = .rolling, steps: [Int]? = nil, pause: Int? = nil, maxSurge: Int? = nil,
                    maxUnavailable: Int? = nil, rollbackWindow: Int? = nil, maxErrorRatio: Double? = nil) {
            self.type = type
            self.steps = steps
            self.pause = pause
            self.maxSurge = maxSurge
            self.maxUnavailable = maxUnavailable
            self.rollbackWindow = rollbackWindow
            self.maxErrorRatio = maxErrorRatio
        }

        public var canarySteps: [Int] { steps ?? [10, 50, 100] }

        enum CodingKeys: String, CodingKey {
            case type, steps, pause
            case maxSurge = "max_surge", maxUnavailable = "max_unavailable", rollbackWindow = "rollback_window",
                 maxErrorRatio = "max_error_ratio"
        }

        /// `type` defaults to rolling; the rest to their documented defaults.
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            type = try c.decodeIfPresent(Kind.self, forKey: .type) ?? .rolling
            steps = try c.decodeIfPresent([Int].self, forKey: .steps)
            pause = try c.decodeIfPresent(Int.self, forKey: .pause)
            maxSurge = try c.decodeIfPresent(Int.self, forKey: .maxSurge)
            maxUnavailable = try c.decodeIfPresent(Int.self, forKey: .maxUnavailable)
            rollbackWindow = try c.decodeIfPresent(Int.self, forKey: .rollbackWindow)
            maxErrorRatio = try c.decodeIfPresent(Double.self, forKey: .maxErrorRatio)
        }
    }

    /// Commands run in the app's work directory (process, swarm) or as Jobs (kubernetes).
    public struct Hooks: Codable, Sendable, Equatable {
        public var preBuild: String?
        public var preDeploy: String?
        public var postDeploy: String?

        public init(preBuild: String? = nil, preDeploy: String? = nil, postDeploy: String? = nil) {
            self.preBuild = preBuild
            self.preDeploy = preDeploy
            self.postDeploy = postDeploy
        }

        enum CodingKeys: String, CodingKey {
            case preBuild = "pre_build", preDeploy = "pre_deploy", postDeploy = "post_deploy"
        }
    }

    public init(replicas: Int = 1, port: Int? = nil, env: [String: String] = [:], envFrom: EnvFrom? = nil,
                healthCheck: HealthCheck = .init(), strategy: Strategy = .init(), deployTimeout: Int = 600,
                hooks: Hooks = .init(), buildCommand: String? = nil, startCommand: String? = nil, image: String? = nil) {
        self.replicas = replicas
        self.port = port
        self.env = env
        self.envFrom = envFrom
        self.healthCheck = healthCheck
        self.strategy = strategy
        self.deployTimeout = deployTimeout
        self.hooks = hooks
        self.buildCommand = buildCommand
        self.startCommand = startCommand
        self.image = image
    }

    enum CodingKeys: String, CodingKey {
        case replicas, port, env, strategy, hooks, image
        case envFrom = "env_from", healthCheck = "health_check", deployTimeout = "deploy_timeout",
             buildCommand = "build_command", startCommand = "start_command"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = AppSpec()
        replicas = try c.decodeIfPresent(Int.self, forKey: .replicas) ?? defaults.replicas
        port = try c.decodeIfPresent(Int.self, forKey: .port)
        env = try c.decodeIfPresent([String: String].self, forKey: .env) ?? [:]
        envFrom = try c.decodeIfPresent(EnvFrom.self, forKey: .envFrom)
        healthCheck = try c.decodeIfPresent(HealthCheck.self, forKey: .healthCheck) ?? defaults.healthCheck
        strategy = try c.decodeIfPresent(Strategy.self, forKey: .strategy) ?? defaults.strategy
        deployTimeout = try c.decodeIfPresent(Int.self, forKey: .deployTimeout) ?? defaults.deployTimeout
        hooks = try c.decodeIfPresent(Hooks.self, forKey: .hooks) ?? defaults.hooks
        buildCommand = try c.decodeIfPresent(String.self, forKey: .buildCommand)
        startCommand = try c.decodeIfPresent(String.self, forKey: .startCommand)
        image = try c.decodeIfPresent(String.self, forKey: .image)
    }
}
