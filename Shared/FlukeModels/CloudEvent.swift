import Foundation

/// The envelope of every domain event in the fleet: CloudEvents 1.0, structured JSON mode, with
/// the fleet's extension attributes `tenantid` and `projectid`.
///
/// Published on `fluke.events.<type>` into the `FLUKE_EVENTS` stream with `Nats-Msg-Id` = `id`.
public struct CloudEvent: Codable, Sendable, Equatable {
    public var specversion: String
    /// Unique per event; consumers deduplicate on it.
    public var id: String
    /// The service that emitted it, e.g. `federation`.
    public var source: String
    /// A global event type, e.g. `env.updated` or `federation.project.online`.
    public var type: String
    /// When the change happened (RFC 3339).
    public var time: Date
    public var datacontenttype: String
    public var tenantid: String?
    public var projectid: String?
    public var data: JSONValue

    public init(id: UUID = UUID(), source: String, type: EventType, time: Date = Date(),
                tenantID: String? = nil, projectID: String? = nil, data: JSONValue) {
        self.specversion = "1.0"
        self.id = id.uuidString.lowercased()
        self.source = source
        self.type = type.rawValue
        self.time = time
        self.datacontenttype = "application/json"
        self.tenantid = tenantID
        self.projectid = projectID
        self.data = data
    }

    /// The NATS subject this event is published on.
    public var subject: String { EventType(rawValue: type).subject }

    /// The JSON encoder every service uses for events (RFC 3339 times with milliseconds).
    public static func encoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.dateEncodingStrategy = .custom { date, encoder in
            var c = encoder.singleValueContainer()
            try c.encode(RFC3339.format(date))
        }
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }

    /// The matching decoder.
    public static func decoder() -> JSONDecoder {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .custom { decoder in
            let c = try decoder.singleValueContainer()
            let s = try c.decode(String.self)
            guard let date = RFC3339.parse(s) else {
                throw DecodingError.dataCorruptedError(in: c, debugDescription: "not an RFC 3339 time: \(s)")
            }
            return date
        }
        return d
    }
}

/// A global event type. Types name what changed, not who consumes it.
public struct EventType: RawRepresentable, Hashable, Sendable, ExpressibleByStringLiteral {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }

    /// The subject prefix of every domain event.
    public static let subjectPrefix = "fluke.events."
    /// The JetStream stream holding every domain event.
    public static let streamName = "FLUKE_EVENTS"

    public var subject: String { Self.subjectPrefix + rawValue }

    public static let federationProjectOnline: EventType = "federation.project.online"
    public static let federationProjectOffline: EventType = "federation.project.offline"
    public static let envUpdated: EventType = "env.updated"
    public static let envDeleted: EventType = "env.deleted"
    public static let milestoneUpdated: EventType = "milestone.updated"
    public static let memorySynced: EventType = "memory.synced"
    public static let mcpConfigChanged: EventType = "mcp.config_changed"
    /// Sent by webhook-dispatcher straight to one subscription (`POST …/test`); never on NATS.
    public static let webhookTest: EventType = "webhook.test"
    public static let webhookEndpointDisabled: EventType = "webhook.endpoint.disabled"
    public static let deployQueued: EventType = "deploy.queued"
    public static let deployStarted: EventType = "deploy.started"
    public static let deployPhaseChanged: EventType = "deploy.phase_changed"
    public static let deploySucceeded: EventType = "deploy.succeeded"
    public static let deployFailed: EventType = "deploy.failed"
    public static let deployRolledBack: EventType = "deploy.rolled_back"
    public static let deployCancelled: EventType = "deploy.cancelled"
}
