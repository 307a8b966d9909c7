import FlukeCrypto
import Foundation
import Testing
import FlukeTestSupport

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

    @Test("base62 secrets have a fixed length")
    func encodings() throws {
        for _ in 0..<50 { #expect(Base62.encode(Crypto.randomBytes(32)).count == 43) }
        #expect(Base62.encode([UInt8](repeating: 0, count: 32)) == String(repeating: "0", count: 43))
    }

    static func hexBytes(_ hex: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var i = hex.startIndex
        while i < hex.endIndex {
            let next = hex.index(i, offsetBy: 2)
            bytes.append(UInt8(hex[i..<next], radix: 16)!)
            i = next
        }
        return bytes
    }

    @Test("Ed25519 matches RFC 8032 §7.1 test vectors 1 and 2; a changed message or signature fails")
    func ed25519Vectors() throws {
        let vectors = [
            ("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
             "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
             "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"),
            ("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
             "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
             "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"),
        ]
        for (seed, publicKey, message, signature) in vectors {
            let key = try Ed25519PrivateKey(seed: Self.hexBytes(seed))
            #expect(key.publicKey.rawRepresentation == Self.hexBytes(publicKey))
            let made = try key.signature(for: Self.hexBytes(message))
            #expect(made == Self.hexBytes(signature))
            #expect(key.publicKey.isValidSignature(made, for: Self.hexBytes(message)))
            #expect(!key.publicKey.isValidSignature(made, for: Self.hexBytes(message) + [0]))
            var bent = made
            bent[10] ^= 1
            #expect(!key.publicKey.isValidSignature(bent, for: Self.hexBytes(message)))
        }
        #expect(throws: CryptoError.self) { try Ed25519PrivateKey(seed: [UInt8](repeating: 1, count: 31)) }
    }

    @Test("EdDSA JWTs verify only with their kid's key; HS256, none and unknown kids are refused")
    func jwt() throws {
        struct Claims: Codable, Equatable { var sub: String }
        let signer = try JWTSigner(keyID: "k1", key: try Ed25519PrivateKey.generate())
        let token = try signer.sign(Claims(sub: "a"))
        let verifier = JWTVerifier(keys: ["k1": signer.publicKey])
        #expect(try verifier.verify(token, as: Claims.self) == Claims(sub: "a"))
        #expect(try JWTVerifier.keyID(of: token) == "k1")
        let other = try JWTSigner(keyID: "k1", key: try Ed25519PrivateKey.generate())
        #expect(throws: JWTError.badSignature) { try verifier.verify(try other.sign(Claims(sub: "a")), as: Claims.self) }
        let stranger = try JWTSigner(keyID: "k2", key: try Ed25519PrivateKey.generate())
        #expect(throws: JWTError.unknownKey) { try verifier.verify(try stranger.sign(Claims(sub: "a")), as: Claims.self) }
        let parts = token.split(separator: ".")
        let hs256 = Base64URL.encode(Data(#"{"alg":"HS256","kid":"k1","typ":"JWT"}"#.utf8)) + "." + parts[1] + "." + parts[2]
        #expect(throws: JWTError.unsupportedHeader) { try verifier.verify(hs256, as: Claims.self) }
        let none = Base64URL.encode(Data(#"{"alg":"none","kid":"k1"}"#.utf8)) + "." + parts[1] + "."
        #expect(throws: JWTError.unsupportedHeader) { try verifier.verify(none, as: Claims.self) }
        #expect(throws: CryptoError.self) { try JWTSigner(keyID: "bad kid\"", key: try Ed25519PrivateKey.generate()) }

        // The key set round-trips, ignoring keys it cannot use.
        var set = JWKSet(keys: ["k1": signer.publicKey, "k2": stranger.publicKey])
        set.keys.append(.init(kid: "rsa", publicKey: signer.publicKey))
        set.keys[2].kty = "RSA"
        let decoded = try JSONDecoder().decode(JWKSet.self, from: try JSONEncoder().encode(set))
        #expect(decoded.ed25519Keys == ["k1": signer.publicKey, "k2": stranger.publicKey])
    }
}

/// RS256 (GitHub App JWTs) against PyJWT and the `cryptography` package, independent implementations.
@Suite("FlukeCrypto RS256 against PyJWT")
struct RS256Tests {
    static var python: String {
        ProcessInfo.processInfo.environment["FLUKE_TEST_PYTHON"] ?? TestEnvironment.repositoryRoot.appendingPathComponent(".venv/bin/python").path
    }

    @Test("a PKCS#1 key as GitHub hands it out signs JWTs PyJWT accepts; PyJWT's tokens verify here; tampering and short keys are refused")
    func interoperates() async throws {
        // A 2048-bit key in GitHub's format (BEGIN RSA PRIVATE KEY), and a token PyJWT signs with it.
        let made = try await CommandRun.run(Self.python, ["-c", """
            import json, jwt
            from cryptography.hazmat.primitives.asymmetric import rsa
            from cryptography.hazmat.primitives import serialization
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                    serialization.NoEncryption()).decode()
            pub = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
            print(json.dumps({"pem": pem, "pub": pub, "token": jwt.encode({"iss": "1234", "iat": 1, "exp": 4102444800}, pem, algorithm="RS256")}))
            """], environment: [:])
        try #require(made.status == 0, "\(made.stderr)")
        let keys = try #require(try made.json() as? [String: String])
        let pem = try #require(keys["pem"])
        #expect(pem.hasPrefix("-----BEGIN RSA PRIVATE KEY-----"))
        let key = try RSAPrivateKey(pem: pem)
        let publicKey = try RSAPublicKey(pem: try #require(keys["pub"]))
        #expect(try key.publicKeyPEM() == keys["pub"], "the same public half")

        struct Claims: Encodable { var iat: Int; var exp: Int; var iss: String }
        let token = try RS256JWT.sign(Claims(iat: 1_700_000_000, exp: 4_102_444_800, iss: "1234"), key: key)
        let checked = try await CommandRun.run(Self.python, ["-c", """
            import json, sys, jwt
            print(json.dumps(jwt.decode(sys.argv[1], sys.argv[2], algorithms=["RS256"])))
            """, token, keys["pub"]!], environment: [:])
        #expect(checked.status == 0, "\(checked.stderr)")
        #expect((try? checked.json() as? [String: Any])?["iss"] as? String == "1234")

        #expect(RS256JWT.verify(try #require(keys["token"]), key: publicKey)?["iss"] as? String == "1234", "PyJWT's token verifies here")
        let tampered = token.dropLast(4) + (token.hasSuffix("AAAA") ? "BBBB" : "AAAA")
        #expect(RS256JWT.verify(String(tampered), key: publicKey) == nil)
        #expect(RS256JWT.verify(token, key: try RSAPublicKey(pem: try RSAPrivateKey.generate().publicKeyPEM())) == nil, "another key")

        // Refused at once: not PEM, a 1024-bit key, an Ed25519 key.
        #expect(throws: CryptoError.self) { try RSAPrivateKey(pem: "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n") }
        let weak = try await CommandRun.run(Self.python, ["-c", """
            from cryptography.hazmat.primitives.asymmetric import rsa, ed25519
            from cryptography.hazmat.primitives import serialization as s
            print(rsa.generate_private_key(public_exponent=65537, key_size=1024).private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8, s.NoEncryption()).decode())
            print(ed25519.Ed25519PrivateKey.generate().private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8, s.NoEncryption()).decode())
            """], environment: [:])
        let parts = weak.stdout.components(separatedBy: "-----END PRIVATE KEY-----")
        #expect(throws: CryptoError.self) { try RSAPrivateKey(pem: parts[0] + "-----END PRIVATE KEY-----\n") }
        #expect(throws: CryptoError.self) { try RSAPrivateKey(pem: parts[1] + "-----END PRIVATE KEY-----\n") }
    }
}
