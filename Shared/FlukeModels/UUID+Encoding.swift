import Foundation

/// The fleet writes UUIDs in lower case everywhere (RFC 9562 §4 recommends it, Postgres prints
/// them so, and events carry them so). Foundation encodes them upper-case; these overloads are
/// more specific than the generic ones, so every synthesized `Encodable` in the fleet uses them.
extension KeyedEncodingContainer {
    public mutating func encode(_ value: UUID, forKey key: Key) throws {
        try encode(value.uuidString.lowercased(), forKey: key)
    }

    public mutating func encodeIfPresent(_ value: UUID?, forKey key: Key) throws {
        guard let value else { return }
        try encode(value.uuidString.lowercased(), forKey: key)
    }
}

extension UUID {
    /// The lower-case text form the fleet writes everywhere.
    public var lowercased: String { uuidString.lowercased() }
}
