import FlukeModels
import FlukeRuntime
import Foundation
import HTTPTypes
import Hummingbird

/// context-api's routes. Reads need `context:read`, env writes `context:write`, memory writes
/// `memories:write`, secret values and their access log `secrets:read`.
struct ContextRoutes: Sendable {
    let access: ProjectAccess
    let context: ContextStore
    let env: EnvStore
    let memories: MemoryStore
    let usage: UsageRecorder
    let cache: ContextCache
    let maxMemoryBytes: Int

    func register(_ r: inout RouteRecorder) {
        registerConnect(&r)
        registerEnv(&r)
        registerMemories(&r)
    }

    // MARK: the context and its changes

    private func registerConnect(_ r: inout RouteRecorder) {
        r.on(.get, "/api/v1/flukebase_connect/context") { request, ctx in
            let p = try ctx.principal(requiring: .contextRead)
            let projectID = try access.connectProjectID(request, for: p)
            let level = try Parameters.enumQuery(request, "context_level", as: ContextLevel.self)
            let environment = try Parameters.enumQuery(request, "environment", as: Environment.self)
            guard p.canSee(project: projectID) else { throw Problem.notFound("no such project") }
            let key = ContextCacheKey(project: projectID, tenant: p.tenantID, reveal: p.scopes.contains(.secretsRead),
                                      level: level, environment: environment)
            let project: ProjectInfo
            let snapshot: ContextStore.Snapshot
            if let hit = cache.get(key) {
                (project, snapshot) = hit
            } else {
                let epoch = cache.epoch()
                (project, snapshot) = try await context.snapshot(projectID, p: p, level: level, environment: environment)
                cache.put((project, snapshot), for: key, readAt: epoch)
            }
            usage.recordFetch(project: project.id, tenant: p.tenantID, request: request)
            let answer = snapshot.answer(ifNoneMatch: request.headers[.ifNoneMatch])
            guard let body = answer.body else { return Response(status: answer.status, headers: answer.headers) }
            if !snapshot.revealed.isEmpty { try await env.logAccess(project, snapshot.revealed, by: p, via: "context") }
            return Response(status: answer.status, headers: answer.headers, body: .init(byteBuffer: body))
        }
        r.on(.get, "/api/v1/flukebase_connect/changes") { request, ctx in
            let p = try ctx.principal(requiring: .contextRead)
            let project = try await access.connectProject(request, for: p)
            let (since, limit) = try Pagination.sequence(request, cursor: "since")
            let items = try await context.changes(project, p: p, since: since ?? 0, limit: limit)
            // The cursor to resume from is always given, also at the end of the feed.
            return Page(items: items, nextCursor: items.last?.cursor ?? Pagination.cursor(String(since ?? 0)))
        }
    }

    // MARK: env

    private func registerEnv(_ r: inout RouteRecorder) {
        r.on(.get, "/api/v1/projects/{project_id}/env") { request, ctx in
            let p = try ctx.principal(requiring: .contextRead)
            let project = try await access.project(try Parameters.uuid(ctx, "project_id"), for: p)
            let environment = try Parameters.enumQuery(request, "environment", as: Environment.self)
            let vars = try await env.list(project, environment: environment, reveal: p.scopes.contains(.secretsRead), by: p,
                                          via: "env")
            return Page(items: vars, nextCursor: nil)
        }
        // Before /env/{key}: a literal segment, listed first so that it is matched first.
        r.on(.get, "/api/v1/projects/{project_id}/env/access-log") { request, ctx in
            let p = try ctx.principal(requiring: .secretsRead)
            let project = try await access.project(try Parameters.uuid(ctx, "project_id"), for: p)
            let (before, limit) = try Pagination.sequence(request)
            let (items, last) = try await env.accessLog(project, p: p, before: before, limit: limit)
            return Page(items: items, lastSequence: last, limit: limit)
        }
        r.on(.put, "/api/v1/projects/{project_id}/env/{key}") { request, ctx in
            let p = try ctx.principal(requiring: .contextWrite)
            let project = try await access.project(try Parameters.uuid(ctx, "project_id"), for: p)
            let key = try Self.envKey(ctx)
            let f = try await RequestFields.read(request, context: ctx)
            // The rest of a variable as GET shows it may come back too (a round trip): the key
            // must be this one and the value not masked; version and updated_at are the
            // server's to set, so they are accepted and ignored.
            try f.allowOnly(["value", "secret", "environment", "key", "masked", "version", "updated_at"])
            try f.unchanged("key", .string(key))
            try f.unchanged("masked", .bool(false))
            guard case .string(let value)? = f.values["value"] else {
                throw Problem.invalid("value", f.has("value") ? "must be a string" : "is required")
            }
            guard value.utf8.count <= EnvStore.maxValueBytes else {
                throw Problem.invalid("value", "must be at most \(EnvStore.maxValueBytes) bytes")
            }
            var secret = false
            if let raw = f.values["secret"] {
                guard case .bool(let b) = raw else { throw Problem.invalid("secret", "must be a boolean") }
                secret = b
            }
            let environment = try f.oneOf("environment", Environment.self) ?? .development
            let (v, created) = try await env.put(project, key: key, environment: environment, value: value, secret: secret, by: p)
            return try v.response(from: request, context: ctx).withStatus(created ? .created : .ok)
        }
        r.on(.delete, "/api/v1/projects/{project_id}/env/{key}") { request, ctx in
            let p = try ctx.principal(requiring: .contextWrite)
            let project = try await access.project(try Parameters.uuid(ctx, "project_id"), for: p)
            let key = try Self.envKey(ctx)
            let environment = try Parameters.enumQuery(request, "environment", as: Environment.self) ?? .development
            try await env.delete(project, key: key, environment: environment, by: p)
            return Response(status: .noContent)
        }
    }

