import FlukeCrypto
import Foundation

/// Standard Webhooks signing (https://www.standardwebhooks.com): secrets are `whsec_` + base64
/// of the key bytes; a signature is `v1,` + base64 of HMAC-SHA256(key, "id.timestamp.body").
enum StandardWebhooks {
    static let secretPrefix = "whsec_"
    static let secretBytes = 24...64

    /// A new secret of 32 random bytes.
    static func newSecret() -> String { secretPrefix + Data(Crypto.randomBytes(32)).base64EncodedString() }

    /// The key bytes of a well-formed secret, or nil.
    static func key(of secret: String) -> [UInt8]? {
        guard secret.hasPrefix(secretPrefix), let data = Data(base64Encoded: String(secret.dropFirst(secretPrefix.count))),
              secretBytes.contains(data.count) else { return nil }
        return Array(data)
    }

    /// `v1,<signature>` for one key.
    static func sign(id: String, timestamp: Int, body: [UInt8], key: [UInt8]) -> String {
        var message = Array("\(id).\(timestamp).".utf8)
        message.append(contentsOf: body)
        return "v1," + Data(Crypto.hmacSHA256(key: key, message: message)).base64EncodedString()
    }

    /// The `webhook-signature` header: one signature per active key, space-separated.
    static func signatureHeader(id: String, timestamp: Int, body: [UInt8], keys: [[UInt8]]) -> String {
        keys.map { sign(id: id, timestamp: timestamp, body: body, key: $0) }.joined(separator: " ")
    }
}
