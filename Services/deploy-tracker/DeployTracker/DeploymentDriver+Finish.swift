import DeployExecutors
import FlukeModels
import Foundation
import Logging

extension DeploymentDriver {
    /// Records how a deployment ended; a failed deploy with `auto_rollback` queues the rollback
    /// to the release serving before it (every trigger of the seed: build, validation, timeout,
    /// health check, replica startup, and a takeover after a crash).
    func finish(_ claim: ClaimedDeployment, run: DeploymentRun?, _ outcome: RunOutcome, kind: String?, logger: Logger)
        async throws {
        let journal = run?.journal ?? DeploymentJournal(claim: claim, owner: owner, store: store)
        var phases = await run?.phases ?? claim.phases
        switch outcome {
        case .succeeded(let release):
            let entries = await journal.take() + [await journal.entry(.info, nil, claim.isRollback
                ? "rollback succeeded: v\(release.version) serving again" : "deployment succeeded: v\(release.version) serving")]
            let pruned = try await store.succeed(claim, owner: owner, release: release, keep: keepReleases, phases: phases,
                                                 entries: entries)
            for artifact in pruned { removeArtifact(artifact) }
            logger.info("deployment succeeded", metadata: ["version": "v\(release.version)"])
        case .failed(let failure):
            if let index = phases.lastIndex(where: { $0.state == .running }) {
                let now = Date()
                phases[index].state = .failed
                phases[index].endedAt = now
                phases[index].durationMS = Int(now.timeIntervalSince(phases[index].startedAt) * 1000)
                phases[index].error = failure.message
            }
            let failedPhase = phases.last(where: { $0.state == .failed })?.name
            let trigger = kind ?? failure.kind.rawValue
            var rollbackTo: Int?
            if claim.autoRollback && !claim.isRollback, let current = claim.currentVersion,
               try await store.release(app: claim.appID, version: current, tenant: claim.tenantID) != nil {
                rollbackTo = current
            }
            let entries = await journal.take() + [await journal.entry(.error, failedPhase?.errorEvent ?? .deployError,
                "\(claim.isRollback ? "rollback" : "deployment") failed (\(trigger)): \(failure.message)"
                    + (rollbackTo.map { "; rolling back to v\($0)" } ?? ""))]
            try await store.fail(claim, owner: owner, kind: trigger, message: failure.message, phases: phases,
                                 rollbackTo: rollbackTo, entries: entries)
            if rollbackTo != nil { wake.signal() }
            logger.warning("deployment failed", metadata: ["trigger": "\(trigger)", "error": "\(failure.message)"])
        case .cancelled:
            let entries = await journal.take() + [await journal.entry(.warn, nil, "deployment cancelled; the previous release keeps serving")]
            try await store.cancelled(claim, owner: owner, phases: phases, entries: entries)
        }
    }

    /// A release no longer kept: its build directory goes (images stay with their registry).
    func removeArtifact(_ artifact: Artifact) {
        let path = URL(fileURLWithPath: artifact.reference).standardizedFileURL.path
        guard path.hasPrefix(sources.root.standardizedFileURL.path + "/") else { return }
        try? FileManager.default.removeItem(atPath: path)
    }
}
