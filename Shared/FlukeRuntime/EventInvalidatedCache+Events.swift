import FlukeModels
import FlukeNATS
import Foundation
import ServiceLifecycle

extension EventInvalidatedCache: Service {
    /// What invalidates: any message on these subjects naming a project.
    struct Event: Decodable {
        var projectid: String?
    }

    /// Invalidates here, and tells the other replicas on ``announceSubject`` that `scope` changed
    /// in Postgres (for changes whose own event may precede their commit).
    public func announce(_ scope: UUID) {
        invalidate(scope)
        guard let announceSubject else { return }
        _ = nats.publishNow(announceSubject, payload: Data(#"{"projectid":"\#(scope.lowercased)"}"#.utf8))
    }

    /// Subscribes (core NATS) to ``subjects`` and ``announceSubject`` until graceful shutdown,
    /// invalidating the scope each message names in `projectid`.
    public func run() async throws {
        let subscriptions = try (subjects + [announceSubject].compactMap { $0 }).map { subject in
            try nats.subscribe(subject) { [self] message in
                if let scope = (try? JSONDecoder().decode(Event.self, from: Data(message.payload)))?.projectid
                    .flatMap(UUID.init(uuidString:)) {
                    invalidate(scope)
                }
            }
        }
        try? await gracefulShutdown()
        for subscription in subscriptions { subscription.cancel() }
    }
}
