import FlukeCrypto
import FlukeModels
import FlukeRuntime
import Foundation

/// The access-token key pair of the test fleet: project-manager signs with the private half
/// (`PM_JWT_PRIVATE_KEYS`), every other service verifies with the public half
/// (`FLUKE_JWT_PUBLIC_KEYS`), as in production.
public enum TestKeys {
    static let seed = Data((0..<32).map { UInt8(200 - $0) })
    public static let jwtPrivateKeys = "test-1:" + seed.base64EncodedString()
    public static let signingKeys = try! JWTSigningKeys(parsing: jwtPrivateKeys, variable: "PM_JWT_PRIVATE_KEYS")
    public static let jwtPublicKeys = "test-1:" + Data(signingKeys.signer.publicKey.rawRepresentation).base64EncodedString()

    /// An authenticator that signs like the test fleet's project-manager.
    public static func authenticator(resolver: any APITokenResolver) -> Authenticator {
        Authenticator(signer: signingKeys.signer, keys: JWTKeySource(keys: signingKeys.publicKeys), resolver: resolver)
    }
}

extension TestKeys {
    /// Access tokens for `claims` that project-manager did not sign, by how they were made: each
    /// must be refused by every service.
    public static func forgedTokens(_ claims: AccessClaims) throws -> [String: String] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let payload = Base64URL.encode(try encoder.encode(claims))
        func hs256(_ key: [UInt8]) -> String {
            let input = Base64URL.encode(Data(#"{"alg":"HS256","typ":"JWT"}"#.utf8)) + "." + payload
            return input + "." + Base64URL.encode(Crypto.hmacSHA256(key: key, message: Array(input.utf8)))
        }
        let impostor = try JWTSigner(keyID: signingKeys.signer.keyID, key: try Ed25519PrivateKey.generate())
        let unknownKid = try JWTSigner(keyID: "not-published", key: try Ed25519PrivateKey.generate())
        return [
            "EdDSA with another key under project-manager's kid": try impostor.sign(claims),
            "EdDSA with a kid project-manager never published": try unknownKid.sign(claims),
            "HS256 with a shared secret": hs256(Array("test-jwt-secret-0123456789abcdefghijklmnop".utf8)),
            "HS256 keyed with project-manager's public key": hs256(signingKeys.signer.publicKey.rawRepresentation),
            "alg none": Base64URL.encode(Data(#"{"alg":"none","typ":"JWT"}"#.utf8)) + "." + payload + ".",
        ]
    }
}
