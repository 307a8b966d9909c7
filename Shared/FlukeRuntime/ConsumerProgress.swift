import FlukeModels
import Foundation
import Synchronization

/// When a durable consumer last found nothing left to handle: until then (and for a while
/// after), what it keeps up to date from the stream may lag. A reader marks such data stale when
/// ``isCaughtUp(within:now:)`` is false (NATS down, the consumer stuck on a backlog or a failing
/// handler), instead of failing.
public final class ConsumerProgress: Sendable {
    private let caughtUp = Mutex<Date?>(nil)

    public init() {}

    /// The start of the last fetch that left nothing behind (it came back empty, or with less than
    /// a batch, since handled): every message published before it has been handled.
    public var caughtUpAt: Date? { caughtUp.withLock { $0 } }

    /// Whether the consumer was caught up in the last `interval`.
    public func isCaughtUp(within interval: Duration, now: Date = Date()) -> Bool {
        guard let at = caughtUpAt else { return false }
        return now.timeIntervalSince(at) <= interval.secondsValue
    }

    func markCaughtUp(_ at: Date) { caughtUp.withLock { $0 = max($0 ?? at, at) } }
}
