import FlukeModels
import FlukeRuntime
import Foundation
import HTTPTypes
import Hummingbird

/// context-api's routes. Reads need `context:read`, env writes `context:write`, memory writes
/// `memories:write`, secret values and their access log `secrets:read`.
struct ContextRoutes: Sendable {
    let access: ProjectAccess
    let contexts: ContextStore
    let env: EnvStore
    let memories: MemoryStore
    let usage: UsageRecorder
    let cache: ContextCache
    let maxMemoryBytes: Int

    func register(_ routes: inout RouteRecorder) {
        registerConnect(&routes)
        registerEnv(&routes)
        registerMemories(&routes)
    }

    // MARK: the context and its changes

    private func registerConnect(_ routes: inout RouteRecorder) {
        routes.on(.get, "/api/v1/flukebase_connect/context") { request, context in
            let principal = try context.principal(requiring: .contextRead)
            let projectID = try access.connectProjectID(request, for: principal)
            let level = try Parameters.enumQuery(request, "context_level", as: ContextLevel.self)
            let environment = try Parameters.enumQuery(request, "environment", as: Environment.self)
            guard principal.canSee(project: projectID) else { throw Problem.notFound("no such project") }
            let key = ContextCacheKey(project: projectID, tenant: principal.tenantID, reveal: principal.scopes.contains(.secretsRead),
                                      level: level, environment: environment)
            let project: ProjectInfo
            let snapshot: ContextStore.Snapshot
            if let hit = cache.get(key) {
                (project, snapshot) = hit
            } else {
                let epoch = cache.epoch()
                (project, snapshot) = try await contexts.snapshot(projectID, principal: principal, level: level, environment: environment)
                cache.put((project, snapshot), for: key, readAt: epoch)
            }
            usage.recordFetch(project: project.id, tenant: principal.tenantID, request: request)
            let answer = snapshot.answer(ifNoneMatch: request.headers[.ifNoneMatch])
            guard let body = answer.body else { return Response(status: answer.status, headers: answer.headers) }
            if !snapshot.revealed.isEmpty { try await env.logAccess(project, snapshot.revealed, by: principal, via: "context") }
            return Response(status: answer.status, headers: answer.headers, body: .init(byteBuffer: body))
        }
        routes.on(.get, "/api/v1/flukebase_connect/changes") { request, context in
            let principal = try context.principal(requiring: .contextRead)
            let project = try await access.connectProject(request, for: principal)
            let (since, limit) = try Pagination.sequence(request, cursor: "since")
            let items = try await contexts.changes(project, principal: principal, since: since ?? 0, limit: limit)
            // The cursor to resume from is always given, also at the end of the feed.
            return Page(items: items, nextCursor: items.last?.cursor ?? Pagination.cursor(String(since ?? 0)))
        }
    }

    // MARK: env

