import FlukeCrypto
import FlukeRuntime
import Foundation
import Testing

/// Credentials are sealed with a data key of their own, wrapped by the keyring's active key.
@Suite("envelope encryption")
struct EnvelopeTests {
    static func key() -> String { Data(Crypto.randomBytes(32)).base64EncodedString() }

    @Test("an envelope opens with its context only; a rotation re-wraps the data key and leaves the value as it was")
    func envelope() throws {
        let k1 = Self.key(), k2 = Self.key()
        let old = try Keyring(parsing: "k1:\(k1)", variable: "FLUKE_ENCRYPTION_KEY")
        let secret = "ghp_" + String(repeating: "x", count: 36)
        let context = "tenant-a/connection-1"
        let envelope = try old.sealEnvelope(secret, context: context)
        #expect(envelope.kekID == "k1")
        #expect(try old.openEnvelope(envelope, context: context) == secret)
        // Nothing of the secret is readable in what is stored.
        let stored = envelope.wrappedKey + envelope.sealed
        #expect(!stored.contains("ghp_") && !(Data(base64Encoded: envelope.sealed).map { String(decoding: $0, as: UTF8.self) } ?? "").contains("ghp_"))
        // Two seals of the same value share nothing (a fresh data key and nonce each).
        let again = try old.sealEnvelope(secret, context: context)
        #expect(again.sealed != envelope.sealed && again.wrappedKey != envelope.wrappedKey)

        // Another row's context, a data key moved between envelopes, a flipped bit: refused.
        #expect(throws: CryptoError.self) { try old.openEnvelope(envelope, context: "tenant-b/connection-1") }
        let swapped = SealedEnvelope(kekID: "k1", wrappedKey: again.wrappedKey, sealed: envelope.sealed)
        #expect(throws: CryptoError.self) { try old.openEnvelope(swapped, context: context) }
        var bytes = Array(Data(base64Encoded: envelope.sealed)!)
        bytes[bytes.count / 2] ^= 1
        let flipped = SealedEnvelope(kekID: "k1", wrappedKey: envelope.wrappedKey, sealed: Data(bytes).base64EncodedString())
        #expect(throws: CryptoError.self) { try old.openEnvelope(flipped, context: context) }
        // A wrapped data key is not a sealed value: the two cannot stand in for each other.
        let crossed = SealedEnvelope(kekID: "k1", wrappedKey: envelope.sealed, sealed: envelope.wrappedKey)
        #expect(throws: CryptoError.self) { try old.openEnvelope(crossed, context: context) }

        // Rotation: a new active key k2, k1 still listed; the data key is re-wrapped, the value kept.
        let rotated = try Keyring(parsing: "k2:\(k2),k1:\(k1)", variable: "FLUKE_ENCRYPTION_KEY")
        let rewrapped = try rotated.rewrap(envelope, context: context)
        #expect(rewrapped.kekID == "k2" && rewrapped.sealed == envelope.sealed && rewrapped.wrappedKey != envelope.wrappedKey)
        #expect(try rotated.openEnvelope(rewrapped, context: context) == secret)
        #expect(try rotated.rewrap(rewrapped, context: context) == rewrapped, "already under the active key")
        // Once k1 is gone, only re-wrapped envelopes open.
        let retired = try Keyring(parsing: "k2:\(k2)", variable: "FLUKE_ENCRYPTION_KEY")
        #expect(try retired.openEnvelope(rewrapped, context: context) == secret)
        #expect(throws: CryptoError.self) { try retired.openEnvelope(envelope, context: context) }
    }
}
