import DeployExecutors
import FlukeModels
import Foundation
import Logging

/// How a run ended, short of an error in the tracker itself.
enum RunOutcome: Sendable {
    case succeeded(StoredRelease)
    case failed(DeployFailure)
    case cancelled
}

/// One deployment driven through its five phases by the replica holding its lease. Every
/// transition is in Postgres before the next step starts, so another replica (or this one after
/// a restart) knows where it stopped.
final class DeploymentRun: Sendable {
    let claim: ClaimedDeployment
    let owner: String
    let store: DeploymentStore
    let executor: any DeployExecutor
    let env: ContextEnvClient
    let sources: SourceStore
    let keepReleases: Int
    let journal: DeploymentJournal
    let logger: Logger
    private let state = PhaseState()

    init(claim: ClaimedDeployment, owner: String, store: DeploymentStore, executor: any DeployExecutor, env: ContextEnvClient,
         sources: SourceStore, keepReleases: Int, logger: Logger) {
        self.claim = claim
        self.owner = owner
        self.store = store
        self.executor = executor
        self.env = env
        self.sources = sources
        self.keepReleases = keepReleases
        self.journal = DeploymentJournal(claim: claim, owner: owner, store: store)
        self.logger = logger
    }

    /// The phases as recorded so far.
    var phases: [PhaseRecord] { get async { await state.phases } }

    /// Runs the phases; returns the release made (or restored). Throws ``DeployFailure`` for the
    /// seed's rollback triggers, `CancellationError` when cancelled.
    func phasesToRelease() async throws -> StoredRelease {
        let log = journal.deployLog
        let current = try await currentRelease()
        if claim.isRollback {
            guard let version = claim.version, let target = try await store.release(app: claim.appID, version: version,
                                                                                  tenant: claim.tenantID) else {
                throw DeployFailure(.validation, "release v\(claim.version ?? 0) is no longer kept")
            }
            for phase in [DeployPhase.preBuild, .build, .preDeploy] {
                try await skip(phase, status: phase == .preDeploy ? .deploying : .building,
                               why: phase == .build ? "rollback: v\(version)'s artifact is reused, nothing is rebuilt" : "rollback")
            }
            let input = try await releaseInput(version: version, spec: target.spec, image: target.image, source: nil)
            try await phase(.deploy, status: .deploying) {
                try await executor.rollback(to: input, artifact: target.artifact, from: current?.input, log: log)
            }
            try await skip(.postDeploy, status: .deploying, why: "rollback")
            return target
        }
        let version = claim.version!
        var spec = claim.spec
        if let strategy = claim.strategy { spec.strategy = strategy }
        let image = claim.image ?? spec.image
        if let hook = spec.hooks.preBuild {
            try await phase(.preBuild, status: .building) {
                try await executor.runHook("pre_build", command: hook, release: try await releaseInput(
                    version: version, spec: spec, image: image, source: nil), log: log)
            }
        } else {
            try await skip(.preBuild, status: .building, why: "no pre_build hook")
        }
        var input = try await releaseInput(version: version, spec: spec, image: image, source: nil)
        let artifact = try await phase(.build, status: .building) {
            if let source = claim.source {
                input.sourceDirectory = try await sources.prepare(source, deployment: claim.id, log: log)
            }
            return try await executor.build(input, log: log)
        }
        try await phase(.preDeploy, status: .deploying) {
            if claim.validationLevel == "strict" {
                let failed = await executor.validate(input).filter { !$0.ok }
                if let first = failed.first { throw DeployFailure(.validation, "\(first.name): \(first.detail)") }
            }
            if let hook = spec.hooks.preDeploy { try await executor.runHook("pre_deploy", command: hook, release: input, log: log) }
        }
        try await phase(.deploy, status: .deploying) {
            try await executor.deploy(input, artifact: artifact, previous: current?.input, log: log)
        }
        if let hook = spec.hooks.postDeploy {
            try await phase(.postDeploy, status: .deploying) {
                try await executor.runHook("post_deploy", command: hook, release: input, log: log)
            }
        } else {
            try await skip(.postDeploy, status: .deploying, why: "no post_deploy hook")
        }
        return StoredRelease(version: version, spec: spec, artifact: artifact, image: image)
    }

