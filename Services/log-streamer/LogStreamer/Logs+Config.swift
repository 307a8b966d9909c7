import FlukeRuntime
import Foundation

/// log-streamer's own settings, on top of the fleet's common ones.
public struct LogsConfig: Sendable {
    public var common: FleetConfig
    public var auth: AuthConfig
    /// `FLUKE_LOGS` bounds, shared with deploy-tracker.
    public var stream: LogStreamSettings
    public var retention: LogsRetention
    /// Largest `POST /api/v1/logs` and `POST /v1/logs` body (`LOGS_MAX_BODY_BYTES`), for OTLP also
    /// once inflated; 413 beyond.
    public var maxBodyBytes: Int
    /// Most entries one `POST /api/v1/logs` (422 beyond) or log records one `POST /v1/logs` (400
    /// beyond) may carry (`LOGS_MAX_BATCH_ENTRIES`).
    public var maxBatchEntries: Int
    /// Most messages the intake takes from `FLUKE_LOGS` and stores in one statement (`LOGS_INTAKE_BATCH`).
    public var intakeBatch: Int
    /// The live tail's limits (`LOGS_TAIL_*`, `LOGS_MAX_TAILS_PER_TENANT`, `LOGS_RESUME_*`).
    var tail: TailSettings

    public static let defaultPort = 8767

    public static let variables: [ConfigVariable] = FleetConfig.variables(defaultPort: defaultPort)
        + AuthConfig.variables + LogStreamSettings.variables + LogsRetention.variables + [
            ConfigVariable("LOGS_MAX_BODY_BYTES", default: "16777216", "largest POST /api/v1/logs or /v1/logs body (16 MiB; OTLP's also once inflated)"),
            ConfigVariable("LOGS_MAX_BATCH_ENTRIES", default: "10000", "most entries one POST /api/v1/logs, or log records one POST /v1/logs, may carry"),
            ConfigVariable("LOGS_INTAKE_BATCH", default: "1000",
                           "most entries taken from FLUKE_LOGS and stored in one statement"),
            ConfigVariable("LOGS_MAX_TAILS_PER_TENANT", default: "50",
                           "live tails one tenant may have open on one replica; more are closed with 1008"),
            ConfigVariable("LOGS_TAIL_BUFFER", default: "1000",
                           "entries waiting to be sent to one live tail; beyond, they are dropped and reported"),
            ConfigVariable("LOGS_TAIL_RING", default: "10000",
                           "recent entries each replica keeps for resumes from memory"),
            ConfigVariable("LOGS_RESUME_MAX_ENTRIES", default: "100000", "most stored entries one resume replays"),
            ConfigVariable("LOGS_RESUME_WAIT", default: "30",
                           "seconds a resume waits for storage to catch up before going live without it"),
            ConfigVariable("LOGS_TAIL_PING_INTERVAL", default: "30",
                           "seconds between pings to a live tail; one silent for two intervals is closed"),
        ]

    public init(reader: ConfigReader) throws {
        common = try FleetConfig(serviceName: "log-streamer", reader: reader)
        auth = try AuthConfig(reader: reader)
        stream = try LogStreamSettings(reader: reader)
        retention = try LogsRetention(reader: reader)
        maxBodyBytes = try reader.int("LOGS_MAX_BODY_BYTES", in: 1024...(1 << 30))
        maxBatchEntries = try reader.int("LOGS_MAX_BATCH_ENTRIES", in: 1...100_000)
        intakeBatch = try reader.int("LOGS_INTAKE_BATCH", in: 1...10_000)
        tail = TailSettings(buffer: try reader.int("LOGS_TAIL_BUFFER", in: 10...1_000_000),
                            ring: try reader.int("LOGS_TAIL_RING", in: 1...10_000_000),
                            maxTailsPerTenant: try reader.int("LOGS_MAX_TAILS_PER_TENANT", in: 1...100_000),
                            resumeMaxEntries: try reader.int("LOGS_RESUME_MAX_ENTRIES", in: 1...10_000_000),
                            resumeWait: try reader.seconds("LOGS_RESUME_WAIT"),
                            pingInterval: try reader.seconds("LOGS_TAIL_PING_INTERVAL", minimum: 0.1))
    }
}
