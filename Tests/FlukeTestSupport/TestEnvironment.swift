import FlukeNATS
import FlukePostgres
import Foundation
import Logging

/// What `make test` provides: a Postgres cluster and a nats-server on free ports, and where the
/// built executables are. Suites that need it carry ``Testing/Trait/needsPostgresAndNATS`` and
/// are skipped, with a message, without it.
public enum TestEnvironment {
    static let env = ProcessInfo.processInfo.environment

    /// The variables `make test` (deploy/local/test.sh) always exports.
    static let required = ["FLUKE_TEST_ADMIN_DATABASE_URL", "FLUKE_TEST_NATS_URL", "FLUKE_TEST_PG_BIN", "FLUKE_BIN_DIR"]

    /// Whether the tests run under `make test`, with Postgres and NATS to use.
    public static var isAvailable: Bool { required.allSatisfy { env[$0].map { !$0.isEmpty } ?? false } }

    static func require(_ name: String) -> String {
        guard let v = env[name], !v.isEmpty else {
            // Reached only by a suite that needs the environment but lacks the trait that skips it.
            fatalError("\(name) is not set: run the tests with `make test`, which starts Postgres and NATS "
                       + "(and mark the suite `.needsPostgresAndNATS`)")
        }
        return v
    }

    /// Superuser URL of the `fluke` database.
    public static var adminDatabaseURL: String { require("FLUKE_TEST_ADMIN_DATABASE_URL") }
    public static var natsURL: String { require("FLUKE_TEST_NATS_URL") }
    public static var postgresBin: String { require("FLUKE_TEST_PG_BIN") }
    public static var binDir: String { require("FLUKE_BIN_DIR") }
    public static var workDir: String { env["FLUKE_TEST_WORKDIR"] ?? NSTemporaryDirectory() }

    /// The repository root (for deploy/ files).
    public static let repositoryRoot: URL = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url
    }()

    public static var logger: Logger {
        var logger = Logger(label: "test")
        logger.logLevel = env["TEST_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .warning
        return logger
    }

    /// Host and port of a postgres:// URL.
    static func hostPort(_ url: String) -> (host: String, port: Int) {
        let c = URLComponents(string: url)!
        return (c.host ?? "127.0.0.1", c.port ?? 5432)
    }
}

/// A free TCP port on 127.0.0.1 (bound, read, released).
public func freePort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = 0
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
    _ = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
    }
    return Int(UInt16(bigEndian: addr.sin_port))
}

/// Polls `condition` every 50 ms until it holds or `timeout` passes.
public func eventually(timeout: Duration = .seconds(10), _ what: String = "condition",
                       _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if (try? await condition()) == true { return }
        try await Task.sleep(for: .milliseconds(50))
    }
    if try await condition() { return }
    throw TestFailure("timed out after \(timeout) waiting for \(what)")
}

public struct TestFailure: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// The NATS users of `deploy/nats/auth.conf`, whose passwords `make test` generates and exports
/// (`FLUKE_NATS_<KEY>_PASSWORD`): services in tests connect as themselves, so every test also
/// checks that their permissions suffice.
extension TestEnvironment {
    static let natsPasswordKeys = [
        "project-manager": "PM", "context-api": "CONTEXT", "webhook-dispatcher": "WEBHOOKS",
        "federation": "FEDERATION", "deploy-tracker": "DEPLOY", "log-streamer": "LOGS",
        "heartbeat": "HEARTBEAT", "admin": "ADMIN",
    ]

    /// `user`'s password.
    public static func natsPassword(_ user: String) -> String {
        require("FLUKE_NATS_\(natsPasswordKeys[user]!)_PASSWORD")
    }

    /// `NATS_USER` and `NATS_PASSWORD` for a service's environment.
    public static func natsUser(_ user: String) -> [String: String] {
        ["NATS_USER": user, "NATS_PASSWORD": natsPassword(user)]
    }

    public static func natsCredentials(_ user: String) -> NATSCredentials {
        .password(user: user, password: natsPassword(user))
    }
}

extension NATSClient.Configuration {
    /// A test's own connection: the admin user, allowed everything.
    public static func admin(url: String, name: String, sendAsap: Bool = false) -> Self {
        .init(url: url, name: name, credentials: TestEnvironment.natsCredentials("admin"), sendAsap: sendAsap)
    }
}
