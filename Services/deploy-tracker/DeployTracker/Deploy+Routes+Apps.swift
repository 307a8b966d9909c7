import DeployExecutors
import FlukeModels
import FlukeRuntime
import Foundation
import Hummingbird

/// Apps: create, list, read, change, delete; releases; scale and restart.
extension DeployRoutes {
    func registerApps(_ routes: inout RouteRecorder) {
        routes.on(.post, "/api/v1/apps") { request, context in
            let principal = try context.principal(requiring: .deployWrite)
            let fields = try await RequestFields.read(request, context: context)
            try fields.allowOnly(["name", "project_id", "executor", "spec"])
            guard let project = try fields.uuid("project_id", required: principal.projectID == nil) ?? principal.projectID else {
                throw Problem.invalid("project_id", "is required")
            }
            guard principal.canSee(project: project) else { throw Problem.notFound("no such project") }
            let name = try fields.string("name", required: true, maxLength: 63)!
            guard name.wholeMatch(of: AppSpecReader.appName) != nil else {
                throw Problem.invalid("name", "must match ^[a-z][a-z0-9-]{0,62}$")
            }
            let executor = try fields.oneOf("executor", ExecutorKind.self) ?? .process
            guard executors[executor] != nil else { throw DeployError.executorDisabled(executor.rawValue) }
            let spec = try AppSpecReader.read(fields.values["spec"] ?? .object([:]), executor: executor)
            let app = try await apps.create(name: name, project: project, executor: executor, spec: spec, by: principal)
            return try await live(app).response(from: request, context: context).withStatus(.created)
        }
        routes.on(.get, "/api/v1/apps") { request, context in
            let principal = try context.principal(requiring: .contextRead)
            let project = try Parameters.uuidQuery(request, "project_id") ?? principal.projectID
            if let project, !principal.canSee(project: project) { throw Problem.notFound("no such project") }
            let (after, limit) = try Pagination.sequence(request)
            let (items, last) = try await apps.list(project: project, principal: principal, after: after, limit: limit)
            return Page(items: items, lastSequence: last, limit: limit)
        }
        routes.on(.get, "/api/v1/apps/{app_name}") { _, context in
            let principal = try context.principal(requiring: .contextRead)
            return await live(try await app(context, principal: principal))
        }
        routes.on(.patch, "/api/v1/apps/{app_name}") { request, context in
            let principal = try context.principal(requiring: .deployWrite)
            let current = try await app(context, principal: principal)
            let fields = try await RequestFields.read(request, context: context)
            try fields.allowOnly(["executor", "spec"])
            let executor = try fields.oneOf("executor", ExecutorKind.self)
            if let executor, executors[executor] == nil { throw DeployError.executorDisabled(executor.rawValue) }
            let spec = try fields.values["spec"].map { try AppSpecReader.read($0, executor: executor ?? current.executor) }
            if spec == nil, let executor { try AppSpecReader.check(current.spec, executor: executor) }
            return await live(try await apps.update(current.name, executor: executor, spec: spec, principal: principal))
        }
        routes.on(.delete, "/api/v1/apps/{app_name}") { _, context in
            let principal = try context.principal(requiring: .deployWrite)
            let current = try await app(context, principal: principal)
            try await apps.delete(current, principal: principal)
            // Stopped after the rows are gone: a failure here leaves processes, never a dangling app.
            try? await executors[current.executor]?.remove(tenantID: current.tenantID, app: current.name)
            return Response(status: .noContent)
        }
        routes.on(.get, "/api/v1/apps/{app_name}/releases") { _, context in
            let principal = try context.principal(requiring: .contextRead)
            return ItemList(items: try await apps.releases(try await app(context, principal: principal), principal: principal))
        }
    }

    /// Scale and restart act on what runs now, without a deployment.
    func registerAppActions(_ routes: inout RouteRecorder) {
        routes.on(.post, "/api/v1/apps/{app_name}/scale") { request, context in
            let principal = try context.principal(requiring: .deployWrite)
            let current = try await app(context, principal: principal)
            let fields = try await RequestFields.read(request, context: context)
            try fields.allowOnly(["replicas"])
            guard let replicas = try fields.int("replicas", in: 0...100) else { throw Problem.invalid("replicas", "is required") }
            guard let executor = executors[current.executor] else { throw DeployError.executorDisabled(current.executor.rawValue) }
            guard current.currentRelease != nil else {
                throw DeployError.notRunning(current.name)
            }
            do {
                try await executor.scale(tenantID: current.tenantID, app: current.name, replicas: replicas, log: .discarding)
            } catch let failure as DeployFailure {
                throw Problem(.badGateway, detail: "the \(current.executor.rawValue) executor could not scale: \(failure.message)")
            }
            var spec = current.spec
            spec.replicas = replicas
            return await live(try await apps.update(current.name, executor: nil, spec: spec, principal: principal))
        }
        routes.on(.post, "/api/v1/apps/{app_name}/restart") { request, context in
            let principal = try context.principal(requiring: .deployWrite)
            let current = try await app(context, principal: principal)
            guard let executor = executors[current.executor] else { throw DeployError.executorDisabled(current.executor.rawValue) }
            guard current.currentRelease != nil else {
                throw DeployError.notRunning(current.name)
            }
            do {
                try await executor.restart(tenantID: current.tenantID, app: current.name, log: .discarding)
            } catch let failure as DeployFailure {
                throw Problem(.badGateway, detail: "the \(current.executor.rawValue) executor could not restart: \(failure.message)")
            }
            return try await live(current).response(from: request, context: context).withStatus(.accepted)
        }
    }
}
