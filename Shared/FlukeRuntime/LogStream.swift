import FlukeModels
import FlukeNATS
import Logging

/// The bounds of stream `FLUKE_LOGS` (`fluke.logs.>`), read by every service that makes sure it
/// exists: deploy-tracker (which publishes deployment and app logs there) and log-streamer (which
/// stores them and publishes what reaches it over HTTP).
///
/// Both read the same two variables because `ensureStream` updates an existing stream to the
/// caller's values: two services with different values would undo each other at every start.
public struct LogStreamSettings: Sendable {
    /// The most bytes the stream keeps (`FLUKE_LOGS_MAX_BYTES`); the oldest entries go first.
    public var maxBytes: Int64
    /// How long the stream keeps an entry (`FLUKE_LOGS_MAX_AGE`).
    public var maxAge: Duration

    public static let variables: [ConfigVariable] = [
        ConfigVariable("FLUKE_LOGS_MAX_BYTES", default: "1073741824", "most bytes stream FLUKE_LOGS keeps (1 GiB)"),
        ConfigVariable("FLUKE_LOGS_MAX_AGE", default: "604800", "seconds stream FLUKE_LOGS keeps an entry (7 days)"),
    ]

    public init(reader: ConfigReader) throws {
        maxBytes = Int64(try reader.int("FLUKE_LOGS_MAX_BYTES", in: 1_048_576...Int.max))
        maxAge = try reader.seconds("FLUKE_LOGS_MAX_AGE", minimum: 60)
    }

    /// The stream: `fluke.logs.>`, on disk, bounded in bytes and age, in `replicas` copies
    /// (`FLUKE_EVENTS_REPLICAS`: the same NATS cluster holds both streams).
    public func config(replicas: Int) -> JetStreamStreamConfig {
        JetStreamStreamConfig(name: UnifiedLogEntry.streamName, subjects: [UnifiedLogEntry.subjectPrefix + ">"], maxAge: maxAge,
                              duplicateWindow: .seconds(120), fileStorage: true, maxBytes: maxBytes, replicas: replicas)
    }

    /// Creates or updates the stream, retried like the connections at startup (a NATS cluster
    /// forming alongside the services may not take it at once).
    public func ensure(_ nats: NATSClient, config common: FleetConfig, logger: Logger) async throws {
        try await retrying(common.startupAttempts, delay: common.startupDelay, what: "NATS to take stream FLUKE_LOGS",
                           logger: logger) {
            try await nats.ensureStream(self.config(replicas: common.eventsReplicas))
        }
    }
}
