/// Splits the Engine's multiplexed log stream (containers without a TTY, service logs) into
/// frames: an 8-byte header — stream type (0 stdin, 1 stdout, 2 stderr), three zero bytes, the
/// payload's length as a big-endian UInt32 — then the payload. Frames arrive cut anywhere
/// across the HTTP body's chunks, so bytes are kept until a whole frame is there.
struct DockerLogDemuxer {
    struct Frame: Equatable {
        /// `stdout` or `stderr` (stdin, which a log never carries, reads as stdout).
        var stream: String
        var payload: [UInt8]
    }

    struct MalformedStream: Error, CustomStringConvertible {
        var header: [UInt8]
        var description: String { "not a multiplexed log stream (header \(header))" }
    }

    private var buffer: [UInt8] = []
    private var start = 0

    mutating func append<Bytes: Sequence>(_ bytes: Bytes) throws -> [Frame] where Bytes.Element == UInt8 {
        buffer.append(contentsOf: bytes)
        var frames: [Frame] = []
        while buffer.count - start >= 8 {
            let header = buffer[start..<start + 8]
            let type = header[start]
            guard type <= 2, header[start + 1] == 0, header[start + 2] == 0, header[start + 3] == 0 else {
                throw MalformedStream(header: Array(header))
            }
            let length = header[(start + 4)...].reduce(0) { $0 << 8 | Int($1) }
            guard buffer.count - start - 8 >= length else { break }
            let payload = Array(buffer[(start + 8)..<(start + 8 + length)])
            frames.append(Frame(stream: type == 2 ? "stderr" : "stdout", payload: payload))
            start += 8 + length
        }
        // Drop consumed bytes now and then rather than on every frame.
        if start > 0 && start >= buffer.count / 2 {
            buffer.removeFirst(start)
            start = 0
        }
        return frames
    }

    /// Bytes of an unfinished frame left at the end of the stream.
    var leftover: Int { buffer.count - start }
}
