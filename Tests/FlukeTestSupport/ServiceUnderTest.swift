import FlukePostgres
import FlukeRuntime
import Hummingbird
import Logging
import Foundation

/// One service as ``ServiceHarness`` starts it: who it is to NATS and Postgres, its schema, the
/// settings tests run it with, and how its application is built.
///
/// Each service test target describes the services it starts in a few lines; everything else
/// (database, nats-server, keys, running the app) is the harness's.
public struct ServiceUnderTest<Config, Parts: Sendable>: Sendable {
    public typealias Build = @Sendable (Config, Logger, _ onParts: @Sendable (Parts) -> Void) async throws
        -> any ApplicationProtocol

    /// Its user in deploy/nats/auth.conf, which is also the service's name.
    public var natsUser: String
    /// The Postgres role it connects as (deploy/postgres/init.sql).
    public var databaseRole: String
    public var migrator: PostgresMigrator
    /// Its own settings, on top of what every service in the harness gets.
    public var environment: [String: String]
    public var variables: [ConfigVariable]
    public var makeConfig: @Sendable (ConfigReader) throws -> Config
    public var build: Build

    public init(natsUser: String, databaseRole: String, migrator: PostgresMigrator, environment: [String: String] = [:],
                variables: [ConfigVariable], config makeConfig: @escaping @Sendable (ConfigReader) throws -> Config,
                build: @escaping Build) {
        self.natsUser = natsUser
        self.databaseRole = databaseRole
        self.migrator = migrator
        self.environment = environment
        self.variables = variables
        self.makeConfig = makeConfig
        self.build = build
    }

    /// The same service with `settings` added to (or replacing) its own.
    public func with(_ settings: [String: String]) -> Self {
        var copy = self
        copy.environment.merge(settings) { _, new in new }
        return copy
    }
}

/// Settings a service needs in more than one test target.
public enum ServiceSettings {
    /// project-manager signing with the test fleet's key and open to signups.
    public static let projectManager = [
        "PM_JWT_PRIVATE_KEYS": TestKeys.jwtPrivateKeys,
        "PM_SIGNUP_ENABLED": "true",
        // Cheap hashes keep the suites fast; the bench measures the production cost (2^15).
        "PM_SCRYPT_LOG_N": "10",
    ]

    /// The key every service that stores secrets encrypts them with.
    public static let encryptionKey = "k1:" + Data((0..<32).map { UInt8($0) }).base64EncodedString()
}