    static func envKey(_ ctx: FleetRequestContext) throws -> String {
        let key = ctx.parameters.get("key") ?? ""
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

    private func memoryInput(_ f: RequestFields, creating: Bool) throws -> MemoryStore.Input {
        try f.allowOnly(Set(["external_id", "memory_type", "content", "tags", "updated_at", "version"]
                            + (creating ? [] : Self.memoryReadOnly + ["synced_at"])))
        var input = MemoryStore.Input()
        if creating { input.externalID = try f.uuid("external_id", required: true) }
        input.memoryType = try f.oneOf("memory_type", MemoryType.self, required: creating)
        if let content = try f.string("content", required: creating, maxLength: maxMemoryBytes) {
            guard content.utf8.count <= maxMemoryBytes else {
                throw Problem.invalid("content", "must be at most \(maxMemoryBytes) bytes")
            }
            input.content = content
        }
        input.tags = try f.strings("tags", maxCount: 20, maxLength: 50)
        if let raw = try f.string("updated_at", maxLength: 40) {
            guard let date = RFC3339.parse(raw) else { throw Problem.invalid("updated_at", "must be an RFC 3339 time") }
            // A client clock far in the future would win every conflict: clamp it to now.
            input.updatedAt = min(date, Date().addingTimeInterval(5))
        }
        input.baseVersion = try f.int("version", in: 1...Int(Int32.max))
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

    private func registerMemories(_ r: inout RouteRecorder) {
        r.on(.post, "/api/v1/flukebase_connect/memories") { request, ctx in
            let p = try ctx.principal(requiring: .memoriesWrite)
            let project = try await access.connectProject(request, for: p)
            let input = try memoryInput(try await RequestFields.read(request, context: ctx), creating: true)
            let (m, created) = try await memories.create(project, input, by: p)
            usage.recordSync(project: project.id, tenant: p.tenantID, request: request)
            var response = try m.response(from: request, context: ctx).withStatus(created ? .created : .ok)
            response.headers[.eTag] = "\"\(m.version)\""
            return response
        }
        r.on(.get, "/api/v1/flukebase_connect/memories") { request, ctx in
            let p = try ctx.principal(requiring: .contextRead)
            let project = try await access.connectProject(request, for: p)
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
            let (items, last) = try await memories.list(project, filter: filter, after: after, limit: limit, p: p)
            return Page(items: items, lastSequence: last, limit: limit)
        }
        r.on(.get, "/api/v1/flukebase_connect/memories/conflicts") { request, ctx in
            let p = try ctx.principal(requiring: .contextRead)
            let project = try await access.connectProject(request, for: p)
            let limit = try Pagination.limit(request.uri.queryParameters["limit"].map(String.init))
            return Page(items: try await memories.conflicts(project, p: p, limit: limit), nextCursor: nil)
        }
        r.on(.get, "/api/v1/flukebase_connect/memories/{memory_id}") { request, ctx in
            let p = try ctx.principal(requiring: .contextRead)
            let project = try await access.connectProject(request, for: p)
            let m = try await memories.get(project, try Parameters.uuid(ctx, "memory_id"), p: p)
            var response = try m.response(from: request, context: ctx)
            response.headers[.eTag] = "\"\(m.version)\""
            return response
        }
        r.on(.put, "/api/v1/flukebase_connect/memories/{memory_id}") { request, ctx in
            let p = try ctx.principal(requiring: .memoriesWrite)
            let project = try await access.connectProject(request, for: p)
            let id = try Parameters.uuid(ctx, "memory_id")
            let ifMatch = try Self.ifMatch(request)
            let f = try await RequestFields.read(request, context: ctx)
            let input = try memoryInput(f, creating: false)
            if Self.memoryReadOnly.contains(where: f.has) {
                try f.unchanged(Self.memoryReadOnly, in: try await memories.get(project, id, p: p))
            }
            let updated = try await memories.update(project, id, input, ifMatch: ifMatch, by: p)
            usage.recordSync(project: project.id, tenant: p.tenantID, request: request)
            var response = try updated.memory.response(from: request, context: ctx)
            response.headers[.eTag] = "\"\(updated.memory.version)\""
            if let conflict = updated.conflict {
                response.headers[HTTPField.Name("Fluke-Conflict")!] = "\(conflict.winner)-won; id=\(conflict.id.lowercased)"
            }
            return response
        }
        r.on(.delete, "/api/v1/flukebase_connect/memories/{memory_id}") { request, ctx in
            let p = try ctx.principal(requiring: .memoriesWrite)
            let project = try await access.connectProject(request, for: p)
            try await memories.delete(project, try Parameters.uuid(ctx, "memory_id"), ifMatch: try Self.ifMatch(request), by: p)
            usage.recordSync(project: project.id, tenant: p.tenantID, request: request)
            return Response(status: .noContent)
        }
    }
}

extension EnvAccess: ResponseEncodable {}
extension MemoryConflict: ResponseEncodable {}
extension Change: ResponseEncodable {}
