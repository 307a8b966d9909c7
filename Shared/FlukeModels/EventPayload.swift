import Foundation

/// The typed `data` of one or more event types: producers build their events from it and
/// consumers decode it. Its JSON (snake_case keys, lower-case UUIDs, RFC 3339 times) is what
/// external webhook subscribers receive, so a key once shipped never changes.
///
/// Where a fleet consumer decodes a payload, the fields it can do without are optional, so that
/// events lacking them (hand-made ones in tests, say) are applied as before; producers fill them.
public protocol EventPayload: Codable, Sendable {
    /// The event types whose `data` this is.
    static var eventTypes: [EventType] { get }
}

extension JSONValue {
    /// The JSON form of any encodable value, as the fleet encodes it (event payloads).
    public init(encoding value: some Encodable) throws {
        self = try CloudEvent.sharedDecoder.decode(JSONValue.self, from: CloudEvent.sharedEncoder.encode(value))
    }
}

extension CloudEvent {
    static let sharedEncoder = CloudEvent.encoder()
    static let sharedDecoder = CloudEvent.decoder()

    /// An event whose `data` is `payload`.
    public init<Payload: EventPayload>(id: UUID = UUID(), source: String, type: EventType, time: Date = Date(),
                                       tenantID: String? = nil, projectID: String? = nil, payload: Payload) throws {
        assert(Payload.eventTypes.contains(type), "\(Payload.self) is not the data of \(type.rawValue)")
        self.init(id: id, source: source, type: type, time: time, tenantID: tenantID, projectID: projectID,
                  data: try JSONValue(encoding: payload))
    }

    /// The event's `data` as `Payload`.
    public func payload<Payload: EventPayload>(as _: Payload.Type) throws -> Payload {
        try Self.sharedDecoder.decode(Payload.self, from: Self.sharedEncoder.encode(data))
    }
}
