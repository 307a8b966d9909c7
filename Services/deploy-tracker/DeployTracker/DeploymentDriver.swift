import DeployExecutors
import FlukeModels
import FlukeRuntime
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Drives deployments: claims the next runnable one under a lease (`DEPLOY_LEASE_SECONDS`),
/// runs its phases while renewing the lease, and records the outcome. Replicas each run one;
/// a deployment is driven by exactly one of them, and by another once a lease lapses (its
/// driver died): such a deployment is failed and rolled back, never left `deploying`.
final class DeploymentDriver: Service, Sendable {
    let store: DeploymentStore
    let executors: ExecutorSet
    let env: ContextEnvClient
    let sources: SourceStore
    let keepReleases: Int
    let concurrency: Int
    let lease: Duration
    /// This replica's name in leases.
    let owner: String
    let logger: Logger
    let wake = WakeSignal()
    private let running = Mutex<Int>(0)

    init(store: DeploymentStore, executors: ExecutorSet, env: ContextEnvClient, sources: SourceStore, keepReleases: Int,
         concurrency: Int, lease: Duration, owner: String, logger: Logger) {
        self.store = store
        self.executors = executors
        self.env = env
        self.sources = sources
        self.keepReleases = keepReleases
        self.concurrency = concurrency
        self.lease = lease
        self.owner = owner
        self.logger = logger
    }

    func run() async throws {
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                while !wake.isFinished && !Task.isCancelled {
                    if running.withLock({ $0 }) < concurrency, let claim = await claimLogged() {
                        running.withLock { $0 += 1 }
                        group.addTask {
                            await self.drive(claim)
                            self.running.withLock { $0 -= 1 }
                            self.wake.signal()
                        }
                        continue
                    }
                    await wake.wait(timeout: .milliseconds(500))
                }
                // Shutting down: running deployments stop where they are; their leases lapse and
                // the next replica (or this one, restarted) fails and rolls them back.
                group.cancelAll()
            }
        } onGracefulShutdown: { [wake] in
            wake.finish()
        }
    }

    private func claimLogged() async -> ClaimedDeployment? {
        do {
            return try await store.claim(owner: owner, lease: lease)
        } catch {
            logger.warning("could not claim a deployment; will retry", metadata: ["error": "\(error)"])
            return nil
        }
    }

    /// Runs one deployment to its end, with its lease kept and its deadline enforced.
    func drive(_ claimed: ClaimedDeployment) async {
        var claim = claimed
        var logger = self.logger
        logger[metadataKey: "deployment_id"] = "\(claim.id)"
        logger[metadataKey: "app"] = "\(claim.appName)"
        do {
            guard let executor = executors[claim.executor] else {
                throw DeployFailure(.executor, "the \(claim.executor.rawValue) executor is not enabled (DEPLOY_EXECUTORS)")
            }
            if claim.status != .pending {
                // Its driver stopped mid-way (crash, kill -9, lost lease): what the platform runs
                // is unknown, so the deployment fails and the last good release is restored.
                let phase = claim.phases.last(where: { $0.state == .running })?.name.rawValue ?? claim.status.rawValue
                try await finish(claim, run: nil, .failed(DeployFailure(.executor,
                    "deploy-tracker stopped while this deployment was in \(phase); it was taken over and is rolled back")),
                    kind: "restart", logger: logger)
                return
            }
            if claim.version == nil {
                claim.version = try await store.nextVersion(app: claim.appID, tenant: claim.tenantID)
            }
            let run = DeploymentRun(claim: claim, owner: owner, store: store, executor: executor, env: env, sources: sources,
                                    keepReleases: keepReleases, logger: logger)
            try await store.start(claim, owner: owner, entries: [
                await run.journal.entry(.info, .deployStart, claim.isRollback
                    ? "rollback to v\(claim.version!) started\(claim.reason.map { ": \($0)" } ?? "")"
                    : "deployment of \(claim.appName) v\(claim.version!) started")])
            let outcome = try await supervise(run, deadline: .seconds(claim.spec.deployTimeout))
            try await finish(claim, run: run, outcome, kind: nil, logger: logger)
        } catch is LeaseLost {
            logger.warning("lost the deployment's lease to another replica; it drives it now")
        } catch let failure as DeployFailure where !Task.isCancelled {
            try? await finish(claim, run: nil, .failed(failure), kind: nil, logger: logger)
        } catch {
            // Postgres away, say: the lease lapses and the deployment is taken over.
            logger.error("deployment stopped", metadata: ["error": "\(error)"])
        }
        if !claim.isRollback { sources.cleanUp(deployment: claim.id, source: claim.source) }
    }

    /// Runs the phases, renewing the lease and watching for a cancel request and the deadline.
    private func supervise(_ run: DeploymentRun, deadline: Duration) async throws -> RunOutcome {
        enum Stop: Error { case cancelled, timedOut, leaseLost }
        let made: StoredRelease?
        do {
            made = try await withThrowingTaskGroup(of: StoredRelease?.self) { group in
                group.addTask { try await run.phasesToRelease() }
                group.addTask {
                    while true {
                        try await Task.sleep(for: self.lease / 3)
                        let cancel: Bool
                        do { cancel = try await self.store.renew(run.claim.id, owner: self.owner, lease: self.lease) } catch is LeaseLost {
                            throw Stop.leaseLost
                        } catch { continue }
                        if cancel { throw Stop.cancelled }
                    }
                }
                group.addTask {
                    try await Task.sleep(for: deadline)
                    throw Stop.timedOut
                }
                defer { group.cancelAll() }
                return try await group.next() ?? nil
            }
        } catch Stop.cancelled {
            return .cancelled
        } catch Stop.leaseLost {
            throw LeaseLost()
        } catch Stop.timedOut {
            return .failed(DeployFailure(.timeout, "the deployment took longer than deploy_timeout (\(Int(deadline.secondsValue)) s)"))
        } catch let failure as DeployFailure {
            return .failed(failure)
        } catch {
            // This replica is shutting down: nothing is recorded; the lease lapses and another
            // replica (or this one, restarted) takes the deployment over.
            if Task.isCancelled { throw CancellationError() }
            return .failed(DeployFailure(.executor, "\(error)"))
        }
        guard let made else { return .failed(DeployFailure(.executor, "no release was made")) }
        return .succeeded(made)
    }
}
