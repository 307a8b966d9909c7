import FlukeModels
import FlukeNATS
import Foundation
import Logging

/// Reads domain events back from the `FLUKE_EVENTS` stream, through a durable pull consumer of
/// its own: what a real downstream consumer would see, duplicates included.
public final class EventCollector: Sendable {
    let client: NATSClient
    let consumer: JetStreamPullConsumer

    public init(natsURL: String, filter: String = "fluke.events.>") async throws {
        client = try await NATSClient.connect(.admin(url: natsURL, name: "test-collector"),
                                              logger: TestEnvironment.logger)
        try await client.ensureStream(FlukeTestStream.config)
        consumer = client.pullConsumer(stream: EventType.streamName,
                                       durable: "test_" + UUID().uuidString.prefix(8).lowercased(),
                                       filterSubject: filter)
    }

    /// Everything that arrives within `window` (or until `count` events, if given).
    public func collect(count: Int? = nil, window: Duration = .seconds(3)) async throws -> [CloudEvent] {
        var events: [CloudEvent] = []
        let deadline = ContinuousClock.now + window
        let decoder = CloudEvent.decoder()
        while ContinuousClock.now < deadline {
            if let count, events.count >= count { break }
            let messages = try await consumer.fetch(batch: 256, timeout: .milliseconds(200))
            for m in messages {
                events.append(try decoder.decode(CloudEvent.self, from: m.message.payload))
                try await m.ack()
            }
        }
        return events
    }

    /// The payloads (as text) of whatever arrives within `window`, CloudEvents or not.
    public func collectRaw(window: Duration) async throws -> [String] {
        var payloads: [String] = []
        let deadline = ContinuousClock.now + window
        while ContinuousClock.now < deadline {
            for m in try await consumer.fetch(batch: 256, timeout: .milliseconds(100)) {
                payloads.append(String(decoding: m.message.payload, as: UTF8.self))
                try await m.ack()
            }
        }
        return payloads
    }

    public func close() async { await client.shutdown() }
}

enum FlukeTestStream {
    static let config = JetStreamStreamConfig(name: EventType.streamName, subjects: [EventType.subjectPrefix + ">"],
                                              maxAge: .seconds(7 * 86_400))
}
