import FlukeModels
import Foundation

/// Where an app runs: the local machine behind nginx (`process`), a Docker Swarm (`swarm`) or a
/// Kubernetes cluster (`kubernetes`).
public enum ExecutorKind: String, Codable, Sendable, CaseIterable {
    case process, swarm, kubernetes
}

/// One release of one app, as an executor needs it to build or roll out.
public struct ReleaseInput: Sendable {
    public var tenantID: UUID
    public var projectID: UUID
    public var app: String
    /// 1, 2, … per app (`v1`, `v2`, …).
    public var version: Int
    public var deploymentID: UUID
    public var spec: AppSpec
    /// `spec.env` with `env_from`'s values merged in: secret, never logged or stored.
    public var environment: [String: String]
    /// The image to run (swarm, kubernetes): the request's `image`, else `spec.image`.
    public var image: String?
    /// The unpacked source to build (process), if this release is built from source.
    public var sourceDirectory: URL?

    public init(tenantID: UUID, projectID: UUID, app: String, version: Int, deploymentID: UUID, spec: AppSpec,
                environment: [String: String], image: String? = nil, sourceDirectory: URL? = nil) {
        self.tenantID = tenantID
        self.projectID = projectID
        self.app = app
        self.version = version
        self.deploymentID = deploymentID
        self.spec = spec
        self.environment = environment
        self.image = image
        self.sourceDirectory = sourceDirectory
    }

    public var versionName: String { "v\(version)" }
}

/// What a build produced and a release keeps, so that a rollback needs no rebuild: a directory
/// under `DEPLOY_DATA_DIR` (process) or an image reference (swarm, kubernetes).
public struct Artifact: Codable, Sendable, Equatable {
    public var reference: String
    public init(reference: String) { self.reference = reference }
}

/// How an app's replicas are doing right now.
public struct ReplicaStatus: Codable, Sendable, Equatable {
    public enum State: String, Codable, Sendable {
        case starting, running, healthy, unhealthy, crashed, stopped
    }

    public var id: String
    public var state: State
    /// The release the replica runs (`v3`).
    public var version: String?
    /// Where it listens, when the executor knows (process: `127.0.0.1:<port>`).
    public var address: String?
    public var restarts: Int

    public init(id: String, state: State, version: String? = nil, address: String? = nil, restarts: Int = 0) {
        self.id = id
        self.state = state
        self.version = version
        self.address = address
        self.restarts = restarts
    }
}

/// Why a rollout failed, in the seed's auto-rollback triggers.
public struct DeployFailure: Error, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// The build command or image pull failed.
        case build
        /// A pre-deploy hook or check failed.
        case validation
        /// The rollout took longer than `deploy_timeout`.
        case timeout
        /// Replicas started but never passed their health check.
        case healthCheck = "health_check"
        /// Replicas exited, or never started.
        case replicaStartup = "replica_startup"
        /// A hook failed after the rollout (post_deploy).
        case hook
        /// The executor could not be reached or refused the request.
        case executor
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { "\(kind.rawValue): \(message)" }
}

/// Where an executor writes what happens: deployment steps (kept, never lost) and app output
/// (best effort).
public struct DeployLog: Sendable {
    /// A deployment step: a health check, a replica started, a scale. Awaited: the tracker
    /// stores it before the call returns.
    public let step: @Sendable (_ level: UnifiedLogEntry.Level, _ event: UnifiedLogEntry.EventKind?, _ message: String) async -> Void
    /// One line of a build's or hook's output.
    public let output: @Sendable (_ line: String, _ stream: String) async -> Void

    public init(step: @escaping @Sendable (UnifiedLogEntry.Level, UnifiedLogEntry.EventKind?, String) async -> Void,
                output: @escaping @Sendable (String, String) async -> Void) {
        self.step = step
        self.output = output
    }

    /// A log that forgets everything (validation, tests that do not look).
    public static let discarding = DeployLog(step: { _, _, _ in }, output: { _, _ in })

