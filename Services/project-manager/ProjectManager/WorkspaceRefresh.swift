import FlukeModels
import FlukeRuntime
import Foundation
import Logging
import ServiceLifecycle

/// Reads linked Coder workspaces' status again every `PM_CODER_REFRESH_INTERVAL` (and soon after
/// a start or stop, ``wake``). Each row is claimed before it is read, so replicas share the work;
/// a workspace Coder no longer has is `deleted`; a failure is kept as `check_error`, and a
/// refused session token marks the connection invalid.
final class WorkspaceRefresh: Service, Sendable {
    let workspaces: WorkspaceStore
    let connections: ConnectionStore
    let coder: CoderAPI
    let interval: Duration
    let logger: Logger
    let wake = WakeSignal()

    init(workspaces: WorkspaceStore, connections: ConnectionStore, coder: CoderAPI, interval: Duration, logger: Logger) {
        self.workspaces = workspaces
        self.connections = connections
        self.coder = coder
        self.interval = interval
        self.logger = logger
    }

    func run() async throws {
        await wake.loop(every: min(interval, .seconds(30))) { await self.round() }
    }

    func round() async {
        do {
            var checked = Set<String>()
            for due in try await workspaces.due() where !wake.isFinished && !Task.isCancelled {
                guard try await workspaces.claim(due, for: interval) else { continue }
                // One read per workspace and tenant, however many projects link it.
                guard checked.insert("\(due.tenant)/\(due.workspace)").inserted else { continue }
                await check(due)
            }
        } catch {
            logger.warning("workspace refresh round failed; the next round tries again", metadata: ["error": "\(error)"])
        }
    }

    func check(_ due: WorkspaceStore.Due) async {
        do {
            let (connection, base, token) = try await connections.coderCredential(due.connection, tenant: due.tenant)
            let json: JSONValue
            do throws(CoderAPI.Failure) {
                json = try await coder.workspace(base, token: token, id: due.workspace)
            } catch {
                switch error {
                case .notFound: try await workspaces.gone(tenant: due.tenant, workspace: due.workspace)
                case .unauthorized(let message):
                    try await connections.markInvalid(connection, tenant: due.tenant, reason: "Coder refused the session token: \(message)")
                    try await workspaces.checked(tenant: due.tenant, workspace: due.workspace, nil, error: "Coder refused the session token: \(message)")
                case .refused(_, let reason), .failed(let reason):
                    try await workspaces.checked(tenant: due.tenant, workspace: due.workspace, nil, error: reason)
                }
                return
            }
            try await workspaces.checked(tenant: due.tenant, workspace: due.workspace, WorkspaceView(json, base: base),
                                         error: WorkspaceView(json, base: base) == nil ? "Coder answered what is not a workspace" : nil)
        } catch {
            try? await workspaces.checked(tenant: due.tenant, workspace: due.workspace, nil, error: "\(error)")
        }
    }
}
