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
    /// The lower-case text form the fleet writes everywhere (written from the bytes: Foundation's
    /// `uuidString` goes through `snprintf`, and log-streamer writes several per entry).
    public var lowercased: String {
        let digits: StaticString = "0123456789abcdef"
        return withUnsafeBytes(of: uuid) { bytes in
            String(unsafeUninitializedCapacity: 36) { out in
                var i = 0
                for (index, byte) in bytes.enumerated() {
                    if index == 4 || index == 6 || index == 8 || index == 10 {
                        out[i] = UInt8(ascii: "-")
                        i += 1
                    }
                    out[i] = digits.utf8Start[Int(byte >> 4)]
                    out[i + 1] = digits.utf8Start[Int(byte & 0x0F)]
                    i += 2
                }
                return 36
            }
        }
    }

    /// Parses the 8-4-4-4-12 hex form in either case, as `UUID(uuidString:)` does, without its
    /// `sscanf`.
    public init?(text: String) {
        var text = text
        let parsed: uuid_t? = text.withUTF8 { u -> uuid_t? in
            guard u.count == 36, u[8] == UInt8(ascii: "-"), u[13] == UInt8(ascii: "-"), u[18] == UInt8(ascii: "-"),
                  u[23] == UInt8(ascii: "-") else { return nil }
            func nibble(_ c: UInt8) -> UInt8? {
                switch c {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
                default: nil
                }
            }
            var bytes = [UInt8](repeating: 0, count: 16)
            var i = 0
            for k in 0..<16 {
                if i == 8 || i == 13 || i == 18 || i == 23 { i += 1 }
                guard let high = nibble(u[i]), let low = nibble(u[i + 1]) else { return nil }
                bytes[k] = high << 4 | low
                i += 2
            }
            return (bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                    bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15])
        }
        guard let parsed else { return nil }
        self.init(uuid: parsed)
    }
}
