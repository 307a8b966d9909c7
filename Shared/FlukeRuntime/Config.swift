import FlukeNATS
import Foundation
import Logging

/// One environment variable a service reads: documented once, shown by `--help`, validated at startup.
public struct ConfigVariable: Sendable {
    public var name: String
    /// `nil` marks the variable required.
    public var defaultValue: String?
    public var help: String
    /// Secrets are never printed, not even their defaults.
    public var secret: Bool

    public init(_ name: String, default defaultValue: String?, _ help: String, secret: Bool = false) {
        self.name = name
        self.defaultValue = defaultValue
        self.help = help
        self.secret = secret
    }
}

/// A missing or malformed setting. The process prints `description` as its one line and exits.
public struct ConfigError: Error, CustomStringConvertible, Sendable {
    public var variable: String
    public var problem: String
    public init(_ variable: String, _ problem: String) {
        self.variable = variable
        self.problem = problem
    }
    public var description: String { "configuration error: \(variable) \(problem)" }
}

/// Reads typed settings from an environment dictionary, naming the variable in every error.
public struct ConfigReader: Sendable {
    public let environment: [String: String]
    let variables: [String: ConfigVariable]

    public init(environment: [String: String] = ProcessInfo.processInfo.environment, variables: [ConfigVariable]) {
        self.environment = environment
        self.variables = Dictionary(variables.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
    }

    /// The raw value or the declared default; throws when a required variable is unset or empty.
    public func string(_ name: String) throws -> String {
        if let v = environment[name], !v.trimmingCharacters(in: .whitespaces).isEmpty { return v }
        if let d = variables[name]?.defaultValue { return d }
        throw ConfigError(name, "is required but not set")
    }

    public func optionalString(_ name: String) -> String? {
        if let v = environment[name], !v.isEmpty { return v }
        return variables[name]?.defaultValue.flatMap { $0.isEmpty ? nil : $0 }
    }

    public func int(_ name: String, in range: ClosedRange<Int> = Int.min...Int.max) throws -> Int {
        let raw = try string(name)
        guard let v = Int(raw.trimmingCharacters(in: .whitespaces)), range.contains(v) else {
            throw ConfigError(name, "must be an integer in \(range.lowerBound)...\(range.upperBound) (got \"\(raw)\")")
        }
        return v
    }

    /// Seconds, fractions allowed (`0.5`).
    public func seconds(_ name: String, minimum: Double = 0) throws -> Duration {
        let raw = try string(name)
        guard let v = Double(raw.trimmingCharacters(in: .whitespaces)), v.isFinite, v > minimum || (minimum == 0 && v >= 0)
        else {
            throw ConfigError(name, "must be a number of seconds greater than \(minimum) (got \"\(raw)\")")
        }
        return .milliseconds(Int64((v * 1000).rounded()))
    }

    public func bool(_ name: String) throws -> Bool {
        let raw = try string(name).lowercased()
        switch raw {
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off": return false
        default: throw ConfigError(name, "must be true or false (got \"\(raw)\")")
        }
    }

    public func oneOf(_ name: String, _ allowed: [String]) throws -> String {
        let raw = try string(name).lowercased()
        guard allowed.contains(raw) else {
            throw ConfigError(name, "must be one of \(allowed.joined(separator: ", ")) (got \"\(raw)\")")
        }
        return raw
    }

    /// A `postgres://` or `postgresql://` URL.
    public func postgresURL(_ name: String) throws -> String {
        let raw = try string(name)
        guard let url = URLComponents(string: raw), url.scheme == "postgres" || url.scheme == "postgresql",
              url.host != nil || url.queryItems?.contains(where: { $0.name == "host" }) == true else {
            throw ConfigError(name, "must be a postgres:// URL")
        }
        return raw
    }

    /// One or more comma-separated `nats://` URLs.
    public func natsURL(_ name: String) throws -> String {
        let raw = try string(name)
        for part in raw.split(separator: ",") {
            guard let url = URLComponents(string: part.trimmingCharacters(in: .whitespaces)),
                  ["nats", "tls", "ws", "wss"].contains(url.scheme ?? ""), url.host?.isEmpty == false else {
                throw ConfigError(name, "must be nats://host:port (comma-separated for several servers)")
            }
        }
        return raw
    }
}

/// The settings every service shares.
public struct FleetConfig: Sendable {
    public var serviceName: String
    public var databaseURL: String
    public var natsURL: String
    public var httpHost: String
    public var httpPort: Int
    public var logLevel: Logger.Level
    public var logFormat: String
    public var startupAttempts: Int
    public var startupDelay: Duration
    public var databasePoolSize: Int
    /// `FLUKE_EVENTS_MAX_BYTES`: the `FLUKE_EVENTS` stream's size limit.
    public var eventsMaxBytes: Int64
    /// `FLUKE_EVENTS_REPLICAS`: copies of the `FLUKE_EVENTS` stream, one per NATS server (1 on a
    /// single server, 3 on a 3-node cluster). Raising it scales an existing stream up; a lower
    /// value never scales it down (``NATSClient/ensureStream(_:)``).
    public var eventsReplicas: Int
    /// `FLUKE_CONSUMER_MAX_DELIVERIES`: attempts at one JetStream message before it is a dead letter.
    public var consumerMaxDeliveries: Int
    /// `RETENTION_INTERVAL`: time between retention rounds (``RetentionJob``).
    public var retentionInterval: Duration
    /// `DEAD_LETTER_RETENTION`: how long dead letters are kept.
    public var deadLetterRetention: Duration
    public var databaseStatementTimeout: Duration
    public var databaseIdleInTransactionTimeout: Duration
    public var maxBodyBytes: Int
    /// Seconds a connection may go without a request in progress before it is closed.
    public var idleTimeout: Duration
    /// Largest request head (all header fields together, and any one of them).
    public var maxHeaderBytes: Int
    public var shutdownTimeout: Duration
    /// `FLUKE_CORS_ORIGINS`: the browser origins (the dashboard's) allowed to call this service.
    public var corsOrigins: [String]
    /// `NATS_USER`/`NATS_PASSWORD` or `NATS_NKEY_SEED_FILE`; `nil` only when neither is set.
    public var natsCredentials: NATSCredentials?
    public var natsTLS: NATSTLS?

