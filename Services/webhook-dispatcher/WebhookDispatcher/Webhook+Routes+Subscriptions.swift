import FlukeModels
import FlukeRuntime
import Foundation
import Hummingbird

/// Creating, reading, changing and deleting subscriptions; test events, secret rotation and recovery.
extension WebhookRoutes {
    func registerSubscriptions(_ routes: inout RouteRecorder) {
        routes.on(.post, "/api/v1/webhooks/subscriptions") { request, context in
            let principal = try context.principal(requiring: .webhooksManage)
            let fields = try await RequestFields.read(request, context: context)
            try fields.allowOnly(["project_id", "events", "callback_url", "description", "secret", "rate_limit_per_second", "headers"])
            guard let project = try fields.uuid("project_id", required: principal.projectID == nil) ?? principal.projectID else {
                throw Problem.invalid("project_id", "is required")
            }
            guard principal.canSee(project: project) else { throw Problem.notFound("no such project") }
            let events = try Self.events(fields)!
            let url = try await checkURL(fields, required: true)!
            let secret = try Self.secret(fields) ?? StandardWebhooks.newSecret()
            let created = try await subscriptions.create(.init(
                projectID: project, events: events, callbackURL: url,
                description: try fields.string("description", minLength: 0, maxLength: 500) ?? "",
                rateLimitPerSecond: try fields.int("rate_limit_per_second", in: 1...10_000, nullable: true),
                headers: try Self.headers(fields) ?? [:], secret: secret), by: principal)
            return try await created.response(from: request, context: context).withStatus(.created)
        }
        routes.on(.get, "/api/v1/webhooks/subscriptions") { request, context in
            let principal = try context.principal(requiring: .webhooksManage)
            let project = try Parameters.uuidQuery(request, "project_id") ?? principal.projectID
            if let project, !principal.canSee(project: project) { throw Problem.notFound("no such project") }
            let (after, limit) = try Pagination.sequence(request)
            let (items, last) = try await subscriptions.list(project: project, principal: principal, after: after, limit: limit)
            return Page(items: items, lastSequence: last, limit: limit)
        }
        routes.on(.get, "/api/v1/webhooks/subscriptions/{subscription_id}") { _, context in
            let principal = try context.principal(requiring: .webhooksManage)
            return try await subscriptions.get(try Parameters.uuid(context, "subscription_id"), principal: principal)
        }
        routes.on(.patch, "/api/v1/webhooks/subscriptions/{subscription_id}") { request, context in
            let principal = try context.principal(requiring: .webhooksManage)
            let id = try Parameters.uuid(context, "subscription_id")
            let fields = try await RequestFields.read(request, context: context)
            try fields.allowOnly(["events", "callback_url", "description", "rate_limit_per_second", "headers", "enabled"])
            var changes = SubscriptionStore.Changes()
            changes.events = try Self.events(fields, required: false)
            changes.callbackURL = try await checkURL(fields, required: false)
            changes.description = try fields.string("description", minLength: 0, maxLength: 500)
            if fields.has("rate_limit_per_second") {
                changes.rateLimit = .some(try fields.int("rate_limit_per_second", in: 1...10_000, nullable: true))
            }
            changes.headers = try Self.headers(fields)
            if fields.has("enabled") {
                guard case .bool(let enabled)? = fields.values["enabled"] else { throw Problem.invalid("enabled", "must be a boolean") }
                changes.enabled = enabled
            }
            return try await subscriptions.update(id, changes, principal: principal)
        }
        routes.on(.delete, "/api/v1/webhooks/subscriptions/{subscription_id}") { _, context in
            let principal = try context.principal(requiring: .webhooksManage)
            try await subscriptions.delete(try Parameters.uuid(context, "subscription_id"), principal: principal)
            return Response(status: .noContent)
        }
    }

    /// What can be done to a subscription besides changing it: a test event, a new secret, recovery.
    func registerSubscriptionActions(_ routes: inout RouteRecorder) {
        routes.on(.post, "/api/v1/webhooks/subscriptions/{subscription_id}/test") { request, context in
            let principal = try context.principal(requiring: .webhooksManage)
            let subscription = try await subscriptions.get(try Parameters.uuid(context, "subscription_id"), principal: principal)
            let id = try await queue.recordTest(subscription: subscription, principal: principal)
            return try await deliveries.get(id, principal: principal).response(from: request, context: context).withStatus(.accepted)
        }
        routes.on(.post, "/api/v1/webhooks/subscriptions/{subscription_id}/rotate-secret") { request, context in
            let principal = try context.principal(requiring: .webhooksManage)
            let id = try Parameters.uuid(context, "subscription_id")
            var secret: String?
            if request.headers[.contentLength].flatMap(Int.init) ?? 0 > 0 || request.headers[.contentType] != nil {
                let fields = try await RequestFields.read(request, context: context)
                try fields.allowOnly(["secret"])
                secret = try Self.secret(fields)
            }
            return try await subscriptions.rotate(id, secret: secret ?? StandardWebhooks.newSecret(), principal: principal)
        }
        routes.on(.post, "/api/v1/webhooks/subscriptions/{subscription_id}/recover") { request, context in
            let principal = try context.principal(requiring: .webhooksManage)
            let id = try Parameters.uuid(context, "subscription_id")
            let fields = try await RequestFields.read(request, context: context)
            try fields.allowOnly(["since"])
            guard let raw = try fields.string("since", required: true, maxLength: 64), let since = RFC3339.parse(raw) else {
                throw Problem.invalid("since", "must be an RFC 3339 time")
            }
            _ = try await subscriptions.get(id, principal: principal)
            let count = try await deliveries.recover(subscription: id, since: since, principal: principal)
            return try await Recovered(recovered: count).response(from: request, context: context).withStatus(.accepted)
        }
    }
}
