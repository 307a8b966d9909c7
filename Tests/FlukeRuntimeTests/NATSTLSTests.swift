import FlukeNATS
import FlukeRuntime
import FlukeTestSupport
import Foundation
import Testing

/// `NATS_TLS_CA`: the connection is encrypted and the server's certificate verified, against a
/// nats-server that requires TLS (and the fleet's users), with certificates made here by openssl.
@Suite("NATS over TLS", .needsPostgresAndNATS)
struct NATSTLSTests {
    static func run(_ executable: String, _ arguments: [String], in directory: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw TestFailure("\(executable) \(arguments.joined(separator: " ")) exited \(process.terminationStatus)")
        }
    }

    /// A CA, and a server certificate for 127.0.0.1 that it signed.
    static func makeCertificates(in dir: String, caName: String) throws {
        let openssl = "/usr/bin/openssl"
        try run(openssl, ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                          "-keyout", "\(caName)-key.pem", "-out", "\(caName).pem", "-days", "2", "-subj", "/CN=\(caName)"], in: dir)
        try run(openssl, ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                          "-keyout", "server-key.pem", "-out", "server.csr", "-subj", "/CN=127.0.0.1"], in: dir)
        try "subjectAltName=IP:127.0.0.1\n".write(toFile: dir + "/san.ext", atomically: true, encoding: .utf8)
        try run(openssl, ["x509", "-req", "-in", "server.csr", "-CA", "\(caName).pem", "-CAkey", "\(caName)-key.pem",
                          "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "san.ext"], in: dir)
    }

    @Test("with NATS_TLS_CA a service connects over TLS; without it, or with another CA, it cannot")
    func tls() async throws {
        let dir = TestEnvironment.workDir + "/tls-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try Self.makeCertificates(in: dir, caName: "fleet-ca")
        try Self.run("/usr/bin/openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                                          "-keyout", "other-key.pem", "-out", "other-ca.pem", "-days", "2", "-subj", "/CN=other"],
                     in: dir)
        let port = freePort()
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        server.arguments = ["nats-server", "-c", TestEnvironment.repositoryRoot.path + "/deploy/nats/auth.conf", "-a", "127.0.0.1",
                            "-p", String(port), "--tls", "--tlscert", dir + "/server.pem", "--tlskey", dir + "/server-key.pem"]
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer { server.terminate(); server.waitUntilExit() }
        let url = "nats://127.0.0.1:\(port)"
        let credentials = TestEnvironment.natsCredentials("federation")

        // The configuration a service reads.
        let reader = ConfigReader(environment: [
            "DATABASE_URL": "postgres://x@127.0.0.1/fluke", "NATS_URL": url, "NATS_TLS_CA": dir + "/fleet-ca.pem",
        ].merging(TestEnvironment.natsUser("federation")) { _, b in b }, variables: FleetConfig.variables(defaultPort: 0))
        let config = try FleetConfig(serviceName: "federation", reader: reader)
        #expect(config.natsTLS == NATSTLS(caFile: dir + "/fleet-ca.pem"))
        let secure = try await NATSClient.connect(config.natsClientConfiguration(), logger: TestEnvironment.logger,
                                                  attempts: 20, delay: .milliseconds(100))
        #expect(secure.state == .connected)
        await secure.shutdown()

        await #expect(throws: NATSError.self) {
            try await NATSClient.connect(.init(url: url, name: "plain", credentials: credentials),
                                         logger: TestEnvironment.logger, attempts: 1)
        }
        await #expect(throws: NATSError.self) {
            try await NATSClient.connect(.init(url: url, name: "wrong-ca", credentials: credentials,
                                               tls: NATSTLS(caFile: dir + "/other-ca.pem")),
                                         logger: TestEnvironment.logger, attempts: 1)
        }
        #expect(throws: ConfigError.self) {
            try FleetConfig(serviceName: "federation", reader: ConfigReader(environment: [
                "DATABASE_URL": "postgres://x@127.0.0.1/fluke", "NATS_TLS_CA": dir + "/missing.pem",
            ], variables: FleetConfig.variables(defaultPort: 0)))
        }
    }
}