    /// The release serving now, as executors take it.
    func currentRelease() async throws -> (stored: StoredRelease, input: ReleaseInput)? {
        guard let version = claim.currentVersion,
              let stored = try await store.release(app: claim.appID, version: version, tenant: claim.tenantID) else { return nil }
        // Its environment is not fetched again: strategies only need to know what runs.
        let input = ReleaseInput(tenantID: claim.tenantID, projectID: claim.projectID, app: claim.appName, version: version,
                                 deploymentID: claim.id, spec: stored.spec, environment: stored.spec.env, image: stored.image)
        return (stored, input)
    }

    func releaseInput(version: Int, spec: AppSpec, image: String?, source: URL?) async throws -> ReleaseInput {
        ReleaseInput(tenantID: claim.tenantID, projectID: claim.projectID, app: claim.appName, version: version,
                     deploymentID: claim.id, spec: spec, environment: try await env.environment(for: spec, claim: claim),
                     image: image, sourceDirectory: source)
    }

    // MARK: phases

    @discardableResult
    func phase<T: Sendable>(_ phase: DeployPhase, status: DeploymentStatus, _ body: () async throws -> T) async throws -> T {
        await journal.enter(phase)
        let started = Date()
        let phases = await state.begin(phase, at: started)
        try await store.recordPhases(claim, owner: owner, phases: phases, status: status, started: phase,
                                     entries: await journal.take() + [await journal.entry(.info, phase.startEvent, "\(phase.rawValue) started")])
        do {
            let value = try await body()
            let ms = Int(Date().timeIntervalSince(started) * 1000)
            let done = await state.end(.succeeded, error: nil)
            try await store.recordPhases(claim, owner: owner, phases: done, status: status, started: nil, entries: await journal.take() + [
                await journal.entry(.info, phase.completeEvent, "\(phase.rawValue) completed in \(ms) ms", durationMS: ms)])
            return value
        } catch {
            let message = (error as? DeployFailure)?.message ?? (error is CancellationError ? "cancelled" : "\(error)")
            _ = await state.end(.failed, error: message)
            throw error
        }
    }

    func skip(_ phase: DeployPhase, status: DeploymentStatus, why: String) async throws {
        await journal.enter(phase)
        let phases = await state.skip(phase, at: Date(), why: why)
        try await store.recordPhases(claim, owner: owner, phases: phases, status: status, started: nil,
                                     entries: await journal.take() + [await journal.entry(.debug, nil, "\(phase.rawValue) skipped: \(why)")])
    }
}

/// The phases of one run, as they are recorded.
actor PhaseState {
    private(set) var phases: [PhaseRecord] = []

    func begin(_ phase: DeployPhase, at date: Date) -> [PhaseRecord] {
        phases.append(PhaseRecord(name: phase, state: .running, startedAt: date))
        return phases
    }

    func end(_ state: PhaseRecord.State, error: String?) -> [PhaseRecord] {
        guard var last = phases.popLast() else { return phases }
        let now = Date()
        last.state = state
        last.endedAt = now
        last.durationMS = Int(now.timeIntervalSince(last.startedAt) * 1000)
        last.error = error
        phases.append(last)
        return phases
    }

    func skip(_ phase: DeployPhase, at date: Date, why: String) -> [PhaseRecord] {
        phases.append(PhaseRecord(name: phase, state: .skipped, startedAt: date, endedAt: date, durationMS: 0, error: nil))
        return phases
    }
}

extension DeployPhase {
    /// The seed's event type for this phase's start.
    var startEvent: UnifiedLogEntry.EventKind {
        switch self {
        case .preBuild: .preBuild
        case .build: .buildStart
        case .preDeploy: .preDeploy
        case .deploy: .deployStart
        case .postDeploy: .postDeploy
        }
    }

    /// The seed's event type for this phase's successful end.
    var completeEvent: UnifiedLogEntry.EventKind? {
        switch self {
        case .build: .buildComplete
        case .deploy: .deployComplete
        default: nil
        }
    }

    /// The seed's event type for this phase's failure.
    var errorEvent: UnifiedLogEntry.EventKind {
        switch self {
        case .preBuild, .build: .buildError
        default: .deployError
        }
    }
}
