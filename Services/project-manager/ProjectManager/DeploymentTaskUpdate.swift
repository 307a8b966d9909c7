import FlukeModels
import Foundation

/// What one `deploy.*` event makes of its deployment's WeDo task (`pm.tasks`, source
/// `deployment`): in progress while queued or running, done on success, blocked with the reasons
/// on failure, rollback or cancellation.
///
/// Events arrive at least once and possibly out of order, so the task only ever moves forward:
/// each event has a rank, and a task takes an event's status only when that rank is higher than
/// any it has seen (a `started` after the `failed` changes nothing). Reasons add up, whatever the
/// order they arrive in, and the description is rebuilt from them.
struct DeploymentTaskUpdate: Sendable, Equatable {
    var deploymentID: UUID
    var rank: Int
    var status: TaskStatus
    var app: String
    /// `v<N>`, when the event names the release.
    var version: String?
    /// Why it failed (`failed`), was rolled back (`rolled_back`) or cancelled (`cancelled`), and
    /// the deployment a rollback undoes (`rollback_of`).
    var notes: [String: String]

    /// The update `type` makes; nil for the types that do not move the task (`deploy.phase_changed`).
    init?(_ type: EventType, _ payload: DeploymentPayload) {
        deploymentID = payload.deploymentID
        app = payload.app
        version = payload.version.flatMap { $0.isEmpty ? nil : ($0.hasPrefix("v") ? $0 : "v" + $0) }
        notes = [:]
        if let rollbackOf = payload.rollbackOf { notes["rollback_of"] = rollbackOf.lowercased }
        let reason = payload.reason ?? "no reason given"
        switch type {
        case .deployQueued: (rank, status) = (1, .inProgress)
        case .deployStarted: (rank, status) = (2, .inProgress)
        case .deploySucceeded: (rank, status) = (3, .done)
        case .deployFailed:
            (rank, status) = (3, .blocked)
            notes["failed"] = payload.phase.map { "\(reason) (phase \($0))" } ?? reason
        case .deployCancelled:
            (rank, status) = (3, .blocked)
            notes["cancelled"] = reason
        // After the failure it undoes: the last word on a failed deployment.
        case .deployRolledBack:
            (rank, status) = (4, .blocked)
            notes["rolled_back"] = reason
        default: return nil
        }
    }

    /// "Deploy <app> v<N>" ("Deploy <app>" until an event names the version).
    var title: String { "Deploy \(app)" + (version.map { " " + $0 } ?? "") }

    /// What a task of this deployment holds.
    struct State: Sendable, Equatable {
        var rank: Int
        var status: TaskStatus
        var title: String
        var notes: [String: String]

        /// Whether a task in `other` reads differently (status, title or description).
        func isVisiblyDifferent(from other: State) -> Bool {
            status != other.status || title != other.title || notes != other.notes
        }

        /// The task's description: the deployment, then each reason, in a fixed order.
        func description(deploymentID: UUID) -> String {
            var lines = ["Deployment \(deploymentID.lowercased)."]
            if let of = notes["rollback_of"] { lines.append("Rolls back deployment \(of).") }
            if let failed = notes["failed"] { lines.append("Failed: \(failed)") }
            if let rolledBack = notes["rolled_back"] { lines.append("Rolled back: \(rolledBack)") }
            if let cancelled = notes["cancelled"] { lines.append("Cancelled: \(cancelled)") }
            return lines.joined(separator: "\n")
        }
    }

    /// A new task's state.
    var initial: State { State(rank: rank, status: status, title: title, notes: notes) }

    /// `current` moved by this event: status only forward, reasons kept (the first one seen for
    /// each), the version filled in once known.
    func applied(to current: State) -> State {
        State(rank: max(rank, current.rank), status: rank > current.rank ? status : current.status,
              title: version == nil ? current.title : title,
              notes: current.notes.merging(notes) { first, _ in first })
    }
}
