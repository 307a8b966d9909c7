import FlukeModels
import Foundation

// webhook-dispatcher's and federation's answers (their OpenAPI documents' schemas).

public struct WebhookSubscription: Decodable, Sendable {
    public var id: UUID
    public var projectID: UUID?
    public var events: [String]
    public var callbackURL: String
    public var enabled: Bool
    public var disabledReason: String?
    /// The signing secret: only in the answers that create or rotate it.
    public var secret: String?

    enum CodingKeys: String, CodingKey {
        case id, projectID = "project_id", events, callbackURL = "callback_url", enabled, disabledReason = "disabled_reason", secret
    }
}

public struct WebhookDelivery: Decodable, Sendable {
    public var id: UUID
    public var eventType: String
    public var status: String
    public var attempts: Int
    public var lastStatusCode: Int?
    public var lastError: String?

    enum CodingKeys: String, CodingKey {
        case id, eventType = "event_type", status, attempts, lastStatusCode = "last_status_code", lastError = "last_error"
    }
}

/// One project of federation's catalog.
public struct CatalogProject: Decodable, Sendable {
    public var slug: String
    public var name: String
    public var projectID: UUID?
    /// ONLINE or OFFLINE (or UNKNOWN before the first heartbeat).
    public var status: String
    public var lastHeartbeatAt: Date?

    enum CodingKeys: String, CodingKey {
        case slug, name, projectID = "project_id", status, lastHeartbeatAt = "last_heartbeat_at"
    }
}

/// `POST …/recover`: how many failed deliveries were sent again.
public struct Recovered: Decodable, Sendable {
    public var recovered: Int
}
