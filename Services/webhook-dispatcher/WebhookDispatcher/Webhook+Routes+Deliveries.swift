import FlukeModels
import FlukeRuntime
import Foundation
import Hummingbird

/// A subscription's deliveries, one delivery with its attempts, and sending one again.
extension WebhookRoutes {
    func registerDeliveries(_ routes: inout RouteRecorder) {
        routes.on(.get, "/api/v1/webhooks/subscriptions/{subscription_id}/deliveries") { request, context in
            let principal = try context.principal(requiring: .webhooksManage)
            let id = try Parameters.uuid(context, "subscription_id")
            _ = try await subscriptions.get(id, principal: principal)
            let query = request.uri.queryParameters
            var status: String?
            if let raw = query["status"].map(String.init) {
                guard ["pending", "succeeded", "failed"].contains(raw) else {
                    throw Problem.invalid("status", "must be one of pending, succeeded, failed")
                }
                status = raw
            }
            var since: Date?
            if let raw = query["since"].map(String.init) {
                guard let time = RFC3339.parse(raw) else { throw Problem.invalid("since", "must be an RFC 3339 time") }
                since = time
            }
            let eventType = query["event_type"].map(String.init)
            if let eventType, !EventFilter.isValid(eventType) || eventType.contains("*") {
                throw Problem.invalid("event_type", "must be an event type")
            }
            let (after, limit) = try Pagination.sequence(request)
            let (items, last) = try await deliveries.list(subscription: id, principal: principal, status: status, eventType: eventType, since: since,
                                                          after: after, limit: limit)
            return Page(items: items, lastSequence: last, limit: limit)
        }
        routes.on(.get, "/api/v1/webhooks/deliveries/{delivery_id}") { _, context in
            let principal = try context.principal(requiring: .webhooksManage)
            return try await deliveries.get(try Parameters.uuid(context, "delivery_id"), principal: principal, withAttempts: true)
        }
        routes.on(.post, "/api/v1/webhooks/deliveries/{delivery_id}/retry") { request, context in
            let principal = try context.principal(requiring: .webhooksManage)
            let id = try Parameters.uuid(context, "delivery_id")
            try await deliveries.retry(id, principal: principal)
            return try await deliveries.get(id, principal: principal).response(from: request, context: context).withStatus(.accepted)
        }
    }
}
