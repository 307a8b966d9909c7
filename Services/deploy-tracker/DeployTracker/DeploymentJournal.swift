import DeployExecutors
import FlukeModels
import Foundation

/// One running deployment's log: every step as a JSON-LD `UnifiedLogEntry` with the seed's
/// metadata, stored with the deployment and queued for `FLUKE_LOGS` (see
/// ``DeploymentStore/appendLogs(_:claim:phase:on:)``).
///
/// Steps are written before ``step(_:_:_:)`` returns; build and hook output is gathered and
/// written in batches, with the lines beyond ``maxOutputLines`` counted instead of kept.
actor DeploymentJournal {
    let claim: ClaimedDeployment
    let owner: String
    let store: DeploymentStore
    let instance: String
    private(set) var phase: DeployPhase?
    private var output: [UnifiedLogEntry] = []
    private var outputLines = 0
    private var dropped = 0

    /// Output lines kept per deployment; a runaway build cannot fill the database.
    static let maxOutputLines = 5000
    static let batch = 100

    init(claim: ClaimedDeployment, owner: String, store: DeploymentStore) {
        self.claim = claim
        self.owner = owner
        self.store = store
        self.instance = owner
    }

    func enter(_ phase: DeployPhase) { self.phase = phase }

    /// A deployment entry, not yet stored: transitions store theirs with their state change.
    func entry(_ level: UnifiedLogEntry.Level, _ event: UnifiedLogEntry.EventKind?, _ message: String,
               durationMS: Int? = nil, component: String = "deploy-tracker", stream: String? = nil) -> UnifiedLogEntry {
        UnifiedLogEntry(
            level: level, message: message,
            source: .init(service: "deploy-tracker", component: component, instance: instance, stream: stream,
                          tenantID: claim.tenantID, projectID: claim.projectID),
            flukedeployMetadata: .init(deploymentID: claim.id, appName: claim.appName, phase: phase?.rawValue,
                                       eventType: event, version: claim.version.map { "v\($0)" }, durationMS: durationMS))
    }

    /// Stores a step now (and any output gathered before it).
    func step(_ level: UnifiedLogEntry.Level, _ event: UnifiedLogEntry.EventKind?, _ message: String) async {
        output.append(entry(level, event, message))
        await flush()
    }

    /// Gathers a line of build or hook output.
    func line(_ text: String, stream: String) async {
        outputLines += 1
        guard outputLines <= Self.maxOutputLines else {
            dropped += 1
            return
        }
        output.append(entry(stream == "stderr" ? .warn : .info, nil, String(text.prefix(8192)), component: "build", stream: stream))
        if output.count >= Self.batch { await flush() }
    }

    /// What is gathered and not yet stored, handed to a transition to store with it.
    func take() -> [UnifiedLogEntry] {
        if dropped > 0 {
            output.append(entry(.warn, nil, "\(dropped) more output lines were not kept (at most \(Self.maxOutputLines) per deployment)"))
            dropped = 0
        }
        defer { output = [] }
        return output
    }

    /// Stores what is gathered. A failure (Postgres away) keeps it for the next transition.
    func flush() async {
        let entries = take()
        guard !entries.isEmpty else { return }
        let (store, claim, phase) = (store, claim, phase?.rawValue)
        do {
            try await store.underLease(claim, owner: owner) { @Sendable tx in
                try await store.appendLogs(entries, claim: claim, phase: phase, on: tx)
            }
        } catch {
            output = entries + output
        }
    }

    /// The executors' view of this journal.
    nonisolated var deployLog: DeployLog {
        DeployLog(step: { level, event, message in await self.step(level, event, message) },
                  output: { line, stream in await self.line(line, stream: stream) })
    }
}
