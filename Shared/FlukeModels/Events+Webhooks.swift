import Foundation

// The `data` of webhook-dispatcher's events (source `webhook-dispatcher`). In a delivery's body
// the dispatcher adds `project_id` to every event's data, these included.

/// `webhook.endpoint.disabled`: a subscription was disabled (410 Gone, or failing too long).
public struct WebhookEndpointDisabledPayload: EventPayload, Equatable {
    public static let eventTypes: [EventType] = [.webhookEndpointDisabled]
    public var subscriptionID: UUID
    public var callbackURL: String
    public var reason: String

    enum CodingKeys: String, CodingKey {
        case reason
        case subscriptionID = "subscription_id", callbackURL = "callback_url"
    }

    public init(subscriptionID: UUID, callbackURL: String, reason: String) {
        self.subscriptionID = subscriptionID
        self.callbackURL = callbackURL
        self.reason = reason
    }
}

/// `webhook.test`: sent straight to one subscription by `POST …/test`, never on NATS.
public struct WebhookTestPayload: EventPayload, Equatable {
    public static let eventTypes: [EventType] = [.webhookTest]
    public var subscriptionID: UUID
    public var message: String

    enum CodingKeys: String, CodingKey { case message, subscriptionID = "subscription_id" }

    public init(subscriptionID: UUID, message: String = "a test event from FlukeBase") {
        self.subscriptionID = subscriptionID
        self.message = message
    }
}
