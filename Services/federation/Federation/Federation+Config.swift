import FlukeRuntime

/// federation's own settings, on top of the fleet's common ones.
public struct FederationConfig: Sendable {
    public var common: FleetConfig
    public var catalogPath: String
    /// Accepted `X-API-Key` values.
    public var apiKeys: [String]
    /// A project with no heartbeat for this long goes OFFLINE.
    public var heartbeatTTL: Duration
    /// How often the stale checker runs.
    public var checkInterval: Duration
    /// How often received heartbeats are written to Postgres (bounded by TTL / 4).
    public var flushInterval: Duration

    public static let defaultPort = 8001

    public static let variables: [ConfigVariable] = FleetConfig.variables(defaultPort: defaultPort) + [
        ConfigVariable("FEDERATION_CATALOG", default: nil, "path of the YAML project catalog (SIGHUP reloads it)"),
        ConfigVariable("FEDERATION_API_KEYS", default: nil, "comma-separated keys accepted in X-API-Key", secret: true),
        ConfigVariable("FEDERATION_HEARTBEAT_TTL", default: "90", "seconds without a heartbeat before a project is OFFLINE"),
        ConfigVariable("FEDERATION_CHECK_INTERVAL", default: "5", "seconds between stale checks"),
        ConfigVariable("FEDERATION_FLUSH_INTERVAL", default: "1", "seconds between writes of received heartbeats to Postgres"),
    ]

    public init(reader: ConfigReader) throws {
        common = try FleetConfig(serviceName: "federation", reader: reader)
        catalogPath = try reader.string("FEDERATION_CATALOG")
        let keys = try reader.string("FEDERATION_API_KEYS").split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !keys.isEmpty else { throw ConfigError("FEDERATION_API_KEYS", "must list at least one key") }
        guard keys.allSatisfy({ $0.count >= 8 }) else {
            throw ConfigError("FEDERATION_API_KEYS", "keys must be at least 8 characters long")
        }
        apiKeys = keys
        heartbeatTTL = try reader.seconds("FEDERATION_HEARTBEAT_TTL", minimum: 0)
        checkInterval = try reader.seconds("FEDERATION_CHECK_INTERVAL", minimum: 0)
        let flush = try reader.seconds("FEDERATION_FLUSH_INTERVAL", minimum: 0)
        flushInterval = min(flush, heartbeatTTL / 4)
    }
}
