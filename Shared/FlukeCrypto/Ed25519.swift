import COpenSSL
import Foundation

/// An Ed25519 signing key (RFC 8032), held as its 32-byte seed. Only project-manager has one: it
/// signs the fleet's access tokens, and every other service checks them with the public half.
public struct Ed25519PrivateKey: Sendable {
    let seed: [UInt8]
    /// The public half, derived once.
    public let publicKey: Ed25519PublicKey

    public init(seed: some ContiguousBytes) throws {
        let bytes = seed.withUnsafeBytes { Array($0) }
        guard bytes.count == 32 else { throw CryptoError(.invalidInput, "an Ed25519 seed must be 32 bytes") }
        self.seed = bytes
        let key = try EVPKey(privateSeed: bytes)
        var raw = [UInt8](repeating: 0, count: 32)
        var length = raw.count
        try CryptoError.check(EVP_PKEY_get_raw_public_key(key.pointer, &raw, &length), .invalidInput, "Ed25519 public key")
        publicKey = try Ed25519PublicKey(raw: raw)
    }

    /// A new key from the CSPRNG.
    public static func generate() throws -> Ed25519PrivateKey { try Ed25519PrivateKey(seed: Crypto.randomBytes(32)) }

    /// The 64-byte signature of `message` (deterministic, as RFC 8032 defines it).
    public func signature(for message: some ContiguousBytes) throws -> [UInt8] {
        let key = try EVPKey(privateSeed: seed)
        let ctx = EVP_MD_CTX_new()
        defer { EVP_MD_CTX_free(ctx) }
        try CryptoError.check(EVP_DigestSignInit(ctx, nil, nil, nil, key.pointer), .digestFailed, "Ed25519 sign init")
        var signature = [UInt8](repeating: 0, count: 64)
        var length = signature.count
        try message.withUnsafeBytes { m in
            try CryptoError.check(EVP_DigestSign(ctx, &signature, &length, m.bindMemory(to: UInt8.self).baseAddress, m.count),
                                  .digestFailed, "Ed25519 sign")
        }
        return signature
    }
}

/// An Ed25519 public key: verifies signatures, never makes them.
public struct Ed25519PublicKey: Sendable, Equatable {
    public let rawRepresentation: [UInt8]

    public init(raw: some ContiguousBytes) throws {
        let bytes = raw.withUnsafeBytes { Array($0) }
        guard bytes.count == 32 else { throw CryptoError(.invalidInput, "an Ed25519 public key must be 32 bytes") }
        _ = try EVPKey(publicRaw: bytes)   // whatever libcrypto refuses is refused here, not at first use
        rawRepresentation = bytes
    }

    /// Whether `signature` is this key's signature of `message`.
    public func isValidSignature(_ signature: some ContiguousBytes, for message: some ContiguousBytes) -> Bool {
        guard let key = try? EVPKey(publicRaw: rawRepresentation) else { return false }
        let ctx = EVP_MD_CTX_new()
        defer { EVP_MD_CTX_free(ctx) }
        guard EVP_DigestVerifyInit(ctx, nil, nil, nil, key.pointer) == 1 else { return false }
        let verified = signature.withUnsafeBytes { s in
            message.withUnsafeBytes { m in
                EVP_DigestVerify(ctx, s.bindMemory(to: UInt8.self).baseAddress, s.count,
                                 m.bindMemory(to: UInt8.self).baseAddress, m.count)
            }
        }
        ERR_clear_error()
        return verified == 1
    }
}

/// Owns one `EVP_PKEY *`.
private final class EVPKey {
    let pointer: OpaquePointer

    init(privateSeed: [UInt8]) throws {
        guard let key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nil, privateSeed, privateSeed.count) else {
            try CryptoError.check(0, .invalidInput, "Ed25519 private key")
            fatalError("unreachable")
        }
        pointer = key
    }

    init(publicRaw: [UInt8]) throws {
        guard let key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nil, publicRaw, publicRaw.count) else {
            try CryptoError.check(0, .invalidInput, "Ed25519 public key")
            fatalError("unreachable")
        }
        pointer = key
    }

    deinit { EVP_PKEY_free(pointer) }
}
