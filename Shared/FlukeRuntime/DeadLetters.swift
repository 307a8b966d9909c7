import FlukeNATS
import FlukePostgres
import Foundation
import Logging
import Prometheus

/// What a JetStream consumer does with a message it could not handle: try again a little later,
/// and after `maxDeliveries` attempts record it in `<schema>.dead_letters` with the reason and
/// terminate it, so that one poison message never blocks the consumer.
///
/// The table (`id`, `consumer`, `subject`, `stream_sequence`, `payload_base64`, `reason`,
/// `failed_at`) is part of the service's migrations; ``RetentionJob`` trims it.
public struct DeadLetters: Sendable {
    public let schema: String
    public let consumer: String
    public let maxDeliveries: Int
    let postgres: PostgresClient
    let buried: Counter
    let logger: Logger

    public init(schema: String, consumer: String, maxDeliveries: Int, postgres: PostgresClient,
                registry: PrometheusCollectorRegistry, logger: Logger) {
        self.schema = schema
        self.consumer = consumer
        self.maxDeliveries = maxDeliveries
        self.postgres = postgres
        self.logger = logger
        buried = registry.makeCounter(name: "jetstream_dead_letters_total", labels: [("consumer", consumer)])
    }

    /// Handling `message` failed: redeliver it after `delay`, or bury it once it has had its
    /// `maxDeliveries` attempts.
    public func failed(_ message: JetStreamMessage, reason: String, delay: Duration = .seconds(1)) async {
        if message.deliveryCount >= maxDeliveries {
            await bury(message, reason: reason)
        } else {
            try? await message.nak(delay: delay)
        }
    }

    /// The table, for a service's migrations.
    public static func tableSQL(schema: String) -> String {
        """
        CREATE TABLE \(schema).dead_letters (
            id bigserial PRIMARY KEY,
            consumer text NOT NULL,
            subject text NOT NULL,
            stream_sequence bigint NOT NULL,
            payload_base64 text NOT NULL,
            reason text NOT NULL,
            failed_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX dead_letters_failed_at ON \(schema).dead_letters (failed_at);
        """
    }

    /// Records `message` as a dead letter and terminates it. Should the record fail (Postgres
    /// down), the message is redelivered instead: nothing is dropped unrecorded.
    public func bury(_ message: JetStreamMessage, reason: String) async {
        // NUL cannot be stored in text; the payload keeps every byte as base64.
        let reason = String(reason.unicodeScalars.filter { $0 != "\0" }.prefix(2000))
        do {
            try await postgres.query("""
                INSERT INTO \(identifier: schema).dead_letters (consumer, subject, stream_sequence, payload_base64, reason)
                VALUES (\(consumer), \(String(message.message.subject.prefix(512))), \(Int64(message.streamSequence)),
                        \(message.message.payload.base64EncodedString()), \(reason))
                """)
        } catch {
            logger.warning("could not record a dead letter; it will be redelivered",
                           metadata: ["consumer": "\(consumer)", "error": "\(error)"])
            try? await message.nak(delay: .seconds(5))
            return
        }
        buried.increment()
        logger.error("dead letter: an event failed every attempt and was set aside", metadata: [
            "consumer": "\(consumer)", "subject": "\(message.message.subject)",
            "stream_sequence": "\(message.streamSequence)", "attempts": "\(message.deliveryCount)", "reason": "\(reason)"])
        try? await message.term()
    }
}
