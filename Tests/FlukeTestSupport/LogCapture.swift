import Foundation
import Logging
import Synchronization

/// Keeps every log message at `level` or above, for tests that assert what a service logged
/// (a retry loop shows as the same warning over and over).
public final class LogCapture: Sendable {
    public struct Entry: Sendable {
        public var level: Logger.Level
        public var message: String
        public var metadata: [String: String]
    }
    private let entries = Mutex<[Entry]>([])
    let level: Logger.Level

    public init(level: Logger.Level = .warning) { self.level = level }

    public var logged: [Entry] { entries.withLock { $0 } }

    /// A logger writing here.
    public func logger(label: String = "test") -> Logger {
        var logger = Logger(label: label) { _ in Handler(capture: self) }
        logger.logLevel = level
        return logger
    }

    struct Handler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            var all = metadata.mapValues { "\($0)" }
            for (key, value) in event.metadata ?? [:] { all[key] = "\(value)" }
            let entry = Entry(level: event.level, message: "\(event.message)", metadata: all)
            capture.entries.withLock { $0.append(entry) }
        }
    }
}
