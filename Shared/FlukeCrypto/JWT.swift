import Foundation

/// Compact JWS tokens signed with HS256 (RFC 7519 / RFC 7515), for the fleet's access tokens.
///
/// Verification accepts exactly `{"alg":"HS256","typ":"JWT"}`: no `none`, no algorithm chosen by
/// the token, no key id lookups. The claims type decides what else is checked.
public struct HS256Signer: Sendable {
    let key: [UInt8]

    /// `secret` must be at least 32 bytes (RFC 7518 §3.2: a key as long as the hash).
    public init(secret: String) throws {
        guard secret.utf8.count >= 32 else {
            throw CryptoError(.invalidInput, "an HS256 secret must be at least 32 bytes")
        }
        key = Array(secret.utf8)
    }

    static let header = Base64URL.encode(Data(#"{"alg":"HS256","typ":"JWT"}"#.utf8))

    public func sign<Claims: Encodable>(_ claims: Claims) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let payload = Base64URL.encode(try encoder.encode(claims))
        let input = Self.header + "." + payload
        return input + "." + Base64URL.encode(Crypto.hmacSHA256(key: key, message: Array(input.utf8)))
    }

    /// The claims of a token whose signature and header are ours; throws otherwise.
    public func verify<Claims: Decodable>(_ token: String, as type: Claims.Type = Claims.self) throws -> Claims {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, token.utf8.count <= 8192 else { throw JWTError.malformed }
        // The fleet's own header is recognised byte for byte; others are parsed and checked.
        if parts[0] != Self.header {
            guard let headerData = Base64URL.decode(parts[0]),
                  let header = try? JSONDecoder().decode([String: String].self, from: headerData),
                  header["alg"] == "HS256", header["typ"] == nil || header["typ"] == "JWT", header["crit"] == nil else {
                throw JWTError.unsupportedHeader
            }
        }
        guard let signature = Base64URL.decode(parts[2]) else { throw JWTError.malformed }
        let input = Array(token.utf8.prefix(parts[0].utf8.count + 1 + parts[1].utf8.count))
        guard Crypto.constantTimeEquals(Crypto.hmacSHA256(key: key, message: input), Array(signature)) else {
            throw JWTError.badSignature
        }
        guard let payload = Base64URL.decode(parts[1]) else { throw JWTError.malformed }
        do {
            return try JSONDecoder().decode(Claims.self, from: payload)
        } catch {
            throw JWTError.malformed
        }
    }
}

/// Why a JWT was refused. Deliberately coarse: callers answer 401 whatever the reason.
public enum JWTError: Error, Sendable, CustomStringConvertible {
    case malformed, unsupportedHeader, badSignature, expired, notYetValid, wrongIssuer

    public var description: String {
        switch self {
        case .malformed: "the token is not a well-formed JWT"
        case .unsupportedHeader: "the token's algorithm is not accepted"
        case .badSignature: "the token's signature is not valid"
        case .expired: "the token has expired"
        case .notYetValid: "the token is not valid yet"
        case .wrongIssuer: "the token was not issued by this fleet"
        }
    }
}
