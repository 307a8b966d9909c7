import FlukeCrypto
import Foundation

/// AES-256-GCM keys by id (`FLUKE_ENCRYPTION_KEY`), for whatever a service keeps sealed at rest
/// (env values, webhook secrets). New values are sealed with the first (active) key; every key opens
/// the values sealed with it, so rotating means prepending a key and re-encrypting at leisure.
public struct Keyring: Sendable {
    public let activeID: String
    let keys: [String: [UInt8]]

    /// The variable every service that seals data reads its keys from.
    public static let variable = ConfigVariable(
        "FLUKE_ENCRYPTION_KEY", default: nil,
        "keys that encrypt data at rest: <key id>:<base64 of 32 bytes>, comma-separated; the first encrypts, all decrypt (rotation)",
        secret: true)

    public init(reader: ConfigReader) throws {
        try self.init(parsing: try reader.string(Self.variable.name), variable: Self.variable.name)
    }

    public init(parsing text: String, variable: String) throws {
        let entries = try KeyListParser.parse(text, variable: variable, bytes: AESGCM.keySize)
        activeID = entries[0].id
        keys = Dictionary(uniqueKeysWithValues: entries.map { ($0.id, $0.key) })
    }

    public func seal(_ plaintext: String, context: String) throws -> (keyID: String, sealed: String) {
        let sealed = try AESGCM.seal(Array(plaintext.utf8), key: keys[activeID]!, associatedData: Array(context.utf8))
        return (activeID, Data(sealed.combined).base64EncodedString())
    }

    public func open(_ sealed: String, keyID: String, context: String) throws -> String {
        guard let key = keys[keyID] else { throw CryptoError(.invalidInput, "no key with id \(keyID) in FLUKE_ENCRYPTION_KEY") }
        guard let data = Data(base64Encoded: sealed), let value = AESGCM.Sealed(combined: Array(data)) else {
            throw CryptoError(.invalidInput, "malformed sealed value")
        }
        return String(decoding: try AESGCM.open(value, key: key, associatedData: Array(context.utf8)), as: UTF8.self)
    }
}
