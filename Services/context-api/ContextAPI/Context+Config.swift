import FlukeCrypto
import FlukeRuntime
import Foundation

/// context-api's settings: the fleet's common ones, bearer auth, and the encryption keyring.
public struct ContextConfig: Sendable {
    public var common: FleetConfig
    public var auth: AuthConfig
    public var keyring: Keyring
    public var retention: ContextRetention
    public var maxMemoryBytes: Int
    public var providerAuditInterval: Duration
    /// Whole-check limit for one documentation URL, redirects included.
    public var providerAuditTimeout: Duration
    public var providerAuditMaxBytes: Int
    /// Which documentation URLs the audit may call: https only unless
    /// `CONTEXT_PROVIDER_AUDIT_ALLOW_HTTP`, public addresses only unless the host is in
    /// `CONTEXT_PROVIDER_AUDIT_ALLOWED_HOSTS`.
    public var providerAuditPolicy: OutboundURLPolicy
    public var limits: ContextLimits
    /// Bytes of assembled context bodies the context cache may hold.
    public var cacheMaxBytes: Int

    public static let variables: [ConfigVariable] = FleetConfig.variables(defaultPort: 8080) + AuthConfig.variables
        + ContextRetention.variables + [
        Keyring.variable,
        ConfigVariable("CONTEXT_MAX_MEMORY_BYTES", default: "16384", "largest memory content accepted, in UTF-8 bytes"),
        ConfigVariable("CONTEXT_PROVIDER_AUDIT_INTERVAL", default: "86400", "seconds between audits of the AI providers' documentation URLs"),
        ConfigVariable("CONTEXT_PROVIDER_AUDIT_TIMEOUT", default: "10", "seconds one documentation URL's check may take in all (redirects and the GET fallback included)"),
        ConfigVariable("CONTEXT_PROVIDER_AUDIT_MAX_BYTES", default: "1048576", "largest answer body the audit reads; a larger one fails the check"),
        ConfigVariable("CONTEXT_PROVIDER_AUDIT_ALLOW_HTTP", default: "false", "true: documentation URLs may use plain http (development only)"),
        ConfigVariable("CONTEXT_PROVIDER_AUDIT_ALLOWED_HOSTS", default: "",
                       "host names or IP literals, comma-separated, the audit may call even if they are or resolve to private addresses"),
        ConfigVariable("CONTEXT_MAX_ENV_VARS_PER_PROJECT", default: "500", "environment variables a project may hold, all environments together (409 beyond)"),
        ConfigVariable("CONTEXT_MAX_MEMORIES_PER_PROJECT", default: "10000", "memories a project may hold, deleted ones not counted (409 beyond)"),
        ConfigVariable("CONTEXT_MAX_INSTALLATIONS_PER_PROJECT", default: "1000", "client installations recorded per project; requests from further ones are answered and counted in the daily usage, but not recorded as installations"),
        ConfigVariable("CONTEXT_CACHE_MAX_BYTES", default: "67108864", "bytes of assembled context bodies kept in the context cache (least recently stored dropped first)"),
    ]

    public init(reader: ConfigReader) throws {
        common = try FleetConfig(serviceName: "context-api", reader: reader)
        auth = try AuthConfig(reader: reader)
        keyring = try Keyring(reader: reader)
        retention = try ContextRetention(reader: reader)
        maxMemoryBytes = try reader.int("CONTEXT_MAX_MEMORY_BYTES", in: 256...1_048_576)
        providerAuditInterval = try reader.seconds("CONTEXT_PROVIDER_AUDIT_INTERVAL", minimum: 1)
        providerAuditTimeout = try reader.seconds("CONTEXT_PROVIDER_AUDIT_TIMEOUT", minimum: 0.1)
        providerAuditMaxBytes = try reader.int("CONTEXT_PROVIDER_AUDIT_MAX_BYTES", in: 1024...104_857_600)
        let hosts = try reader.string("CONTEXT_PROVIDER_AUDIT_ALLOWED_HOSTS").split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        providerAuditPolicy = OutboundURLPolicy(allowHTTP: try reader.bool("CONTEXT_PROVIDER_AUDIT_ALLOW_HTTP"),
                                                allowedHosts: Set(hosts))
        limits = ContextLimits(envVarsPerProject: try reader.int("CONTEXT_MAX_ENV_VARS_PER_PROJECT", in: 1...1_000_000),
                               memoriesPerProject: try reader.int("CONTEXT_MAX_MEMORIES_PER_PROJECT", in: 1...10_000_000),
                               installationsPerProject: try reader.int("CONTEXT_MAX_INSTALLATIONS_PER_PROJECT", in: 1...1_000_000))
        cacheMaxBytes = try reader.int("CONTEXT_CACHE_MAX_BYTES", in: 0...(1 << 40))
    }
}

/// How much of each thing one project may hold.
public struct ContextLimits: Sendable {
    public var envVarsPerProject = 500
    public var memoriesPerProject = 10_000
    public var installationsPerProject = 1000
}
