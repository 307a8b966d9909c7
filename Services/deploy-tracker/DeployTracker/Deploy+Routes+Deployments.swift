import DeployExecutors
import FlukeModels
import FlukeRuntime
import Foundation
import Hummingbird
import NIOCore

/// Deployments: the seed's routes, uploads, rollback, cancel and validation.
extension DeployRoutes {
    func registerDeployments(_ routes: inout RouteRecorder) {
        routes.on(.post, "/api/v1/deploy") { request, context in
            let principal = try context.principal(requiring: .deployWrite)
            let fields = try await RequestFields.read(request, context: context)
            try fields.allowOnly(["app_name", "image", "source", "version", "strategy", "auto_rollback", "validation_level"])
            let target = try await apps.get(try appName(fields), principal: principal)
            var deploy = try deploymentRequest(fields, app: target)
            deploy.source = try source(fields)
            if target.executor == .process, deploy.source == nil {
                throw Problem.invalid("source", "is required for the process executor: {\"git\": url, \"ref\": ref}, or upload a tarball to /api/v1/apps/{app_name}/deployments")
            }
            return try await queued(target, deploy, principal: principal, request: request, context: context)
        }
        routes.on(.post, "/api/v1/apps/{app_name}/deployments") { request, context in
            let principal = try context.principal(requiring: .deployWrite)
            let target = try await app(context, principal: principal)
            let type = request.headers[.contentType]?.lowercased() ?? ""
            guard type.hasPrefix("application/gzip") || type.hasPrefix("application/x-gzip") else {
                throw Problem(.unsupportedMediaType, detail: "send the source as application/gzip (a .tar.gz)", field: "Content-Type")
            }
            let id = UUID()
            let path = try await receiveUpload(request, id: id)
            var deploy = DeploymentRequest()
            deploy.source = .upload(path: path.path)
            deploy.autoRollback = (request.uri.queryParameters["auto_rollback"].map { $0 != "false" }) ?? true
            do {
                return try await queued(target, deploy, principal: principal, request: request, context: context)
            } catch {
                try? FileManager.default.removeItem(at: path)
                throw error
            }
        }
        routes.on(.get, "/api/v1/deployments/{deployment_id}") { _, context in
            let principal = try context.principal(requiring: .contextRead)
            return try await deployments.get(try Parameters.uuid(context, "deployment_id"), principal: principal)
        }
        routes.on(.get, "/api/v1/deployments/{deployment_id}/logs") { request, context in
            let principal = try context.principal(requiring: .contextRead)
            return try await deployments.logs(try Parameters.uuid(context, "deployment_id"), principal: principal,
                                              limit: try Self.limit(request, default: 1000, max: 10_000))
        }
        routes.on(.get, "/api/v1/apps/{app_name}/deployments") { request, context in
            let principal = try context.principal(requiring: .contextRead)
            let target = try await app(context, principal: principal)
            let limit = try Self.limit(request, default: 20, max: 100)
            let (before, _) = try Pagination.sequence(request)
            let (items, last) = try await deployments.list(app: target, principal: principal, before: before, limit: limit)
            return Page(items: items, lastSequence: last, limit: limit)
        }
        routes.on(.get, "/api/v1/deployments/active") { _, context in
            let principal = try context.principal(requiring: .contextRead)
            return ItemList(items: try await deployments.active(principal: principal, limit: 1000))
        }
        routes.on(.get, "/api/v1/deployments/stats") { _, context in
            try await deployments.stats(principal: try context.principal(requiring: .contextRead))
        }
        routes.on(.post, "/api/v1/deployments/{deployment_id}/cancel") { request, context in
            let principal = try context.principal(requiring: .deployWrite)
            let cancelled = try await deployments.cancel(try Parameters.uuid(context, "deployment_id"), principal: principal)
            return try await cancelled.response(from: request, context: context).withStatus(.accepted)
        }
        routes.on(.post, "/api/v1/apps/{app_name}/rollback") { request, context in
            let principal = try context.principal(requiring: .deployWrite)
            let target = try await app(context, principal: principal)
            let fields = try await RequestFields.read(request, context: context)
            try fields.allowOnly(["version", "reason"])
            let reason = try fields.string("reason", maxLength: 500)
            var version = try fields.string("version", maxLength: 12).map { raw -> Int in
                guard raw.hasPrefix("v"), let n = Int(raw.dropFirst()), n > 0 else { throw Problem.invalid("version", "must be a release such as v3") }
                return n
            }
            let current = target.currentRelease.flatMap { Int($0.dropFirst()) }
            if version == nil {
                version = try await deployments.previousVersion(app: target.id, before: current, tenant: target.tenantID)
            }
            guard let version else { throw DeployError.nothingToRollBackTo("\(target.name) has no earlier release to roll back to") }
            guard try await deployments.release(app: target.id, version: version, tenant: target.tenantID) != nil else {
                throw Problem.invalid("version", "v\(version) is not a kept release of \(target.name) (GET /api/v1/apps/\(target.name)/releases)")
            }
            var deploy = DeploymentRequest(kind: "rollback", autoRollback: false)
            deploy.version = version
            deploy.reason = reason ?? "rollback to v\(version)"
            return try await queued(target, deploy, principal: principal, request: request, context: context)
        }
        routes.on(.post, "/api/v1/deploy/validate") { request, context in
            let principal = try context.principal(requiring: .contextRead)
            let fields = try await RequestFields.read(request, context: context)
            try fields.allowOnly(["app_name", "image", "source", "version", "strategy", "auto_rollback", "validation_level"])
            let target = try await apps.get(try appName(fields), principal: principal)
            return try await validate(target, try deploymentRequest(fields, app: target))
        }
    }

