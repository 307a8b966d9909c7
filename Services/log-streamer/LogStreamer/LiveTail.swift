import FlukeModels
import FlukeNATS
import Foundation
import Logging
import ServiceLifecycle

/// Feeds this replica's ``Broadcaster`` from `FLUKE_LOGS`: an ordered consumer of its own (every
/// replica sees every entry; storage is shared through the durable intake), starting after the
/// stream's last message when the replica starts, and after the last one it saw when it has to
/// start again (a reconnect: libnats 3.4.1 does not promise to restore the consumer).
///
/// Each message is checked with the intake's own rules, so a tail shows exactly what storage keeps.
final class LiveTail: Service, Sendable {
    let nats: NATSClient
    let broadcaster: Broadcaster
    let validator: LogEntryValidator
    let logger: Logger

    init(nats: NATSClient, broadcaster: Broadcaster, validator: LogEntryValidator, logger: Logger) {
        self.nats = nats
        self.broadcaster = broadcaster
        self.validator = validator
        self.logger = logger
    }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await self.follow()
        }
    }

    private func follow() async {
        var started = false
        while !Task.isCancelled {
            do {
                if !started {
                    broadcaster.start(after: Int64(try await nats.streamInfo(UnifiedLogEntry.streamName).lastSequence))
                    started = true
                }
                let generation = nats.generation
                let from = UInt64(broadcaster.highSequence + 1)
                let subscription = try await nats.orderedConsumer(
                    stream: UnifiedLogEntry.streamName, filterSubject: UnifiedLogEntry.subjectPrefix + ">",
                    startSequence: from) { [self] delivery in deliver(delivery) }
                logger.debug("live tail following FLUKE_LOGS", metadata: ["from": "\(from)"])
                while !Task.isCancelled && nats.generation == generation {
                    try? await Task.sleep(for: .milliseconds(250))
                }
                subscription.cancel()
                await subscription.finished()
            } catch {
                logger.warning("live tail cannot follow FLUKE_LOGS; retrying", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    /// On libnats' delivery thread: CPU work only.
    private func deliver(_ delivery: JetStreamDelivery) {
        let sequence = Int64(delivery.streamSequence)
        broadcaster.publish(sequence: sequence, entry: entry(delivery).map { TailEntry(seq: sequence, checked: $0) })
    }

    private func entry(_ delivery: JetStreamDelivery) -> CheckedEntry? {
        guard let tenant = LogIntake.tenant(inSubject: delivery.subject), let raw = try? JSONValue(parsing: delivery.payload) else { return nil }
        return try? validator.check(raw, index: 0, origin: .stream(tenant: tenant))
    }
}
