import CNats
import Foundation
import Synchronization

/// Request/reply over one wildcard inbox subscription per client (`_INBOX.<id>.*`), the way the
/// NATS clients of other languages do it: a request is a publish with a reply subject plus a
/// waiting continuation, so no thread blocks while the responder works.
final class NATSRequestMux: Sendable {
    private struct Waiting {
        var continuation: CheckedContinuation<NATSMessage, any Error>
        var deadline: ContinuousClock.Instant
        var subject: String
    }
    private struct State {
        var core: NATSSubscriptionCore?
        var timer: (any DispatchSourceTimer)?
        var next: UInt64 = 0
        var pending: [UInt64: Waiting] = [:]
    }
    private let state = Mutex(State())
    let prefix: String

    /// Replies arrive on `<inboxPrefix>.<random>.<request number>`.
    init(inboxPrefix: String) {
        prefix = inboxPrefix + "." + UUID().uuidString.replacingOccurrences(of: "-", with: "")
    }

    /// Subscribes on first use.
    func ensureSubscribed(_ nc: OpaquePointer) throws {
        try state.withLock { s in
            guard s.core == nil else { return }
            let prefixLength = prefix.utf8.count + 1
            s.core = try NATSSubscriptionCore(nc: nc, subject: prefix + ".*", queue: nil, box: NATSDeliveryBox(
                deliver: { [weak self] msg in
                    guard let self, let subject = natsMsg_GetSubject(msg) else { return }
                    let token = String(cString: subject + prefixLength)
                    guard let id = UInt64(token),
                          let continuation = self.state.withLock({ $0.pending.removeValue(forKey: id) })?.continuation
                    else { return }
                    if natsMsg_IsNoResponders(msg) {
                        continuation.resume(throwing: NATSError(status: NATS_NO_RESPONDERS.rawValue,
                                                                message: "no responders"))
                    } else {
                        continuation.resume(returning: NATSMessage(copying: msg))
                    }
                },
                finish: {}))
            // One timer sweeps out overdue requests, rather than one timer per request.
            let timer = DispatchSource.makeTimerSource(queue: DispatchQueue.global())
            timer.schedule(deadline: .now() + .milliseconds(10), repeating: .milliseconds(10), leeway: .milliseconds(5))
            timer.setEventHandler { [weak self] in self?.expire() }
            timer.resume()
            s.timer = timer
        }
    }

    func register(_ continuation: CheckedContinuation<NATSMessage, any Error>, subject: String, timeout: Duration) -> UInt64 {
        state.withLock { s in
            s.next += 1
            s.pending[s.next] = Waiting(continuation: continuation, deadline: .now + timeout, subject: subject)
            return s.next
        }
    }

    private func expire() {
        let now = ContinuousClock.now
        let overdue = state.withLock { s -> [Waiting] in
            guard s.pending.values.contains(where: { $0.deadline <= now }) else { return [] }
            var out: [Waiting] = []
            for (id, w) in s.pending where w.deadline <= now {
                out.append(w)
                s.pending.removeValue(forKey: id)
            }
            return out
        }
        for w in overdue {
            w.continuation.resume(throwing: NATSError(status: NATS_TIMEOUT.rawValue, message: "no reply on \(w.subject) in time"))
        }
    }

    /// Fails a request that is still waiting (cancellation, publish failure).
    func fail(_ id: UInt64, with error: any Error) {
        state.withLock { $0.pending.removeValue(forKey: id) }?.continuation.resume(throwing: error)
    }

    func cancelAll() {
        let (core, timer, waiting) = state.withLock { s in
            defer { s.pending.removeAll(); s.core = nil; s.timer = nil }
            return (s.core, s.timer, Array(s.pending.values))
        }
        timer?.cancel()
        core?.cancel()
        for w in waiting {
            w.continuation.resume(throwing: NATSError(status: NATS_CONNECTION_CLOSED.rawValue, message: "the client is shut down"))
        }
    }
}

extension NATSClient {
    /// Sends a request and waits for the first reply; throws a timeout error after `timeout` and
    /// a no-responders error at once when nobody listens on `subject`.
    public func request(_ subject: String, payload: Data, headers: [String: String] = [:],
                        timeout: Duration = .seconds(2)) async throws -> NATSMessage {
        try requests.ensureSubscribed(connection.nc)
        let mux = requests
        let idBox = Mutex<UInt64>(0)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let id = mux.register(continuation, subject: subject, timeout: timeout)
                idBox.withLock { $0 = id }
                let message = NATSMessage(subject: subject, reply: "\(mux.prefix).\(id)", headers: headers, payload: payload)
                guard case .queued = publisher.enqueue(.message(message)) else {
                    mux.fail(id, with: NATSError(status: NATS_CONNECTION_CLOSED.rawValue, message: "cannot publish on \(subject)"))
                    return
                }
            }
        } onCancel: {
            mux.fail(idBox.withLock { $0 }, with: CancellationError())
        }
    }
}
