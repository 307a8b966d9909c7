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

    public static let variables: [ConfigVariable] = FleetConfig.variables(defaultPort: 8080) + AuthConfig.variables
        + ContextRetention.variables + [
        Keyring.variable,
        ConfigVariable("CONTEXT_MAX_MEMORY_BYTES", default: "16384", "largest memory content accepted, in UTF-8 bytes"),
        ConfigVariable("CONTEXT_PROVIDER_AUDIT_INTERVAL", default: "86400", "seconds between audits of the AI providers' documentation URLs"),
    ]

    public init(reader: ConfigReader) throws {
        common = try FleetConfig(serviceName: "context-api", reader: reader)
        auth = try AuthConfig(reader: reader)
        keyring = try Keyring(reader: reader)
        retention = try ContextRetention(reader: reader)
        maxMemoryBytes = try reader.int("CONTEXT_MAX_MEMORY_BYTES", in: 256...1_048_576)
        providerAuditInterval = try reader.seconds("CONTEXT_PROVIDER_AUDIT_INTERVAL", minimum: 1)
    }
}
