import FlukeModels
import FlukeRuntime
import Foundation
import Hummingbird

/// Coder workspaces: what a Coder connection's owner has, start and stop, and the workspaces
/// linked to a project (whose status the refresh keeps).
extension PMRoutes {
    /// Coder's workspaces, listed.
    struct WorkspaceList: Codable, Sendable, ResponseEncodable {
        var items: [WorkspaceView]
    }

    func registerWorkspaces(_ routes: inout RouteRecorder) {
        routes.on(.get, "/api/v1/connections/coder/workspaces") { request, context in
            let principal = try context.tenantWidePrincipal(requiring: .admin)
            let (id, base, token) = try await connections.coderCredential(try Parameters.uuidQuery(request, "connection_id"),
                                                                          tenant: principal.tenantID)
            do throws(CoderAPI.Failure) {
                let items = try await coder.workspaces(base, token: token)
                return WorkspaceList(items: items.compactMap { WorkspaceView($0, base: base) })
            } catch {
                throw try await coderProblem(error, connection: id, principal)
            }
        }
        routes.on(.post, "/api/v1/connections/coder/workspaces/{workspace_id}/builds") { request, context in
            let principal = try context.tenantWidePrincipal(requiring: .admin)
            let workspace = try Parameters.uuid(context, "workspace_id")
            let fields = try await RequestFields.read(request, context: context)
            try fields.allowOnly(["transition"])
            guard let transition = try fields.string("transition", required: true, maxLength: 10), ["start", "stop"].contains(transition) else {
                throw PMError.invalid(field: "transition", "must be start or stop")
            }
            let (id, base, token) = try await connections.coderCredential(try Parameters.uuidQuery(request, "connection_id"),
                                                                          tenant: principal.tenantID)
            let build: JSONValue
            do throws(CoderAPI.Failure) {
                build = try await coder.build(base, token: token, id: workspace, transition: transition)
            } catch {
                throw try await coderProblem(error, connection: id, principal)
            }
            try await workspaces.recheckSoon(tenant: principal.tenantID, workspace: workspace)
            workspaceRefresh.wake.signal()
            var out: [String: JSONValue] = ["workspace_id": .string(workspace.lowercased), "transition": .string(transition)]
            for key in ["id", "build_number", "status", "created_at"] { out[key] = build[key] ?? .null }
            return try Self.json(.accepted, .object(out))
        }
        routes.on(.put, "/api/v1/projects/{project_id}/workspaces") { request, context in
            let principal = try context.principal(requiring: .admin)
            let project = try Parameters.uuid(context, "project_id")
            let fields = try await RequestFields.read(request, context: context)
            try fields.allowOnly(["connection_id", "workspace_ids"])
            let ids = try fields.strings("workspace_ids", required: true, maxCount: WorkspaceStore.limit, maxLength: 36)!
            var workspaceIDs: [UUID] = []
            for (i, raw) in ids.enumerated() {
                guard let id = UUID(uuidString: raw) else { throw PMError.invalid(field: "workspace_ids[\(i)]", "must be a workspace id (UUID)") }
                if !workspaceIDs.contains(id) { workspaceIDs.append(id) }
            }
            let (connection, base, token) = try await connections.coderCredential(try fields.uuid("connection_id", required: true)!,
                                                                                  tenant: principal.tenantID)
            var views: [WorkspaceView] = []
            for (i, id) in workspaceIDs.enumerated() {
                let json: JSONValue
                do throws(CoderAPI.Failure) {
                    json = try await coder.workspace(base, token: token, id: id)
                } catch .notFound {
                    throw PMError.invalid(field: "workspace_ids[\(i)]", "Coder has no workspace \(id.lowercased) that the connection can see")
                } catch {
                    throw try await coderProblem(error, connection: connection, principal)
                }
                guard let view = WorkspaceView(json, base: base) else {
                    throw PMError.upstream("Coder answered what is not a workspace for \(id.lowercased)")
                }
                views.append(view)
            }
            let linked = try await workspaces.replace(project, connection: connection, views, principal, requestID: context.requestID)
            return Page(items: linked, nextCursor: nil)
        }
        routes.on(.get, "/api/v1/projects/{project_id}/workspaces") { _, context in
            let linked = try await workspaces.list(try Parameters.uuid(context, "project_id"), try context.principal(requiring: .contextRead))
            return Page(items: linked, nextCursor: nil)
        }
    }

    /// What a Coder failure is to the caller; a refused token also marks the connection invalid.
    func coderProblem(_ error: CoderAPI.Failure, connection id: UUID, _ principal: Principal) async throws -> PMError {
        switch error {
        case .unauthorized(let message):
            try await connections.markInvalid(id, principal, reason: "Coder refused the session token: \(message)")
            return PMError.conflict(field: "connection_id", "Coder refused the connection's session token (\(message)); it is now marked invalid")
        case .notFound: return PMError.notFound("workspace (or the connection cannot see it)")
        case .refused(let status, let message): return PMError.conflict(field: "transition", "Coder refused it (\(status)): \(message)")
        case .failed(let reason): return PMError.upstream(reason)
        }
    }
}
