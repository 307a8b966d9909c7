import FlukeCrypto

/// project-manager's access-token keys (`PM_JWT_PRIVATE_KEYS`): the first signs; every one is
/// published in the JWKS and accepted, so a rotated-out key keeps its tokens valid until they
/// expire.
public struct JWTSigningKeys: Sendable {
    public let signer: JWTSigner
    /// Every key's public half, by `kid`.
    public let publicKeys: [String: Ed25519PublicKey]

    public init(parsing text: String, variable: String) throws {
        var signers: [JWTSigner] = []
        for entry in try KeyListParser.parse(text, variable: variable, bytes: 32) {
            do {
                signers.append(try JWTSigner(keyID: entry.id, key: try Ed25519PrivateKey(seed: entry.key)))
            } catch {
                throw ConfigError(variable, "key \(entry.id) is not an Ed25519 seed")
            }
        }
        signer = signers[0]
        publicKeys = Dictionary(uniqueKeysWithValues: signers.map { ($0.keyID, $0.publicKey) })
    }

    /// The key set as `GET /.well-known/jwks.json` serves it.
    public var jwks: JWKSet { JWKSet(keys: publicKeys) }
}
