import Foundation

/// An app's nginx access log in the `fleet` format: `msec \t upstream_addr \t status \t upstream_status`.
struct NginxAccessLog: Sendable {
    var path: String

    /// Requests answered by some upstreams, and how many of those were 5xx.
    struct Tally: Equatable {
        var requests = 0
        var errors = 0
    }

    /// The current end of the log: where a step starts counting.
    func end() -> UInt64 {
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.uint64Value
        return size ?? 0
    }

    /// Adds to `tally` the requests logged after `offset` whose last upstream tried is one of
    /// `upstreams` (`127.0.0.1:<port>`), with that upstream's status; returns where the next
    /// call goes on (only whole lines are read, and a log cut back is read from its start).
    func count(into tally: inout Tally, since offset: UInt64, upstreams: Set<String>) -> UInt64 {
        guard let handle = FileHandle(forReadingAtPath: path) else { return offset }
        defer { try? handle.close() }
        let end = (try? handle.seekToEnd()) ?? 0
        let start = end < offset ? 0 : offset
        try? handle.seek(toOffset: start)
        let data = (try? handle.readToEnd()) ?? Data()
        guard let lastNewline = data.lastIndex(of: UInt8(ascii: "\n")) else { return start }
        for line in data[..<lastNewline].split(separator: UInt8(ascii: "\n")) {
            let fields = String(decoding: line, as: UTF8.self).split(separator: "\t", omittingEmptySubsequences: false)
            guard let entry = Self.lastUpstream(fields), upstreams.contains(entry.address) else { continue }
            tally.requests += 1
            if entry.status >= 500 { tally.errors += 1 }
        }
        return start + UInt64(lastNewline - data.startIndex + 1)
    }

    /// The last upstream nginx tried for one line and what it answered: with retries both fields
    /// list several, `, ` between attempts and ` : ` between upstream groups.
    static func lastUpstream(_ fields: [Substring]) -> (address: String, status: Int)? {
        guard fields.count >= 4 else { return nil }
        func last(_ field: Substring) -> String {
            let attempt = field.components(separatedBy: ", ").last ?? ""
            return (attempt.components(separatedBy: " : ").last ?? "").trimmingCharacters(in: .whitespaces)
        }
        let address = last(fields[1])
        guard let status = Int(last(fields[3])) else { return nil }
        return (address, status)
    }
}
