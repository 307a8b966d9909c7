import FlukeCrypto
import Foundation
import Testing

@Suite("FlukeCrypto over libcrypto")
struct CryptoTests {
    @Test("scrypt and HMAC-SHA-256 match their RFC test vectors")
    func vectors() throws {
        // RFC 7914 §12, third vector.
        let key = try Scrypt.derive(password: Array("password".utf8), salt: Array("NaCl".utf8), logN: 10, r: 8, p: 16, length: 64)
        #expect(Crypto.hex(key) == "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b3731622eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640")
        // RFC 4231 §4.3, test case 2.
        #expect(Crypto.hex(Crypto.hmacSHA256(key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8)))
                == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        #expect(Crypto.sha256Hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test("password hashes verify only the right password, and carry their parameters")
    func passwords() throws {
        let hasher = PasswordHasher(logN: 10)
        let stored = try hasher.hash("correct horse")
        #expect(stored.hasPrefix("$scrypt$ln=10,r=8,p=1$"))
        #expect(hasher.verify("correct horse", against: stored))
        #expect(!hasher.verify("correct horsE", against: stored))
        #expect(!hasher.verify("correct horse", against: "$scrypt$garbage"))
        #expect(try hasher.hash("correct horse") != stored)
        #expect(PasswordHasher(logN: 11).needsRehash(stored) && !hasher.needsRehash(stored))
    }

    @Test("AES-256-GCM round-trips and refuses a wrong key, a flipped bit or other associated data")
    func aesGCM() throws {
        let key = Crypto.randomBytes(32)
        let sealed = try AESGCM.seal(Array("s3cret value".utf8), key: key, associatedData: Array("row-1".utf8))
        #expect(String(decoding: try AESGCM.open(sealed, key: key, associatedData: Array("row-1".utf8)), as: UTF8.self) == "s3cret value")
        #expect(AESGCM.Sealed(combined: sealed.combined) == sealed)
        #expect(throws: CryptoError.self) { try AESGCM.open(sealed, key: Crypto.randomBytes(32), associatedData: Array("row-1".utf8)) }
        #expect(throws: CryptoError.self) { try AESGCM.open(sealed, key: key, associatedData: Array("row-2".utf8)) }
        var tampered = sealed
        tampered.ciphertext[0] ^= 1
        #expect(throws: CryptoError.self) { try AESGCM.open(tampered, key: key, associatedData: Array("row-1".utf8)) }
        let empty = try AESGCM.seal([], key: key)
        #expect(try AESGCM.open(empty, key: key).isEmpty)
        #expect(try AESGCM.seal(Array("x".utf8), key: key).nonce != sealed.nonce)
    }

    @Test("base62 secrets have a fixed length; JWTs verify only with their key")
    func encodings() throws {
        for _ in 0..<50 { #expect(Base62.encode(Crypto.randomBytes(32)).count == 43) }
        #expect(Base62.encode([UInt8](repeating: 0, count: 32)) == String(repeating: "0", count: 43))
        struct Claims: Codable, Equatable { var sub: String }
        let signer = try HS256Signer(secret: String(repeating: "k", count: 32))
        let token = try signer.sign(Claims(sub: "a"))
        #expect(try signer.verify(token, as: Claims.self) == Claims(sub: "a"))
        #expect(throws: JWTError.self) { try HS256Signer(secret: String(repeating: "j", count: 32)).verify(token, as: Claims.self) }
        #expect(throws: CryptoError.self) { try HS256Signer(secret: "short") }
    }
}