    func appName(_ fields: RequestFields) throws -> String {
        let name = try fields.string("app_name", required: true, maxLength: 63)!
        guard name.wholeMatch(of: AppSpecReader.appName) != nil else { throw Problem.invalid("app_name", "must match ^[a-z][a-z0-9-]{0,62}$") }
        return name
    }

    /// The parts of `POST /api/v1/deploy` every executor shares.
    func deploymentRequest(_ fields: RequestFields, app: App) throws -> DeploymentRequest {
        var deploy = DeploymentRequest()
        deploy.image = try fields.string("image", maxLength: 512)
        if let version = try fields.string("version", maxLength: 128) {
            guard app.executor != .process else { throw Problem.invalid("version", "names an image tag; the process executor deploys a source") }
            guard let image = deploy.image ?? app.spec.image else { throw Problem.invalid("image", "is required with version") }
            var repository = image.split(separator: "@").first.map(String.init) ?? image
            if let colon = repository.lastIndex(of: ":"), !repository[colon...].contains("/") {
                repository = String(repository[..<colon])
            }
            deploy.image = repository + ":" + version
        }
        if let image = deploy.image, ImageReference(image) == nil {
            throw Problem.invalid(fields.has("version") ? "version" : "image",
                                  "must make an image reference such as registry.example.com/team/api:1.4")
        }
        if app.executor != .process, deploy.image == nil, app.spec.image == nil {
            throw Problem.invalid("image", "is required: the app's spec names no image")
        }
        if let strategy = fields.values["strategy"] {
            var spec = app.spec
            spec.strategy = try AppSpecReader.read(.object(["strategy": strategy]), executor: .swarm).strategy
            try AppSpecReader.check(spec, executor: app.executor)
            deploy.strategy = spec.strategy
        }
        if fields.has("auto_rollback") {
            guard case .bool(let value)? = fields.values["auto_rollback"] else { throw Problem.invalid("auto_rollback", "must be a boolean") }
            deploy.autoRollback = value
        }
        deploy.validationLevel = try fields.oneOf("validation_level", ValidationLevel.self)?.rawValue ?? "standard"
        return deploy
    }

    /// `source`: `{"git": url, "ref": ref}` (an uploaded tarball comes through its own route).
    func source(_ fields: RequestFields) throws -> DeploymentSource? {
        guard let value = fields.values["source"] else { return nil }
        guard case .object(let object) = value, case .string(let url)? = object["git"] else {
            throw Problem.invalid("source", "must be {\"git\": url, \"ref\": ref}")
        }
        if let extra = object.keys.first(where: { $0 != "git" && $0 != "ref" }) { throw Problem.invalid("source.\(extra)", "is not a field of source") }
        guard url.utf8.count <= 2048, let parsed = URL(string: url), ["https", "http", "ssh", "git", "file"].contains(parsed.scheme ?? ""),
              !url.hasPrefix("-") else {
            throw Problem.invalid("source.git", "must be a repository URL (https, ssh, git or file)")
        }
        var ref = "HEAD"
        if let raw = object["ref"] {
            guard case .string(let given) = raw, !given.isEmpty, given.utf8.count <= 255, !given.hasPrefix("-"),
                  !given.contains(where: { $0.isWhitespace || $0 == "\0" }) else {
                throw Problem.invalid("source.ref", "must be a branch, tag or commit")
            }
            ref = given
        }
        return .git(url: url, ref: ref)
    }

