import ServiceLifecycle
import Synchronization

/// A wake-up call for a polling loop: `wait(timeout:)` returns on `signal()`, on `finish()`, or
/// when the timeout passes, whichever comes first. A signal sent while nobody waits is kept.
public final class WakeSignal: Sendable {
    private struct State {
        var pending = false
        var finished = false
        var waiter: (id: Int, continuation: CheckedContinuation<Void, Never>)?
        var nextID = 0
        /// A timeout that fired before its waiter was installed.
        var expiredID = -1
    }
    private let state = Mutex(State())

    public init() {}

    public var isFinished: Bool { state.withLock { $0.finished } }

    public func signal() {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            guard let w = s.waiter else {
                s.pending = true
                return nil
            }
            s.waiter = nil
            return w.continuation
        }
        waiter?.resume()
    }

    /// Wakes the waiter now and every future wait at once.
    public func finish() {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            s.finished = true
            defer { s.waiter = nil }
            return s.waiter?.continuation
        }
        waiter?.resume()
    }

    public func wait(timeout: Duration) async {
        let id: Int? = state.withLock { s in
            if s.pending || s.finished {
                s.pending = false
                return nil
            }
            s.nextID += 1
            return s.nextID
        }
        guard let id else { return }
        let timer = Task { [weak self] in
            try? await Task.sleep(for: timeout)
            self?.expire(id)
        }
        await withCheckedContinuation { continuation in
            let resumeNow = state.withLock { s -> Bool in
                if s.pending || s.finished || s.expiredID == id {
                    s.pending = false
                    return true
                }
                s.waiter = (id, continuation)
                return false
            }
            if resumeNow { continuation.resume() }
        }
        timer.cancel()
    }

    private func expire(_ id: Int) {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            guard let w = s.waiter, w.id == id else {
                s.expiredID = id
                return nil
            }
            s.waiter = nil
            return w.continuation
        }
        waiter?.resume()
    }
}

extension WakeSignal {
    /// A polling loop as a `Service` runs one: `round` now, then again once `interval` has passed
    /// or at once on ``signal()``, until graceful shutdown (which finishes the signal, so that a
    /// round in progress can see ``isFinished`` and stop early).
    public func loop(every interval: Duration, _ round: @Sendable () async -> Void) async {
        await withGracefulShutdownHandler {
            while !isFinished && !Task.isCancelled {
                await round()
                await wait(timeout: interval)
            }
        } onGracefulShutdown: {
            self.finish()
        }
    }
}
