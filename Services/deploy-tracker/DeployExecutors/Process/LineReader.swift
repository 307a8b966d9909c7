import Foundation

/// Reads the lines appended to a file since the last call (a build's output, a replica's log).
final class LineReader {
    private let handle: FileHandle
    private var pending = Data()

    init(path: String, fromEnd: Bool = false) throws {
        handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
        if fromEnd { _ = try? handle.seekToEnd() }
    }

    deinit { try? handle.close() }

    /// Complete lines appended since the last call (a partial last line waits for its newline).
    func newLines() -> [String] {
        // A file cut back to empty (a replica's capped output) is read again from its start.
        if let offset = try? handle.offset(), let end = try? handle.seekToEnd() {
            if end < offset { pending.removeAll() }
            try? handle.seek(toOffset: end < offset ? 0 : offset)
        }
        guard let data = try? handle.readToEnd(), !data.isEmpty else { return [] }
        pending.append(data)
        var lines: [String] = []
        while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
            lines.append(String(decoding: pending[pending.startIndex..<newline], as: UTF8.self))
            pending.removeSubrange(pending.startIndex...newline)
        }
        return lines
    }
}
