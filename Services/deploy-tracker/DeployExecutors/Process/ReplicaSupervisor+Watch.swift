import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The supervisor's rounds: restarts, blue-green standby expiry, background health checks.
extension ReplicaSupervisor {
    /// A replica due for a background health check.
    struct Probe: Sendable {
        var key: AppKey
        var id: String
        var port: Int
        var check: AppSpec.HealthCheck
    }

    /// Seconds before the `restarts`-th restart: 1, 2, 4 … 30.
    static func backoff(restarts: Int) -> Duration {
        .seconds(min(30, 1 << min(restarts, 5)))
    }

    /// One round: dead supervised replicas are marked crashed and restarted once their backoff
    /// has passed; standby sets past their window are stopped. Returns the replicas whose
    /// health is due to be checked.
    func round(now: ContinuousClock.Instant = .now) async -> [Probe] {
        var probes: [Probe] = []
        for (key, replicas) in allReplicas() {
            let state = state(key)
            for var record in replicas where record.supervised {
                let running = ChildProcess.isRunning(record.pid, startTime: record.pidStartTime)
                if running {
                    capLog(key, record.id)
                    if let check = healthCheck(of: record, in: state), isDue(record.id, check: check, now: now) {
                        probes.append(Probe(key: key, id: record.id, port: record.port, check: check))
                    }
                    continue
                }
                guard let due = restartTime(record.id) else {
                    setHealthState(record.id, .crashed)
                    scheduleRestart(record.id, at: now + Self.backoff(restarts: record.restarts))
                    continue
                }
                guard now >= due else { continue }
                record.restarts += 1
                try? relaunch(key, record)
            }
            if let standby = state?.standby, standby.until < Date() {
                await stop(key, ids: standby.ids)
                var updated = self.state(key)
                updated?.standby = nil
                try? setState(key, updated)
            }
        }
        return probes
    }

    /// Stops the replicas no serving or standby set claims: a rollout cut short by a tracker
    /// crash left them, and the restarted tracker fails that deployment anyway.
    func stopOrphans() async {
        for (key, replicas) in allReplicas() {
            let state = state(key)
            let claimed = Set((state?.servingIDs ?? []) + (state?.standby?.ids ?? []))
            let orphans = replicas.filter { !claimed.contains($0.id) }.map(\.id)
            if !orphans.isEmpty { await stop(key, ids: orphans) }
        }
    }

    /// A replica's output file past this size starts again from empty (its lines were followed
    /// and published meanwhile; the replica appends, so it writes on at the new end).
    static let logLimit: UInt64 = 16 << 20

    private func capLog(_ key: AppKey, _ id: String) {
        let path = layout.logFile(key, id: id).path
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.uint64Value ?? 0
        if size > Self.logLimit { truncate(path, 0) }
    }

    private func healthCheck(of record: ReplicaRecord, in state: AppState?) -> AppSpec.HealthCheck? {
        if let release = state?.release, release.version == record.version { return release.healthCheck }
        if let release = state?.standby?.release, release.version == record.version { return release.healthCheck }
        return nil
    }
}
