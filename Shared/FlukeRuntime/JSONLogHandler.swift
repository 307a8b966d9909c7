import FlukeModels
import Foundation
import Logging
import Synchronization

/// One JSON object per line on stderr: `{"ts","level","service","msg",...metadata}`.
///
/// Metadata is written as given; callers never put secrets in it (tokens, passwords, env
/// values), and the runtime redacts credentials from URLs before logging them.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    let label: String
    private static let output = Mutex(())

    public init(label: String, level: Logger.Level) {
        self.label = label
        self.logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var object: [String: JSONValue] = [
            "ts": .string(RFC3339.format(Date())), "level": .string(event.level.rawValue),
            "service": .string(label), "msg": .string("\(event.message)"),
        ]
        for (key, value) in metadata.merging(event.metadata ?? [:], uniquingKeysWith: { _, new in new }) {
            object[key] = .string("\(value)")
        }
        guard var line = try? Self.encoder.encode(object) else { return }
        line.append(0x0A)
        Self.output.withLock { _ in
            // One write(2) per line: lines from several threads never interleave.
            _ = line.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
        }
    }

    private static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }()
}
