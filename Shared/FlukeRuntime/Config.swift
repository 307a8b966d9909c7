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
    public var maxBodyBytes: Int
    /// Seconds a connection may go without a request in progress before it is closed.
    public var idleTimeout: Duration
    /// Largest request head (all header fields together, and any one of them).
    public var maxHeaderBytes: Int
    public var shutdownTimeout: Duration

    /// The variables behind ``FleetConfig``, with `port` as the service's default `HTTP_PORT`.
    public static func variables(defaultPort: Int) -> [ConfigVariable] {
        [
            ConfigVariable("DATABASE_URL", default: nil, "Postgres URL (postgres://role:password@host:port/db); the role owns this service's schema", secret: true),
            ConfigVariable("NATS_URL", default: "nats://127.0.0.1:4222", "NATS server URL(s), comma-separated"),
            ConfigVariable("HTTP_HOST", default: "127.0.0.1", "address the HTTP server binds"),
            ConfigVariable("HTTP_PORT", default: String(defaultPort), "port the HTTP server listens on"),
            ConfigVariable("LOG_LEVEL", default: "info", "trace, debug, info, notice, warning, error or critical"),
            ConfigVariable("LOG_FORMAT", default: "json", "json (one object per line) or text"),
            ConfigVariable("STARTUP_ATTEMPTS", default: "10", "connection attempts to Postgres and NATS at startup"),
            ConfigVariable("STARTUP_RETRY_DELAY", default: "1", "seconds between startup connection attempts"),
            ConfigVariable("DATABASE_POOL_SIZE", default: "10", "maximum Postgres connections of this process"),
            ConfigVariable("HTTP_MAX_BODY_BYTES", default: "1048576", "largest request body accepted (413 beyond)"),
            ConfigVariable("HTTP_IDLE_TIMEOUT", default: "60", "seconds a connection may stay open without a request in progress (sending nothing, or a request head too slowly) before it is closed"),
            ConfigVariable("HTTP_MAX_HEADER_BYTES", default: "16384", "largest request header block, and largest single header, in bytes (431 and the connection closed beyond)"),
            ConfigVariable("SHUTDOWN_TIMEOUT", default: "8", "seconds granted to graceful shutdown before exiting"),
        ]
    }

    public init(serviceName: String, reader: ConfigReader) throws {
        self.serviceName = serviceName
        databaseURL = try reader.postgresURL("DATABASE_URL")
        natsURL = try reader.natsURL("NATS_URL")
        httpHost = try reader.string("HTTP_HOST")
        httpPort = try reader.int("HTTP_PORT", in: 0...65535)
        let level = try reader.oneOf("LOG_LEVEL", Logger.Level.allCases.map(\.rawValue))
        logLevel = Logger.Level(rawValue: level) ?? .info
        logFormat = try reader.oneOf("LOG_FORMAT", ["json", "text"])
        startupAttempts = try reader.int("STARTUP_ATTEMPTS", in: 1...10_000)
        startupDelay = try reader.seconds("STARTUP_RETRY_DELAY")
        databasePoolSize = try reader.int("DATABASE_POOL_SIZE", in: 1...1000)
        maxBodyBytes = try reader.int("HTTP_MAX_BODY_BYTES", in: 1024...(1 << 30))
        idleTimeout = try reader.seconds("HTTP_IDLE_TIMEOUT", minimum: 0.1)
        maxHeaderBytes = try reader.int("HTTP_MAX_HEADER_BYTES", in: 1024...(1 << 20))
        shutdownTimeout = try reader.seconds("SHUTDOWN_TIMEOUT", minimum: 0.1)
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
