import Foundation

/// Compact JWS tokens signed with EdDSA over Ed25519 (RFC 7519, RFC 7515, RFC 8037), for the
/// fleet's access tokens.
///
/// Only project-manager holds a ``JWTSigner``; everyone else holds public keys, so no service but
/// project-manager can mint a token. The header is `{"alg":"EdDSA","kid":…,"typ":"JWT"}`: no
/// `none`, no HMAC, no algorithm chosen by the token; the `kid` picks one of the known keys.
public struct JWTSigner: Sendable {
    public let keyID: String
    let key: Ed25519PrivateKey
    let header: String
    public var publicKey: Ed25519PublicKey { key.publicKey }

    public init(keyID: String, key: Ed25519PrivateKey) throws {
        guard JWTKeyID.isValid(keyID) else { throw CryptoError(.invalidInput, "a key id is 1–64 of A–Z a–z 0–9 . _ -") }
        self.keyID = keyID
        self.key = key
        header = Base64URL.encode(Data(#"{"alg":"EdDSA","kid":"\#(keyID)","typ":"JWT"}"#.utf8))
    }

    public func sign<Claims: Encodable>(_ claims: Claims) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let input = header + "." + Base64URL.encode(try encoder.encode(claims))
        return input + "." + Base64URL.encode(try key.signature(for: Array(input.utf8)))
    }
}

/// Checks tokens against a set of public keys by `kid`.
public struct JWTVerifier: Sendable {
    public var keys: [String: Ed25519PublicKey]

    public init(keys: [String: Ed25519PublicKey]) { self.keys = keys }

    /// The `kid` a token names, if its header is one this verifier could accept at all.
    public static func keyID(of token: String) throws -> String {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, token.utf8.count <= 8192 else { throw JWTError.malformed }
        guard let data = Base64URL.decode(parts[0]),
              let header = try? JSONDecoder().decode([String: String].self, from: data) else {
            throw JWTError.unsupportedHeader
        }
        guard header["alg"] == "EdDSA", header["typ"] == nil || header["typ"] == "JWT", header["crit"] == nil,
              let kid = header["kid"], JWTKeyID.isValid(kid) else {
            throw JWTError.unsupportedHeader
        }
        return kid
    }

    /// The claims of a token signed by one of `keys`; throws otherwise.
    public func verify<Claims: Decodable>(_ token: String, as type: Claims.Type = Claims.self) throws -> Claims {
        let kid = try Self.keyID(of: token)
        guard let key = keys[kid] else { throw JWTError.unknownKey }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard let signature = Base64URL.decode(parts[2]), signature.count == 64 else { throw JWTError.malformed }
        let input = Array(token.utf8.prefix(parts[0].utf8.count + 1 + parts[1].utf8.count))
        guard key.isValidSignature(signature, for: input) else { throw JWTError.badSignature }
        guard let payload = Base64URL.decode(parts[1]) else { throw JWTError.malformed }
        do {
            return try JSONDecoder().decode(Claims.self, from: payload)
        } catch {
            throw JWTError.malformed
        }
    }
}

/// Key ids as the fleet writes them: short, printable, safe in a header and a config value.
public enum JWTKeyID {
    public static func isValid(_ kid: String) -> Bool {
        !kid.isEmpty && kid.utf8.count <= 64
            && kid.utf8.allSatisfy { $0.isASCIIAlnum || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
    }
}

extension UInt8 {
    fileprivate var isASCIIAlnum: Bool {
        (self >= 0x30 && self <= 0x39) || (self >= 0x41 && self <= 0x5A) || (self >= 0x61 && self <= 0x7A)
    }
}

/// A JSON Web Key Set (RFC 7517) of Ed25519 public keys (RFC 8037 `OKP`), as
/// `GET /.well-known/jwks.json` serves it.
public struct JWKSet: Codable, Sendable, Equatable {
    public struct Key: Codable, Sendable, Equatable {
        public var kty: String
        public var crv: String?
        public var x: String?
        public var kid: String?
        public var alg: String?
        public var use: String?

        public init(kid: String, publicKey: Ed25519PublicKey) {
            kty = "OKP"
            crv = "Ed25519"
            x = Base64URL.encode(publicKey.rawRepresentation)
            self.kid = kid
            alg = "EdDSA"
            use = "sig"
        }
    }

    public var keys: [Key]

    public init(keys: [String: Ed25519PublicKey]) {
        self.keys = keys.sorted { $0.key < $1.key }.map { Key(kid: $0.key, publicKey: $0.value) }
    }

    /// The Ed25519 signing keys in the set by `kid`; other keys (other curves, encryption keys)
    /// are ignored, as RFC 7517 §5 asks of keys a client does not understand.
    public var ed25519Keys: [String: Ed25519PublicKey] {
        var result: [String: Ed25519PublicKey] = [:]
        for key in keys where key.kty == "OKP" && key.crv == "Ed25519" && (key.use ?? "sig") == "sig"
            && (key.alg ?? "EdDSA") == "EdDSA" {
            guard let kid = key.kid, JWTKeyID.isValid(kid), let x = key.x.flatMap(Base64URL.decode),
                  let publicKey = try? Ed25519PublicKey(raw: x) else { continue }
            result[kid] = publicKey
        }
        return result
    }
}

/// Why a JWT was refused. Deliberately coarse: callers answer 401 whatever the reason.
public enum JWTError: Error, Sendable, CustomStringConvertible {
    case malformed, unsupportedHeader, unknownKey, badSignature, expired, notYetValid, wrongIssuer

    public var description: String {
        switch self {
        case .malformed: "the token is not a well-formed JWT"
        case .unsupportedHeader: "the token's algorithm is not accepted"
        case .unknownKey: "the token is signed with an unknown key"
        case .badSignature: "the token's signature is not valid"
        case .expired: "the token has expired"
        case .notYetValid: "the token is not valid yet"
        case .wrongIssuer: "the token was not issued by this fleet"
        }
    }
}
