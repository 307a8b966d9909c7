import COpenSSL
import Foundation

/// AES-256-GCM through OpenSSL's EVP API: what the fleet encrypts secrets at rest with.
public enum AESGCM {
    public static let keySize = 32
    public static let nonceSize = 12
    public static let tagSize = 16

    /// A sealed value: a fresh 96-bit nonce, the ciphertext and the 128-bit tag.
    public struct Sealed: Sendable, Equatable {
        public var nonce: [UInt8]
        public var ciphertext: [UInt8]
        public var tag: [UInt8]

        public init(nonce: [UInt8], ciphertext: [UInt8], tag: [UInt8]) {
            self.nonce = nonce
            self.ciphertext = ciphertext
            self.tag = tag
        }

        /// `nonce ‖ ciphertext ‖ tag`, the form stored in one column.
        public var combined: [UInt8] { nonce + ciphertext + tag }

        public init?(combined: [UInt8]) {
            guard combined.count >= AESGCM.nonceSize + AESGCM.tagSize else { return nil }
            nonce = Array(combined.prefix(AESGCM.nonceSize))
            tag = Array(combined.suffix(AESGCM.tagSize))
            ciphertext = Array(combined[AESGCM.nonceSize..<(combined.count - AESGCM.tagSize)])
        }
    }

    /// Encrypts `plaintext`, authenticating `associatedData` with it (bind a value to its row, so
    /// that a ciphertext copied to another row does not decrypt).
    public static func seal(_ plaintext: [UInt8], key: [UInt8], associatedData: [UInt8] = []) throws -> Sealed {
        guard key.count == keySize else { throw CryptoError(.invalidInput, "AES-256-GCM needs a 32-byte key") }
        let nonce = Crypto.randomBytes(nonceSize)
        guard let ctx = EVP_CIPHER_CTX_new() else { throw CryptoError(.cipherFailed, "EVP_CIPHER_CTX_new") }
        defer { EVP_CIPHER_CTX_free(ctx) }
        try CryptoError.check(EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), nil, key, nonce), .cipherFailed, "encrypt init")
        var length: Int32 = 0
        if !associatedData.isEmpty {
            try CryptoError.check(EVP_EncryptUpdate(ctx, nil, &length, associatedData, Int32(associatedData.count)),
                                  .cipherFailed, "associated data")
        }
        var out = [UInt8](repeating: 0, count: plaintext.count + 16)
        var written: Int32 = 0
        if !plaintext.isEmpty {
            try CryptoError.check(EVP_EncryptUpdate(ctx, &out, &written, plaintext, Int32(plaintext.count)),
                                  .cipherFailed, "encrypt")
        }
        var final: Int32 = 0
        try out.withUnsafeMutableBufferPointer { buffer in
            try CryptoError.check(EVP_EncryptFinal_ex(ctx, buffer.baseAddress! + Int(written), &final), .cipherFailed, "encrypt final")
        }
        var tag = [UInt8](repeating: 0, count: tagSize)
        try CryptoError.check(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, Int32(tagSize), &tag), .cipherFailed, "tag")
        return Sealed(nonce: nonce, ciphertext: Array(out.prefix(Int(written + final))), tag: tag)
    }

    /// Decrypts and authenticates; throws `authenticationFailed` for a wrong key, a tampered
    /// value or different associated data.
    public static func open(_ sealed: Sealed, key: [UInt8], associatedData: [UInt8] = []) throws -> [UInt8] {
        guard key.count == keySize, sealed.nonce.count == nonceSize, sealed.tag.count == tagSize else {
            throw CryptoError(.invalidInput, "malformed AES-256-GCM input")
        }
        guard let ctx = EVP_CIPHER_CTX_new() else { throw CryptoError(.cipherFailed, "EVP_CIPHER_CTX_new") }
        defer { EVP_CIPHER_CTX_free(ctx) }
        try CryptoError.check(EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), nil, key, sealed.nonce), .cipherFailed, "decrypt init")
        var length: Int32 = 0
        if !associatedData.isEmpty {
            try CryptoError.check(EVP_DecryptUpdate(ctx, nil, &length, associatedData, Int32(associatedData.count)),
                                  .cipherFailed, "associated data")
        }
        var out = [UInt8](repeating: 0, count: sealed.ciphertext.count + 16)
        var written: Int32 = 0
        if !sealed.ciphertext.isEmpty {
            try CryptoError.check(EVP_DecryptUpdate(ctx, &out, &written, sealed.ciphertext, Int32(sealed.ciphertext.count)),
                                  .cipherFailed, "decrypt")
        }
        var tag = sealed.tag
        try CryptoError.check(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, Int32(tagSize), &tag), .cipherFailed, "tag")
        var final: Int32 = 0
        let ok = out.withUnsafeMutableBufferPointer { buffer in
            EVP_DecryptFinal_ex(ctx, buffer.baseAddress! + Int(written), &final)
        }
        guard ok == 1 else {
            ERR_clear_error()
            throw CryptoError(.authenticationFailed, "the value does not authenticate under this key")
        }
        return Array(out.prefix(Int(written + final)))
    }
}