    private func registerEnv(_ routes: inout RouteRecorder) {
        routes.on(.get, "/api/v1/projects/{project_id}/env") { request, context in
            let principal = try context.principal(requiring: .contextRead)
            let project = try await access.project(try Parameters.uuid(context, "project_id"), for: principal)
            let environment = try Parameters.enumQuery(request, "environment", as: Environment.self)
            // reveal=false: masked even for a caller who may read secrets (the dashboard lists
            // masked and reveals one variable at a time).
            let reveal = try Parameters.boolQuery(request, "reveal") ?? true
            let vars = try await env.list(project, environment: environment, reveal: reveal && principal.scopes.contains(.secretsRead),
                                          by: principal, via: "env")
            return Page(items: vars, nextCursor: nil)
        }
        // Before /env/{key}: a literal segment, listed first so that it is matched first.
        routes.on(.get, "/api/v1/projects/{project_id}/env/access-log") { request, context in
            let principal = try context.principal(requiring: .secretsRead)
            let project = try await access.project(try Parameters.uuid(context, "project_id"), for: principal)
            let (before, limit) = try Pagination.sequence(request)
            let (items, last) = try await env.accessLog(project, principal: principal, before: before, limit: limit)
            return Page(items: items, lastSequence: last, limit: limit)
        }
        // One variable: a secret's value only with secrets:read, and that one read is logged.
        routes.on(.get, "/api/v1/projects/{project_id}/env/{key}") { request, context in
            let principal = try context.principal(requiring: .contextRead)
            let project = try await access.project(try Parameters.uuid(context, "project_id"), for: principal)
            let key = try Self.envKey(context)
            let environment = try Parameters.enumQuery(request, "environment", as: Environment.self) ?? .development
            guard let variable = try await env.one(project, key: key, environment: environment,
                                                   reveal: principal.scopes.contains(.secretsRead), by: principal) else {
                throw Problem.notFound("no variable \(key) in \(environment.rawValue)")
            }
            return variable
        }
        routes.on(.put, "/api/v1/projects/{project_id}/env/{key}") { request, context in
            let principal = try context.principal(requiring: .contextWrite)
            let project = try await access.project(try Parameters.uuid(context, "project_id"), for: principal)
            let key = try Self.envKey(context)
            let fields = try await RequestFields.read(request, context: context)
            // The rest of a variable as GET shows it may come back too (a round trip): the key
            // must be this one and the value not masked; version and updated_at are the
            // server's to set, so they are accepted and ignored.
            try fields.allowOnly(["value", "secret", "environment", "key", "masked", "version", "updated_at"])
            try fields.unchanged("key", .string(key))
            try fields.unchanged("masked", .bool(false))
            guard case .string(let value)? = fields.values["value"] else {
                throw Problem.invalid("value", fields.has("value") ? "must be a string" : "is required")
            }
            guard value.utf8.count <= EnvStore.maxValueBytes else {
                throw Problem.invalid("value", "must be at most \(EnvStore.maxValueBytes) bytes")
            }
            var secret = false
            if let raw = fields.values["secret"] {
                guard case .bool(let b) = raw else { throw Problem.invalid("secret", "must be a boolean") }
                secret = b
            }
            let environment = try fields.oneOf("environment", Environment.self) ?? .development
            let (v, created) = try await env.put(project, key: key, environment: environment, value: value, secret: secret, by: principal)
            return try v.response(from: request, context: context).withStatus(created ? .created : .ok)
        }
        routes.on(.delete, "/api/v1/projects/{project_id}/env/{key}") { request, context in
            let principal = try context.principal(requiring: .contextWrite)
            let project = try await access.project(try Parameters.uuid(context, "project_id"), for: principal)
            let key = try Self.envKey(context)
            let environment = try Parameters.enumQuery(request, "environment", as: Environment.self) ?? .development
            try await env.delete(project, key: key, environment: environment, by: principal)
            return Response(status: .noContent)
        }
    }

    static func envKey(_ context: FleetRequestContext) throws -> String {
        let key = context.parameters.get("key") ?? ""
        guard EnvStore.isValidKey(key) else {
            throw Problem.invalid("key", "must match ^[A-Z_][A-Z0-9_]{0,127}$")
        }
        return key
    }

    // MARK: memories

    /// What an update may send besides the writable fields: the rest of the memory as GET shows
    /// it (a round trip). The identity fields must be unchanged; `synced_at` is the server's and
    /// is ignored (the conflict rule decides between copies, not this field).
    static let memoryReadOnly = ["id", "external_id", "project_id", "created_by", "created_at"]

    private func memoryInput(_ fields: RequestFields, creating: Bool) throws -> MemoryStore.Input {
        try fields.allowOnly(Set(["external_id", "memory_type", "content", "tags", "updated_at", "version"]
                            + (creating ? [] : Self.memoryReadOnly + ["synced_at"])))
        var input = MemoryStore.Input()
        if creating { input.externalID = try fields.uuid("external_id", required: true) }
        input.memoryType = try fields.oneOf("memory_type", MemoryType.self, required: creating)
        if let content = try fields.string("content", required: creating, maxLength: maxMemoryBytes) {
            guard content.utf8.count <= maxMemoryBytes else {
                throw Problem.invalid("content", "must be at most \(maxMemoryBytes) bytes")
            }
            input.content = content
        }
        input.tags = try fields.strings("tags", maxCount: 20, maxLength: 50)
        if let raw = try fields.string("updated_at", maxLength: 40) {
            guard let date = RFC3339.parse(raw) else { throw Problem.invalid("updated_at", "must be an RFC 3339 time") }
            // A client clock far in the future would win every conflict: clamp it to now.
            input.updatedAt = min(date, Date().addingTimeInterval(5))
        }
        input.baseVersion = try fields.int("version", in: 1...Int(Int32.max))
        return input
    }

    static func ifMatch(_ request: Request) throws -> Int? {
        guard let raw = request.headers[.ifMatch] else { return nil }
        let trimmed = raw.trimmingCharacters(in: .whitespaces)
        guard trimmed.hasPrefix("\""), trimmed.hasSuffix("\""), trimmed.count > 2,
              let v = Int(trimmed.dropFirst().dropLast()) else {
            throw Problem(.badRequest, detail: "If-Match must be a version in quotes, e.g. \"3\"", field: "If-Match")
        }
        return v
    }

