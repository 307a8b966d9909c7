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

    func register(_ routes: inout RouteRecorder) {
        registerSubscriptions(&routes)
        registerSubscriptionActions(&routes)
        registerDeliveries(&routes)
    }
}

/// The answer to a recovery: how many failed deliveries were queued again.
struct Recovered: ResponseEncodable { var recovered: Int }

extension Subscription: ResponseEncodable {}
extension Delivery: ResponseEncodable {}
