import COpenSSL
import Foundation

/// scrypt (RFC 7914) through OpenSSL's `EVP_PBE_scrypt`.
public enum Scrypt {
    public static func derive(password: [UInt8], salt: [UInt8], logN: Int, r: Int, p: Int, length: Int) throws -> [UInt8] {
        guard (1...22).contains(logN), (1...32).contains(r), (1...16).contains(p) else {
            throw CryptoError(.invalidInput, "scrypt parameters out of range")
        }
        var out = [UInt8](repeating: 0, count: length)
        // scrypt needs 128·N·r·p bytes; allow that plus headroom, as OpenSSL refuses anything above maxmem.
        let memory = UInt64(128) * (UInt64(1) << UInt64(logN)) * UInt64(r) * UInt64(p)
        let passwordChars = password.map { CChar(bitPattern: $0) }
        let status = passwordChars.withUnsafeBufferPointer { pw in
            salt.withUnsafeBufferPointer { s in
                EVP_PBE_scrypt(pw.baseAddress, pw.count, s.baseAddress, s.count,
                               UInt64(1) << UInt64(logN), UInt64(r), UInt64(p), memory * 2 + (1 << 20),
                               &out, length)
            }
        }
        try CryptoError.check(status, .kdfFailed, "scrypt")
        return out
    }
}

/// Password hashes in the PHC string format: `$scrypt$ln=15,r=8,p=1$<salt>$<hash>` (base64, no padding).
///
/// The parameters travel with each hash, so raising the cost later only affects new hashes (and
/// ``needsRehash(_:)`` tells a login to upgrade an old one).
public struct PasswordHasher: Sendable {
    public var logN: Int
    public var r: Int
    public var p: Int

    /// N = 2^15, r = 8, p = 1: 32 MiB and roughly 0.1 s per hash on one core (OWASP's scrypt minimum is 2^17 with r=8,p=1 at 128 MiB; see the closing note for the measured cost).
    public init(logN: Int = 15, r: Int = 8, p: Int = 1) {
        self.logN = logN
        self.r = r
        self.p = p
    }

    public func hash(_ password: String) throws -> String {
        let salt = Crypto.randomBytes(16)
        let key = try Scrypt.derive(password: Array(password.utf8), salt: salt, logN: logN, r: r, p: p, length: 32)
        return "$scrypt$ln=\(logN),r=\(r),p=\(p)$\(Self.b64(salt))$\(Self.b64(key))"
    }

    /// Checks `password` against a stored hash in constant time; `false` for any malformed hash.
    public func verify(_ password: String, against stored: String) -> Bool {
        guard let parsed = Self.parse(stored),
              let key = try? Scrypt.derive(password: Array(password.utf8), salt: parsed.salt, logN: parsed.logN,
                                           r: parsed.r, p: parsed.p, length: parsed.hash.count) else { return false }
        return Crypto.constantTimeEquals(key, parsed.hash)
    }

    /// Whether `stored` was made with other parameters than these.
    public func needsRehash(_ stored: String) -> Bool {
        guard let parsed = Self.parse(stored) else { return true }
        return parsed.logN != logN || parsed.r != r || parsed.p != p
    }

    static func b64(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "=", with: "")
    }

    static func parse(_ stored: String) -> (logN: Int, r: Int, p: Int, salt: [UInt8], hash: [UInt8])? {
        let parts = stored.split(separator: "$", omittingEmptySubsequences: false)
        guard parts.count == 5, parts[0].isEmpty, parts[1] == "scrypt" else { return nil }
        var params: [Substring: Int] = [:]
        for item in parts[2].split(separator: ",") {
            let kv = item.split(separator: "=")
            guard kv.count == 2, let v = Int(kv[1]) else { return nil }
            params[kv[0]] = v
        }
        func unb64(_ s: Substring) -> [UInt8]? {
            var t = String(s)
            t += String(repeating: "=", count: (4 - t.count % 4) % 4)
            return Data(base64Encoded: t).map { Array($0) }
        }
        guard let ln = params["ln"], let r = params["r"], let p = params["p"],
              let salt = unb64(parts[3]), let hash = unb64(parts[4]), !hash.isEmpty else { return nil }
        return (ln, r, p, salt, hash)
    }
}