    private func registerMemories(_ routes: inout RouteRecorder) {
        routes.on(.post, "/api/v1/flukebase_connect/memories") { request, context in
            let principal = try context.principal(requiring: .memoriesWrite)
            let project = try await access.connectProject(request, for: principal)
            let input = try memoryInput(try await RequestFields.read(request, context: context), creating: true)
            let (m, created) = try await memories.create(project, input, by: principal)
            usage.recordSync(project: project.id, tenant: principal.tenantID, request: request)
            var response = try m.response(from: request, context: context).withStatus(created ? .created : .ok)
            response.headers[.eTag] = "\"\(m.version)\""
            return response
        }
        routes.on(.get, "/api/v1/flukebase_connect/memories") { request, context in
            let principal = try context.principal(requiring: .contextRead)
            let project = try await access.connectProject(request, for: principal)
            let q = request.uri.queryParameters
            var filter = MemoryStore.Filter()
            filter.memoryType = try Parameters.enumQuery(request, "memory_type", as: MemoryType.self)
            if let tag = q["tag"].map(String.init) {
                guard !tag.isEmpty, tag.count <= 50 else { throw Problem.invalid("tag", "must have 1 to 50 characters") }
                filter.tag = tag
            }
            if let text = q["q"].map(String.init) {
                guard !text.isEmpty, text.count <= 200 else { throw Problem.invalid("q", "must have 1 to 200 characters") }
                filter.query = text
            }
            let (after, limit) = try Pagination.sequence(request)
            let (items, last) = try await memories.list(project, filter: filter, after: after, limit: limit, principal: principal)
            return Page(items: items, lastSequence: last, limit: limit)
        }
        routes.on(.get, "/api/v1/flukebase_connect/memories/conflicts") { request, context in
            let principal = try context.principal(requiring: .contextRead)
            let project = try await access.connectProject(request, for: principal)
            let limit = try Pagination.limit(request.uri.queryParameters["limit"].map(String.init))
            return Page(items: try await memories.conflicts(project, principal: principal, limit: limit), nextCursor: nil)
        }
        routes.on(.get, "/api/v1/flukebase_connect/memories/{memory_id}") { request, context in
            let principal = try context.principal(requiring: .contextRead)
            let project = try await access.connectProject(request, for: principal)
            let m = try await memories.get(project, try Parameters.uuid(context, "memory_id"), principal: principal)
            var response = try m.response(from: request, context: context)
            response.headers[.eTag] = "\"\(m.version)\""
            return response
        }
        routes.on(.put, "/api/v1/flukebase_connect/memories/{memory_id}") { request, context in
            let principal = try context.principal(requiring: .memoriesWrite)
            let project = try await access.connectProject(request, for: principal)
            let id = try Parameters.uuid(context, "memory_id")
            let ifMatch = try Self.ifMatch(request)
            let fields = try await RequestFields.read(request, context: context)
            let input = try memoryInput(fields, creating: false)
            if Self.memoryReadOnly.contains(where: fields.has) {
                try fields.unchanged(Self.memoryReadOnly, in: try await memories.get(project, id, principal: principal))
            }
            let updated = try await memories.update(project, id, input, ifMatch: ifMatch, by: principal)
            usage.recordSync(project: project.id, tenant: principal.tenantID, request: request)
            var response = try updated.memory.response(from: request, context: context)
            response.headers[.eTag] = "\"\(updated.memory.version)\""
            if let conflict = updated.conflict {
                response.headers[HTTPField.Name("Fluke-Conflict")!] = "\(conflict.winner)-won; id=\(conflict.id.lowercased)"
            }
            return response
        }
        routes.on(.delete, "/api/v1/flukebase_connect/memories/{memory_id}") { request, context in
            let principal = try context.principal(requiring: .memoriesWrite)
            let project = try await access.connectProject(request, for: principal)
            try await memories.delete(project, try Parameters.uuid(context, "memory_id"), ifMatch: try Self.ifMatch(request), by: principal)
            usage.recordSync(project: project.id, tenant: principal.tenantID, request: request)
            return Response(status: .noContent)
        }
    }
}

extension EnvAccess: ResponseEncodable {}
extension MemoryConflict: ResponseEncodable {}
extension Change: ResponseEncodable {}