    func queued(_ app: App, _ deploy: DeploymentRequest, principal: Principal, request: Request,
                context: FleetRequestContext) async throws -> Response {
        guard executors[app.executor] != nil else { throw DeployError.executorDisabled(app.executor.rawValue) }
        let deployment = try await deployments.enqueue(app, deploy, tenant: principal.tenantID, requestedBy: principal.userID)
        wake()
        var response = try await deployment.response(from: request, context: context).withStatus(.accepted)
        response.headers[.location] = "/api/v1/deployments/\(deployment.id.lowercased)"
        return response
    }

    /// Writes the request body to the upload file, refusing more than `DEPLOY_MAX_UPLOAD_BYTES`.
    func receiveUpload(_ request: Request, id: UUID) async throws -> URL {
        let path = sources.uploadPath(id)
        try FileManager.default.createDirectory(at: sources.uploads, withIntermediateDirectories: true)
        guard FileManager.default.createFile(atPath: path.path, contents: nil),
              let handle = FileHandle(forWritingAtPath: path.path) else {
            throw Problem(.serviceUnavailable, detail: "the upload could not be stored")
        }
        var total = 0
        var magicChecked = false
        do {
            for try await buffer in request.body {
                total += buffer.readableBytes
                guard total <= maxUploadBytes else {
                    throw Problem(.contentTooLarge, detail: "the upload exceeds \(maxUploadBytes) bytes (DEPLOY_MAX_UPLOAD_BYTES)", field: "body")
                }
                let bytes = Data(buffer: buffer)
                if !magicChecked, bytes.count >= 2 {
                    guard bytes.prefix(2) == Data([0x1f, 0x8b]) else { throw Problem.invalid("body", "is not gzip data") }
                    magicChecked = true
                }
                try handle.write(contentsOf: bytes)
            }
            guard total > 0, magicChecked else { throw Problem.invalid("body", "is empty or not gzip data") }
            // On disk before the 202: an accepted upload survives a crash.
            try handle.synchronize()
            try handle.close()
        } catch {
            try? handle.close()
            try? FileManager.default.removeItem(at: path)
            throw error
        }
        return path
    }

    /// The seed's `deploy_validate`: spec, image reference, executor reachability, hooks; nothing starts.
    func validate(_ app: App, _ deploy: DeploymentRequest) async throws -> ValidationReport {
        var checks: [ValidationCheck] = []
        var spec = app.spec
        if let strategy = deploy.strategy { spec.strategy = strategy }
        do {
            try AppSpecReader.check(spec, executor: app.executor)
            checks.append(.init(name: "spec", ok: true, detail: "the spec is complete for the \(app.executor.rawValue) executor"))
        } catch let problem as Problem {
            checks.append(.init(name: "spec", ok: false, detail: "\(problem.field ?? "spec"): \(problem.detail ?? "invalid")"))
        }
        guard let executor = executors[app.executor] else {
            checks.append(.init(name: "executor", ok: false, detail: "\(app.executor.rawValue) is not enabled (DEPLOY_EXECUTORS)"))
            return ValidationReport(valid: false, checks: checks)
        }
        let input = ReleaseInput(tenantID: app.tenantID, projectID: app.projectID, app: app.name, version: 0, deploymentID: UUID(),
                                 spec: spec, environment: spec.env, image: deploy.image ?? spec.image)
        checks += await executor.validate(input)
        return ValidationReport(valid: checks.allSatisfy(\.ok), checks: checks)
    }
}

/// `validation_level`: `strict` runs the executor's checks in `pre_deploy` and fails on any.
enum ValidationLevel: String, CaseIterable {
    case basic, standard, strict
}
