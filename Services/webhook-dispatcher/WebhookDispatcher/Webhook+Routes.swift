import FlukeModels
import FlukeNATS
import FlukePostgres
import FlukeRuntime
import Foundation
import Hummingbird

/// The REST API: subscriptions, their deliveries, and recovery. Every route needs
/// `webhooks:manage`; everything belongs to the caller's tenant, and a project-bound token sees
/// only its project.
struct WebhookRoutes: Sendable {
    let subscriptions: SubscriptionStore
    let deliveries: DeliveryStore
    let queue: DeliveryQueue
    /// Checks callback URLs exactly as deliveries will.
    let resolver: WebhookSender

    static let reservedHeaders: Set<String> = [
        "content-type", "content-length", "host", "transfer-encoding", "connection", "user-agent", "te", "upgrade",
        "webhook-id", "webhook-timestamp", "webhook-signature", "keep-alive", "proxy-authorization", "expect",
    ]

    func register(_ r: inout RouteRecorder) {
        r.on(.post, "/api/v1/webhooks/subscriptions") { request, ctx in
            let p = try ctx.principal(requiring: .webhooksManage)
            let f = try await RequestFields.read(request, context: ctx)
            try f.allowOnly(["project_id", "events", "callback_url", "description", "secret", "rate_limit_per_second", "headers"])
            guard let project = try f.uuid("project_id", required: p.projectID == nil) ?? p.projectID else {
                throw Problem.invalid("project_id", "is required")
            }
            guard p.canSee(project: project) else { throw Problem.notFound("no such project") }
            let events = try Self.events(f)!
            let url = try await checkURL(f, required: true)!
            let secret = try Self.secret(f) ?? StandardWebhooks.newSecret()
            let created = try await subscriptions.create(.init(
                projectID: project, events: events, callbackURL: url,
                description: try f.string("description", minLength: 0, maxLength: 500) ?? "",
                rateLimitPerSecond: try f.int("rate_limit_per_second", in: 1...10_000, nullable: true),
                headers: try Self.headers(f) ?? [:], secret: secret), by: p)
            return try await created.response(from: request, context: ctx).withStatus(.created)
        }
        r.on(.get, "/api/v1/webhooks/subscriptions") { request, ctx in
            let p = try ctx.principal(requiring: .webhooksManage)
            let project = try Parameters.uuidQuery(request, "project_id") ?? p.projectID
            if let project, !p.canSee(project: project) { throw Problem.notFound("no such project") }
            let (after, limit) = try Pagination.sequence(request)
            let (items, last) = try await subscriptions.list(project: project, p: p, after: after, limit: limit)
            return Page(items: items, lastSequence: last, limit: limit)
        }
        r.on(.get, "/api/v1/webhooks/subscriptions/{id}") { _, ctx in
            let p = try ctx.principal(requiring: .webhooksManage)
            return try await subscriptions.get(try Parameters.uuid(ctx, "id"), p: p)
        }
        r.on(.patch, "/api/v1/webhooks/subscriptions/{id}") { request, ctx in
            let p = try ctx.principal(requiring: .webhooksManage)
            let id = try Parameters.uuid(ctx, "id")
            let f = try await RequestFields.read(request, context: ctx)
            try f.allowOnly(["events", "callback_url", "description", "rate_limit_per_second", "headers", "enabled"])
            var changes = SubscriptionStore.Changes()
            changes.events = try Self.events(f, required: false)
            changes.callbackURL = try await checkURL(f, required: false)
            changes.description = try f.string("description", minLength: 0, maxLength: 500)
            if f.has("rate_limit_per_second") {
                changes.rateLimit = .some(try f.int("rate_limit_per_second", in: 1...10_000, nullable: true))
            }
            changes.headers = try Self.headers(f)
            if f.has("enabled") {
                guard case .bool(let b)? = f.values["enabled"] else { throw Problem.invalid("enabled", "must be a boolean") }
                changes.enabled = b
            }
            return try await subscriptions.update(id, changes, p: p)
        }
        r.on(.delete, "/api/v1/webhooks/subscriptions/{id}") { _, ctx in
            let p = try ctx.principal(requiring: .webhooksManage)
            try await subscriptions.delete(try Parameters.uuid(ctx, "id"), p: p)
            return Response(status: .noContent)
        }
        r.on(.post, "/api/v1/webhooks/subscriptions/{id}/test") { request, ctx in
            let p = try ctx.principal(requiring: .webhooksManage)
            let subscription = try await subscriptions.get(try Parameters.uuid(ctx, "id"), p: p)
            let id = try await queue.recordTest(subscription: subscription, principal: p)
            return try await deliveries.get(id, p: p).response(from: request, context: ctx).withStatus(.accepted)
        }
        r.on(.post, "/api/v1/webhooks/subscriptions/{id}/rotate-secret") { request, ctx in
            let p = try ctx.principal(requiring: .webhooksManage)
            let id = try Parameters.uuid(ctx, "id")
            var secret: String?
            if request.headers[.contentLength].flatMap(Int.init) ?? 0 > 0 || request.headers[.contentType] != nil {
                let f = try await RequestFields.read(request, context: ctx)
                try f.allowOnly(["secret"])
                secret = try Self.secret(f)
            }
            return try await subscriptions.rotate(id, secret: secret ?? StandardWebhooks.newSecret(), p: p)
        }
        r.on(.post, "/api/v1/webhooks/subscriptions/{id}/recover") { request, ctx in
            let p = try ctx.principal(requiring: .webhooksManage)
            let id = try Parameters.uuid(ctx, "id")
            let f = try await RequestFields.read(request, context: ctx)
            try f.allowOnly(["since"])
            guard let raw = try f.string("since", required: true, maxLength: 64), let since = RFC3339.parse(raw) else {
                throw Problem.invalid("since", "must be an RFC 3339 time")
            }
            _ = try await subscriptions.get(id, p: p)
            let count = try await deliveries.recover(subscription: id, since: since, p: p)
            return try await Recovered(recovered: count).response(from: request, context: ctx).withStatus(.accepted)
        }
        r.on(.get, "/api/v1/webhooks/subscriptions/{id}/deliveries") { request, ctx in
            let p = try ctx.principal(requiring: .webhooksManage)
            let id = try Parameters.uuid(ctx, "id")
            _ = try await subscriptions.get(id, p: p)
            let q = request.uri.queryParameters
            var status: String?
            if let raw = q["status"].map(String.init) {
                guard ["pending", "succeeded", "failed"].contains(raw) else {
                    throw Problem.invalid("status", "must be one of pending, succeeded, failed")
                }
                status = raw
            }
            var since: Date?
            if let raw = q["since"].map(String.init) {
                guard let d = RFC3339.parse(raw) else { throw Problem.invalid("since", "must be an RFC 3339 time") }
                since = d
            }
            let eventType = q["event_type"].map(String.init)
            if let eventType, !EventFilter.isValid(eventType) || eventType.contains("*") {
                throw Problem.invalid("event_type", "must be an event type")
            }
            let (after, limit) = try Pagination.sequence(request)
            let (items, last) = try await deliveries.list(subscription: id, p: p, status: status, eventType: eventType, since: since,
                                                          after: after, limit: limit)
            return Page(items: items, lastSequence: last, limit: limit)
        }
        r.on(.get, "/api/v1/webhooks/deliveries/{id}") { _, ctx in
            let p = try ctx.principal(requiring: .webhooksManage)
            return try await deliveries.get(try Parameters.uuid(ctx, "id"), p: p, withAttempts: true)
        }
        r.on(.post, "/api/v1/webhooks/deliveries/{id}/retry") { request, ctx in
            let p = try ctx.principal(requiring: .webhooksManage)
            let id = try Parameters.uuid(ctx, "id")
            try await deliveries.retry(id, p: p)
            return try await deliveries.get(id, p: p).response(from: request, context: ctx).withStatus(.accepted)
        }
    }

