import FlukeCrypto
import FlukeNATS
import FlukeRuntime
import FlukeTestSupport
import Foundation
import Testing

/// `NATS_NKEY_SEED_FILE`: a user nkey instead of a password, against a nats-server that knows the
/// public key only. The key pair is made here with FlukeCrypto's Ed25519, encoded as the NATS
/// tools write it (base32 of prefix, key and CRC-16), since no `nk` tool is installed.
@Suite("NATS nkey users", .needsPostgresAndNATS)
struct NATSNkeyTests {
    static func crc16(_ bytes: [UInt8]) -> UInt16 {
        var crc: UInt16 = 0
        for byte in bytes {
            crc ^= UInt16(byte) << 8
            for _ in 0..<8 { crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1 }
        }
        return crc
    }

    static func base32(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
        var out = "", buffer = 0, bits = 0
        for byte in bytes {
            buffer = (buffer << 8) | Int(byte)
            bits += 8
            while bits >= 5 {
                out.append(alphabet[(buffer >> (bits - 5)) & 31])
                bits -= 5
            }
        }
        if bits > 0 { out.append(alphabet[(buffer << (5 - bits)) & 31]) }
        return out
    }

    static func encoded(_ raw: [UInt8]) -> String {
        let crc = crc16(raw)
        return base32(raw + [UInt8(crc & 0xFF), UInt8(crc >> 8)])
    }

    /// A user key pair: (seed `SU…`, public key `U…`).
    static func userKeyPair() throws -> (seed: String, publicKey: String) {
        let seed = Crypto.randomBytes(32)
        let key = try Ed25519PrivateKey(seed: seed)
        let user: UInt8 = 20 << 3, seedPrefix: UInt8 = 18 << 3
        return (encoded([seedPrefix | (user >> 5), (user & 31) << 3] + seed),
                encoded([user] + key.publicKey.rawRepresentation))
    }

    @Test("a service connects with NATS_NKEY_SEED_FILE; another key, or a file without its public key, is refused")
    func nkeyUser() async throws {
        let dir = TestEnvironment.workDir + "/nkey-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let (seed, publicKey) = try Self.userKeyPair()
        #expect(seed.hasPrefix("SU") && publicKey.hasPrefix("U") && publicKey.count == 56)
        try "authorization { users = [ { nkey: \"\(publicKey)\" } ] }\n"
            .write(toFile: dir + "/server.conf", atomically: true, encoding: .utf8)
        try "\(seed)\n\(publicKey)\n".write(toFile: dir + "/user.nk", atomically: true, encoding: .utf8)
        let (otherSeed, otherKey) = try Self.userKeyPair()
        try "\(otherSeed)\n\(otherKey)\n".write(toFile: dir + "/other.nk", atomically: true, encoding: .utf8)
        try "\(seed)\n".write(toFile: dir + "/seed-only.nk", atomically: true, encoding: .utf8)

        let port = freePort()
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        server.arguments = ["nats-server", "-c", dir + "/server.conf", "-a", "127.0.0.1", "-p", String(port)]
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer { server.terminate(); server.waitUntilExit() }
        let url = "nats://127.0.0.1:\(port)"

        let reader = ConfigReader(environment: [
            "DATABASE_URL": "postgres://x@127.0.0.1/fluke", "NATS_URL": url, "NATS_NKEY_SEED_FILE": dir + "/user.nk",
        ], variables: FleetConfig.variables(defaultPort: 0))
        let config = try FleetConfig(serviceName: "federation", reader: reader)
        #expect(config.natsCredentials == .nkeySeedFile(dir + "/user.nk"))
        let client = try await NATSClient.connect(config.natsClientConfiguration(), logger: TestEnvironment.logger,
                                                  attempts: 20, delay: .milliseconds(100))
        #expect(client.state == .connected)
        await client.shutdown()

        await #expect(throws: NATSError.self) {
            try await NATSClient.connect(.init(url: url, name: "other", credentials: .nkeySeedFile(dir + "/other.nk")),
                                         logger: TestEnvironment.logger, attempts: 1)
        }
        await #expect(throws: NATSError.self) {
            try await NATSClient.connect(.init(url: url, name: "seed-only", credentials: .nkeySeedFile(dir + "/seed-only.nk")),
                                         logger: TestEnvironment.logger, attempts: 1)
        }
        #expect(throws: ConfigError.self) {
            try FleetConfig(serviceName: "federation", reader: ConfigReader(environment: [
                "DATABASE_URL": "postgres://x@127.0.0.1/fluke", "NATS_NKEY_SEED_FILE": dir + "/user.nk",
                "NATS_USER": "federation", "NATS_PASSWORD": "p123",
            ], variables: FleetConfig.variables(defaultPort: 0)))
        }
    }
}
