import COpenSSL
import Foundation

/// An RSA private key read from PEM (PKCS#1 `BEGIN RSA PRIVATE KEY`, as GitHub hands out App
/// keys, or PKCS#8 `BEGIN PRIVATE KEY`), at least 2048 bits. Signs RS256 (RSASSA-PKCS1-v1_5 with
/// SHA-256). Held as its PEM text; each signature parses it again, which costs far less than the
/// signature and keeps no libcrypto pointer in a `Sendable` value.
public struct RSAPrivateKey: Sendable {
    let pem: String
    /// The key as it was read (or, when generated, as PKCS#8 PEM).
    public var pemRepresentation: String { pem }

    public init(pem: String) throws {
        self.pem = pem
        let key = try RSAKey(privatePEM: pem)
        guard EVP_PKEY_get_base_id(key.pointer) == EVP_PKEY_RSA else { throw CryptoError(.invalidInput, "the key is not an RSA key") }
        guard EVP_PKEY_get_bits(key.pointer) >= 2048 else { throw CryptoError(.invalidInput, "the RSA key is shorter than 2048 bits") }
    }

    /// A new key (`bits` long) from the CSPRNG, as PKCS#8 PEM.
    public static func generate(bits: Int = 2048) throws -> RSAPrivateKey {
        let ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_RSA, nil)
        defer { EVP_PKEY_CTX_free(ctx) }
        try CryptoError.check(EVP_PKEY_keygen_init(ctx), .invalidInput, "RSA key generation")
        try CryptoError.check(EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, Int32(bits)), .invalidInput, "RSA key size")
        var generated: OpaquePointer?
        try CryptoError.check(EVP_PKEY_keygen(ctx, &generated), .invalidInput, "RSA key generation")
        guard let key = generated else { throw CryptoError(.invalidInput, "RSA key generation gave no key") }
        defer { EVP_PKEY_free(key) }
        let bio = BIO_new(BIO_s_mem())
        defer { BIO_free(bio) }
        try CryptoError.check(PEM_write_bio_PrivateKey(bio, key, nil, nil, 0, nil, nil), .invalidInput, "RSA key to PEM")
        return try RSAPrivateKey(pem: RSAKey.read(bio))
    }

    /// The public half, as `BEGIN PUBLIC KEY` PEM (SubjectPublicKeyInfo).
    public func publicKeyPEM() throws -> String {
        let key = try RSAKey(privatePEM: pem)
        let bio = BIO_new(BIO_s_mem())
        defer { BIO_free(bio) }
        try CryptoError.check(PEM_write_bio_PUBKEY(bio, key.pointer), .invalidInput, "RSA public key to PEM")
        return RSAKey.read(bio)
    }

    /// The RS256 signature of `message`.
    public func signatureSHA256(for message: some ContiguousBytes) throws -> [UInt8] {
        let key = try RSAKey(privatePEM: pem)
        let ctx = EVP_MD_CTX_new()
        defer { EVP_MD_CTX_free(ctx) }
        try CryptoError.check(EVP_DigestSignInit(ctx, nil, EVP_sha256(), nil, key.pointer), .digestFailed, "RS256 sign init")
        var length = 0
        return try message.withUnsafeBytes { m in
            let bytes = m.bindMemory(to: UInt8.self).baseAddress
            try CryptoError.check(EVP_DigestSign(ctx, nil, &length, bytes, m.count), .digestFailed, "RS256 signature size")
            var signature = [UInt8](repeating: 0, count: length)
            try CryptoError.check(EVP_DigestSign(ctx, &signature, &length, bytes, m.count), .digestFailed, "RS256 sign")
            return Array(signature.prefix(length))
        }
    }
}

/// An RSA public key read from `BEGIN PUBLIC KEY` PEM: checks RS256 signatures.
public struct RSAPublicKey: Sendable {
    let pem: String

    public init(pem: String) throws {
        self.pem = pem
        _ = try RSAKey(publicPEM: pem)
    }

    public func isValidSignatureSHA256(_ signature: some ContiguousBytes, for message: some ContiguousBytes) -> Bool {
        guard let key = try? RSAKey(publicPEM: pem) else { return false }
        let ctx = EVP_MD_CTX_new()
        defer { EVP_MD_CTX_free(ctx) }
        guard EVP_DigestVerifyInit(ctx, nil, EVP_sha256(), nil, key.pointer) == 1 else { return false }
        let verified = signature.withUnsafeBytes { s in
            message.withUnsafeBytes { m in
                EVP_DigestVerify(ctx, s.bindMemory(to: UInt8.self).baseAddress, s.count, m.bindMemory(to: UInt8.self).baseAddress, m.count)
            }
        }
        ERR_clear_error()
        return verified == 1
    }
}

/// Owns one `EVP_PKEY *` read from PEM.
private final class RSAKey {
    let pointer: OpaquePointer

    init(privatePEM pem: String) throws {
        pointer = try Self.parse(pem, "RSA private key") { bio in PEM_read_bio_PrivateKey(bio, nil, nil, nil) }
    }

    init(publicPEM pem: String) throws {
        pointer = try Self.parse(pem, "RSA public key") { bio in PEM_read_bio_PUBKEY(bio, nil, nil, nil) }
    }

    deinit { EVP_PKEY_free(pointer) }

    private static func parse(_ pem: String, _ what: String, _ read: (OpaquePointer?) -> OpaquePointer?) throws -> OpaquePointer {
        let bytes = Array(pem.utf8)
        guard bytes.count <= 16 << 10 else { throw CryptoError(.invalidInput, "\(what): longer than 16 KiB") }
        let key: OpaquePointer? = bytes.withUnsafeBytes { buffer in
            let bio = BIO_new_mem_buf(buffer.baseAddress, Int32(buffer.count))
            defer { BIO_free(bio) }
            return read(bio)
        }
        guard let key else {
            try CryptoError.check(0, .invalidInput, "\(what) (PEM)")
            fatalError("unreachable")
        }
        return key
    }

    static func read(_ bio: OpaquePointer?) -> String {
        var pointer: UnsafeMutablePointer<CChar>?
        let length = BIO_ctrl(bio, BIO_CTRL_INFO, 0, &pointer)
        guard let pointer, length > 0 else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: pointer, count: length), as: UTF8.self)
    }
}

/// RS256 JWTs (RFC 7518 §3.3): what a GitHub App signs to ask for installation tokens.
public enum RS256JWT {
    public static func sign<Claims: Encodable>(_ claims: Claims, key: RSAPrivateKey) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let input = Base64URL.encode(Data(#"{"alg":"RS256","typ":"JWT"}"#.utf8)) + "." + Base64URL.encode(try encoder.encode(claims))
        return input + "." + Base64URL.encode(try key.signatureSHA256(for: Array(input.utf8)))
    }

    /// The claims of `token` if `key` signed it with RS256; nil otherwise.
    public static func verify(_ token: String, key: RSAPublicKey) -> [String: Any]? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let header = Base64URL.decode(parts[0]), let claims = Base64URL.decode(parts[1]),
              let signature = Base64URL.decode(parts[2]),
              (try? JSONSerialization.jsonObject(with: header) as? [String: Any])?["alg"] as? String == "RS256",
              key.isValidSignatureSHA256(signature, for: Array("\(parts[0]).\(parts[1])".utf8)) else { return nil }
        return try? JSONSerialization.jsonObject(with: claims) as? [String: Any]
    }
}