    func checkURL(_ f: RequestFields, required: Bool) async throws -> String? {
        guard let url = try f.string("callback_url", required: required, maxLength: 2048) else { return nil }
        do {
            _ = try await resolver.checkedAddress(url)
        } catch let error as URLPolicyError {
            throw Problem.invalid("callback_url", error.reason)
        }
        return url
    }

    static func events(_ f: RequestFields, required: Bool = true) throws -> [String]? {
        guard let events = try f.strings("events", required: required, maxCount: 50, maxLength: 128) else { return nil }
        guard !events.isEmpty else { throw Problem.invalid("events", "must name at least one event type") }
        for (i, e) in events.enumerated() where !EventFilter.isValid(e) {
            throw Problem.invalid("events[\(i)]", "must be an event type, a prefix ending in .* or *")
        }
        var seen = Set<String>()
        return events.filter { seen.insert($0).inserted }
    }

    static func secret(_ f: RequestFields) throws -> String? {
        guard f.has("secret"), !f.isNull("secret") else { return nil }
        guard case .string(let s)? = f.values["secret"] else { throw Problem.invalid("secret", "must be a string") }
        guard StandardWebhooks.key(of: s) != nil else {
            throw Problem.invalid("secret", "must be whsec_ followed by the base64 of 24 to 64 bytes")
        }
        return s
    }

    static func headers(_ f: RequestFields) throws -> [String: String]? {
        guard let value = f.values["headers"], !f.isNull("headers") else { return nil }
        guard case .object(let o) = value else { throw Problem.invalid("headers", "must be an object of strings") }
        guard o.count <= 20 else { throw Problem.invalid("headers", "must have at most 20 headers") }
        var out: [String: String] = [:]
        for (name, v) in o.sorted(by: { $0.key < $1.key }) {
            let field = "headers.\(name)"
            guard !name.isEmpty, name.count <= 64, name.utf8.allSatisfy(Self.isTokenByte) else {
                throw Problem.invalid(field, "must be a valid header name")
            }
            guard !reservedHeaders.contains(name.lowercased()) else { throw Problem.invalid(field, "is set by the dispatcher") }
            guard case .string(let s) = v, s.count <= 1024, !s.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
                throw Problem.invalid(field, "must be a string of at most 1024 characters without control characters")
            }
            out[name] = s
        }
        return out
    }

    static func isTokenByte(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || "!#$%&'*+-.^_`|~".utf8.contains(b)
    }
}

/// The answer to a recovery: how many failed deliveries were queued again.
struct Recovered: ResponseEncodable { var recovered: Int }

extension Subscription: ResponseEncodable {}
extension Delivery: ResponseEncodable {}
