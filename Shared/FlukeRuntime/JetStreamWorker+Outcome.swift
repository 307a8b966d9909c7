import FlukeModels
import FlukeNATS
import Foundation

extension JetStreamWorker {
    /// What became of one message.
    public enum Outcome: Sendable {
        /// Handled: acknowledge it.
        case done
        /// Not now: redeliver it after the retry delay; a dead letter once it has had its attempts.
        case retry(reason: String)
        /// Never: a dead letter at once.
        case reject(JetStreamRejection)

        init(handling message: JetStreamMessage, with handle: MessageHandler) async {
            do {
                try await handle(message)
                self = .done
            } catch let rejection as JetStreamRejection {
                self = .reject(rejection)
            } catch {
                self = .retry(reason: "\(error)")
            }
        }
    }
}

/// A message no attempt can handle (a poison message): a ``JetStreamWorker`` records it as a dead
/// letter at once instead of retrying it.
public struct JetStreamRejection: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// The payload is not what the subject promises (not a CloudEvent, or bad data).
        case malformed
    }

    public var code: Code
    public var reason: String

    public init(_ code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
    }

    public var description: String { "\(code.rawValue): \(reason)" }
}

extension JetStreamMessage {
    /// The message's CloudEvent; a ``JetStreamRejection`` when it is none.
    public func cloudEvent() throws -> CloudEvent {
        do {
            return try FleetJSON.decoder.decode(CloudEvent.self, from: message.payload)
        } catch {
            throw JetStreamRejection(.malformed, "not a CloudEvent: \(error)")
        }
    }
}
