import COpenSSL

/// A libcrypto call failed. Carries OpenSSL's own reason, never key material.
public struct CryptoError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case randomFailed, digestFailed, kdfFailed, cipherFailed, authenticationFailed, invalidInput
    }
    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }

    /// Wraps a libcrypto status (1 = success), reading OpenSSL's error queue on failure.
    static func check(_ status: Int32, _ code: Code, _ what: String) throws {
        guard status == 1 else {
            let err = ERR_get_error()
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(err, &buffer, buffer.count)
            ERR_clear_error()
            let reason = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw CryptoError(code, "\(what): \(reason)")
        }
    }
}