    public func info(_ message: String, _ event: UnifiedLogEntry.EventKind? = nil) async { await step(.info, event, message) }
    public func warn(_ message: String, _ event: UnifiedLogEntry.EventKind? = nil) async { await step(.warn, event, message) }
    public func error(_ message: String, _ event: UnifiedLogEntry.EventKind? = nil) async { await step(.error, event, message) }
}

/// One finding of `POST /api/v1/deploy/validate`.
public struct ValidationCheck: Codable, Sendable, Equatable {
    public var name: String
    public var ok: Bool
    public var detail: String

    public init(name: String, ok: Bool, detail: String) {
        self.name = name
        self.ok = ok
        self.detail = detail
    }
}

/// Runs apps on one platform. deploy-tracker drives the five phases and keeps state in
/// Postgres; an executor only acts on its platform and reports, throwing ``DeployFailure``.
///
/// Every method honours task cancellation (a cancelled deployment, a `deploy_timeout`, a
/// tracker shutting down) and leaves the app serving what it served before when a rollout fails
/// part-way, as far as its platform allows.
public protocol DeployExecutor: Sendable {
    var kind: ExecutorKind { get }

    /// Checks the spec, image reference and reachability; starts nothing.
    func validate(_ release: ReleaseInput) async -> [ValidationCheck]

    /// Runs one hook command (`pre_build`, `pre_deploy`, `post_deploy`), its output to `log`;
    /// throws ``DeployFailure`` (`.validation` before the rollout, `.hook` after) when it fails.
    func runHook(_ phase: String, command: String, release: ReleaseInput, log: DeployLog) async throws

    /// Builds the release (process) or resolves its image (swarm, kubernetes); throws `.build`.
    func build(_ release: ReleaseInput, log: DeployLog) async throws -> Artifact

    /// Rolls the app out to `release` with its strategy, returning once every replica is healthy.
    /// `previous` is the release serving now, if any, for strategies that keep it around.
    func deploy(_ release: ReleaseInput, artifact: Artifact, previous: ReleaseInput?, log: DeployLog) async throws

    /// Restores an earlier, kept release without rebuilding it.
    func rollback(to release: ReleaseInput, artifact: Artifact, from current: ReleaseInput?, log: DeployLog) async throws

    /// The app's replicas now (empty when it does not run).
    func replicas(tenantID: UUID, app: String) async throws -> [ReplicaStatus]

    func scale(tenantID: UUID, app: String, replicas: Int, log: DeployLog) async throws
    func restart(tenantID: UUID, app: String, log: DeployLog) async throws
    /// Stops and removes everything the app runs.
    func remove(tenantID: UUID, app: String) async throws

    /// The app's stable address (`http://127.0.0.1:<port>`, a service's VIP), if it has one.
    func url(tenantID: UUID, app: String) async -> String?

    /// Follows the app's output (stdout and stderr of every replica: process output files,
    /// service logs, pod logs) from `since`, handing each line to `line`, until cancelled.
    /// Returns when the app has no output to follow (it does not run).
    func followLogs(tenantID: UUID, app: String, since: Date?, _ line: @escaping @Sendable (AppLogLine) async -> Void)
        async throws
}

/// One line an app wrote.
public struct AppLogLine: Sendable, Equatable {
    public var timestamp: Date
    /// The replica, task or pod that wrote it.
    public var replica: String
    /// `stdout` or `stderr`.
    public var stream: String
    public var text: String

    public init(timestamp: Date, replica: String, stream: String, text: String) {
        self.timestamp = timestamp
        self.replica = replica
        self.stream = stream
        self.text = text
    }
}

extension DeployExecutor {
    /// By default a rollback is a rollout of the older release's kept artifact.
    public func rollback(to release: ReleaseInput, artifact: Artifact, from current: ReleaseInput?, log: DeployLog)
        async throws {
        try await deploy(release, artifact: artifact, previous: current, log: log)
    }
}
