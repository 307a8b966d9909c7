/// The pause between polls of something that is usually quick (a child's exit, nginx loading a
/// configuration, a replica's first health answer): short at first, doubling up to `limit`, so a
/// 5 ms command is seen within milliseconds and a long build costs few wake-ups.
struct PollInterval: Sendable {
    private var next: Duration
    private let limit: Duration

    init(from first: Duration = .milliseconds(1), to limit: Duration) {
        next = first
        self.limit = limit
    }

    /// Sleeps for the current interval, then doubles it (up to the limit).
    mutating func sleep() async throws {
        try await Task.sleep(for: next)
        next = min(next * 2, limit)
    }
}