    /// The variables behind ``FleetConfig``, with `port` as the service's default `HTTP_PORT`.
    public static func variables(defaultPort: Int) -> [ConfigVariable] {
        [
            ConfigVariable("DATABASE_URL", default: nil, "Postgres URL (postgres://role:password@host:port/db); the role owns this service's schema", secret: true),
            ConfigVariable("NATS_URL", default: "nats://127.0.0.1:4222", "NATS server URL(s), comma-separated"),
            ConfigVariable("NATS_USER", default: "", "NATS user name (the fleet's nats-server has one per service)"),
            ConfigVariable("NATS_PASSWORD", default: "", "password of NATS_USER", secret: true),
            ConfigVariable("NATS_NKEY_SEED_FILE", default: "",
                           "file with the service's nkey seed (SU…) and public key (U…), instead of NATS_USER/NATS_PASSWORD"),
            ConfigVariable("NATS_TLS_CA", default: "", "CA certificate file: connect to NATS over TLS and verify the server against it"),
            ConfigVariable("HTTP_HOST", default: "127.0.0.1", "address the HTTP server binds"),
            ConfigVariable("HTTP_PORT", default: String(defaultPort), "port the HTTP server listens on"),
            ConfigVariable("LOG_LEVEL", default: "info", "trace, debug, info, notice, warning, error or critical"),
            ConfigVariable("LOG_FORMAT", default: "json", "json (one object per line) or text"),
            ConfigVariable("STARTUP_ATTEMPTS", default: "10", "connection attempts to Postgres and NATS at startup"),
            ConfigVariable("STARTUP_RETRY_DELAY", default: "1", "seconds between startup connection attempts"),
            ConfigVariable("DATABASE_POOL_SIZE", default: "10", "maximum Postgres connections of this process"),
            ConfigVariable("FLUKE_EVENTS_MAX_BYTES", default: "1073741824",
                           "bytes the FLUKE_EVENTS stream may hold (oldest events dropped first beyond it; also 7 days at most)"),
            ConfigVariable("FLUKE_EVENTS_REPLICAS", default: "1",
                           "copies of the FLUKE_EVENTS stream, each on its own NATS server (1 to 5, at most the cluster's servers; 3 on a 3-node cluster); an existing stream with fewer is scaled up at startup, never down"),
            ConfigVariable("FLUKE_CONSUMER_MAX_DELIVERIES", default: "5",
                           "times an event consumer tries one message before recording it as a dead letter and moving on"),
            ConfigVariable("RETENTION_INTERVAL", default: "3600",
                           "seconds between retention rounds (rows past their retention deleted in batches, one replica at a time)"),
            ConfigVariable("DEAD_LETTER_RETENTION", default: "2592000", "seconds dead letters are kept (30 days)"),
            ConfigVariable("DATABASE_STATEMENT_TIMEOUT", default: "30",
                           "seconds a statement may run before Postgres cancels it (the request gets 503)"),
            ConfigVariable("DATABASE_IDLE_IN_TRANSACTION_TIMEOUT", default: "60",
                           "seconds a connection may sit idle inside a transaction before Postgres ends its session"),
            ConfigVariable("HTTP_MAX_BODY_BYTES", default: "1048576", "largest request body accepted (413 beyond)"),
            ConfigVariable("HTTP_IDLE_TIMEOUT", default: "60", "seconds a connection may stay open without a request in progress (sending nothing, or a request head too slowly) before it is closed"),
            ConfigVariable("HTTP_MAX_HEADER_BYTES", default: "16384", "largest request header block, and largest single header, in bytes (431 and the connection closed beyond)"),
            ConfigVariable("SHUTDOWN_TIMEOUT", default: "8", "seconds granted to graceful shutdown before exiting"),
            ConfigVariable("FLUKE_CORS_ORIGINS", default: "",
                           "browser origins allowed to call this service with a bearer token (the dashboard's, e.g. http://127.0.0.1:8000), comma-separated; none when empty"),
        ]
    }

