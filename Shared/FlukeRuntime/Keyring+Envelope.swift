import FlukeCrypto
import Foundation

/// A value sealed with a data key of its own (AES-256-GCM), the data key wrapped by one of the
/// keyring's keys, the key-encryption key (KEK). Rotating the KEK re-wraps the 32-byte data keys
/// (``Keyring/rewrap(_:context:)``); the values themselves are never decrypted for it.
public struct SealedEnvelope: Sendable, Equatable {
    /// The id of the KEK in `FLUKE_ENCRYPTION_KEY` that wraps the data key.
    public var kekID: String
    /// The data key sealed with the KEK (base64 of nonce, ciphertext and tag).
    public var wrappedKey: String
    /// The value sealed with the data key (base64 of nonce, ciphertext and tag).
    public var sealed: String

    public init(kekID: String, wrappedKey: String, sealed: String) {
        self.kekID = kekID
        self.wrappedKey = wrappedKey
        self.sealed = sealed
    }
}

extension Keyring {
    /// Seals `plaintext` under a fresh data key wrapped by the active KEK. `context` (e.g. the
    /// tenant and the credential's id) is authenticated with both, so that an envelope copied to
    /// another row, or a data key moved to another envelope, does not open.
    public func sealEnvelope(_ plaintext: String, context: String) throws -> SealedEnvelope {
        var dataKey = Crypto.randomBytes(AESGCM.keySize)
        defer { for i in dataKey.indices { dataKey[i] = 0 } }
        let aad = Array(context.utf8)
        let sealed = try AESGCM.seal(Array(plaintext.utf8), key: dataKey, associatedData: aad)
        let wrapped = try AESGCM.seal(dataKey, key: keys[activeID]!, associatedData: Self.wrapContext(aad))
        return SealedEnvelope(kekID: activeID, wrappedKey: Data(wrapped.combined).base64EncodedString(),
                              sealed: Data(sealed.combined).base64EncodedString())
    }

    /// The plaintext of `envelope`, sealed with `context`.
    public func openEnvelope(_ envelope: SealedEnvelope, context: String) throws -> String {
        var dataKey = try unwrap(envelope, context: context)
        defer { for i in dataKey.indices { dataKey[i] = 0 } }
        let value = try Self.sealedValue(envelope.sealed)
        return String(decoding: try AESGCM.open(value, key: dataKey, associatedData: Array(context.utf8)), as: UTF8.self)
    }

    /// `envelope` with its data key wrapped by the active KEK; the sealed value is unchanged.
    /// Already under the active KEK: returned as it is.
    public func rewrap(_ envelope: SealedEnvelope, context: String) throws -> SealedEnvelope {
        guard envelope.kekID != activeID else { return envelope }
        var dataKey = try unwrap(envelope, context: context)
        defer { for i in dataKey.indices { dataKey[i] = 0 } }
        let wrapped = try AESGCM.seal(dataKey, key: keys[activeID]!, associatedData: Self.wrapContext(Array(context.utf8)))
        return SealedEnvelope(kekID: activeID, wrappedKey: Data(wrapped.combined).base64EncodedString(), sealed: envelope.sealed)
    }

    private func unwrap(_ envelope: SealedEnvelope, context: String) throws -> [UInt8] {
        guard let kek = keys[envelope.kekID] else {
            throw CryptoError(.invalidInput, "no key with id \(envelope.kekID) in FLUKE_ENCRYPTION_KEY")
        }
        let dataKey = try AESGCM.open(try Self.sealedValue(envelope.wrappedKey), key: kek,
                                      associatedData: Self.wrapContext(Array(context.utf8)))
        guard dataKey.count == AESGCM.keySize else { throw CryptoError(.invalidInput, "a wrapped data key is not 32 bytes") }
        return dataKey
    }

    /// The data key's associated data: the value's, marked so that a wrapped key and a sealed
    /// value can never stand in for each other.
    private static func wrapContext(_ aad: [UInt8]) -> [UInt8] { Array("fluke-dek:".utf8) + aad }

    private static func sealedValue(_ base64: String) throws -> AESGCM.Sealed {
        guard let data = Data(base64Encoded: base64), let value = AESGCM.Sealed(combined: Array(data)) else {
            throw CryptoError(.invalidInput, "malformed sealed value")
        }
        return value
    }
}
