import Foundation

/// Base64url without padding (RFC 4648 §5), as JWTs use it.
public enum Base64URL {
    /// `data` in base64url without padding.
    public static func encode<D: ContiguousBytes>(_ data: D) -> String {
        let bytes = data.withUnsafeBytes { Data($0) }
        return bytes.base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// The bytes `text` encodes; nil when it is not unpadded base64url (JWTs have no padding).
    public static func decode(_ text: some StringProtocol) -> Data? {
        decode(text, allowingPadding: false)
    }

    /// The bytes `text` encodes; nil when it is not base64url, or is padded and `allowingPadding` is false.
    public static func decode(_ text: some StringProtocol, allowingPadding: Bool) -> Data? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        if allowingPadding, base64.count % 4 == 0, let data = Data(base64Encoded: base64) { return data }
        guard !base64.contains("=") else { return nil }
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        return Data(base64Encoded: base64)
    }
}

/// Base62 (`0-9A-Za-z`): random secrets that survive URLs, shells and double-click selection.
public enum Base62 {
    static let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)

    /// The big-endian number `bytes` written in base 62, left-padded to the length every input of
    /// this size can need, so that all encodings of n bytes have one length.
    public static func encode(_ bytes: [UInt8]) -> String {
        var number = bytes
        var digits: [UInt8] = []
        while number.contains(where: { $0 != 0 }) {
            var remainder = 0
            var next: [UInt8] = []
            next.reserveCapacity(number.count)
            for byte in number {
                let value = remainder * 256 + Int(byte)
                let q = value / 62
                remainder = value % 62
                if !next.isEmpty || q != 0 { next.append(UInt8(q)) }
            }
            digits.append(alphabet[remainder])
            number = next
        }
        let width = Int((Double(bytes.count) * 8 / log2(62)).rounded(.up))
        while digits.count < width { digits.append(alphabet[0]) }
        return String(decoding: digits.reversed(), as: UTF8.self)
    }

    public static func isBase62(_ text: some StringProtocol) -> Bool {
        text.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) }
    }
}