    public init(serviceName: String, reader: ConfigReader) throws {
        self.serviceName = serviceName
        databaseURL = try reader.postgresURL("DATABASE_URL")
        natsURL = try reader.natsURL("NATS_URL")
        natsCredentials = try Self.natsCredentials(reader)
        natsTLS = reader.optionalString("NATS_TLS_CA").map(NATSTLS.init(caFile:))
        if let ca = natsTLS?.caFile, !FileManager.default.isReadableFile(atPath: ca) {
            throw ConfigError("NATS_TLS_CA", "names a file that cannot be read (\(ca))")
        }
        httpHost = try reader.string("HTTP_HOST")
        httpPort = try reader.int("HTTP_PORT", in: 0...65535)
        let level = try reader.oneOf("LOG_LEVEL", Logger.Level.allCases.map(\.rawValue))
        logLevel = Logger.Level(rawValue: level) ?? .info
        logFormat = try reader.oneOf("LOG_FORMAT", ["json", "text"])
        startupAttempts = try reader.int("STARTUP_ATTEMPTS", in: 1...10_000)
        startupDelay = try reader.seconds("STARTUP_RETRY_DELAY")
        databasePoolSize = try reader.int("DATABASE_POOL_SIZE", in: 1...1000)
        eventsMaxBytes = Int64(try reader.int("FLUKE_EVENTS_MAX_BYTES", in: 1_048_576...Int(Int64.max)))
        eventsReplicas = try reader.int("FLUKE_EVENTS_REPLICAS", in: 1...5)
        consumerMaxDeliveries = try reader.int("FLUKE_CONSUMER_MAX_DELIVERIES", in: 1...1000)
        retentionInterval = try reader.seconds("RETENTION_INTERVAL", minimum: 0.01)
        deadLetterRetention = try reader.seconds("DEAD_LETTER_RETENTION", minimum: 1)
        databaseStatementTimeout = try reader.seconds("DATABASE_STATEMENT_TIMEOUT", minimum: 0.001)
        databaseIdleInTransactionTimeout = try reader.seconds("DATABASE_IDLE_IN_TRANSACTION_TIMEOUT", minimum: 0.001)
        maxBodyBytes = try reader.int("HTTP_MAX_BODY_BYTES", in: 1024...(1 << 30))
        idleTimeout = try reader.seconds("HTTP_IDLE_TIMEOUT", minimum: 0.1)
        maxHeaderBytes = try reader.int("HTTP_MAX_HEADER_BYTES", in: 1024...(1 << 20))
        shutdownTimeout = try reader.seconds("SHUTDOWN_TIMEOUT", minimum: 0.1)
        corsOrigins = try CORSPolicy.parse(reader.optionalString("FLUKE_CORS_ORIGINS") ?? "")
    }
}

extension FleetConfig {
    static func natsCredentials(_ reader: ConfigReader) throws -> NATSCredentials? {
        let user = reader.optionalString("NATS_USER"), password = reader.optionalString("NATS_PASSWORD")
        if let seed = reader.optionalString("NATS_NKEY_SEED_FILE") {
            guard user == nil, password == nil else {
                throw ConfigError("NATS_NKEY_SEED_FILE", "cannot be combined with NATS_USER/NATS_PASSWORD")
            }
            guard FileManager.default.isReadableFile(atPath: seed) else {
                throw ConfigError("NATS_NKEY_SEED_FILE", "names a file that cannot be read (\(seed))")
            }
            return .nkeySeedFile(seed)
        }
        switch (user, password) {
        case (nil, nil): return nil
        case (let user?, let password?): return .password(user: user, password: password)
        case (nil, _?): throw ConfigError("NATS_USER", "is required when NATS_PASSWORD is set")
        case (_?, nil): throw ConfigError("NATS_PASSWORD", "is required when NATS_USER is set")
        }
    }

    /// The client configuration for this service's connection: its own credentials and a private
    /// inbox (`_INBOX.<service>`), the only one its NATS user may subscribe to.
    public func natsClientConfiguration(sendAsap: Bool = true) -> NATSClient.Configuration {
        .init(url: natsURL, name: serviceName, credentials: natsCredentials, tls: natsTLS,
              inboxPrefix: "_INBOX." + serviceName, sendAsap: sendAsap)
    }
}

/// `--help` text: every variable, its default and what it does.
public func configHelp(service: String, summary: String, variables: [ConfigVariable]) -> String {
    var lines = ["\(service): \(summary)", "", "usage: \(service) [--help]", "",
                 "Configured through environment variables:"]
    let width = variables.map(\.name.count).max() ?? 0
    for v in variables {
        let name = v.name.padding(toLength: width, withPad: " ", startingAt: 0)
        let def: String
        if let d = v.defaultValue { def = v.secret ? " (default: set)" : " (default: \(d.isEmpty ? "\"\"" : d))" }
        else { def = " (required)" }
        lines.append("  \(name)  \(v.help)\(def)")
    }
    return lines.joined(separator: "\n")
}
