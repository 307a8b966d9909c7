import CZlib
import NIOCore

/// Inflates a `Content-Encoding: gzip` (or `deflate`, zlib's format) request body, never holding
/// more than `limit` inflated bytes: a small body that would inflate to gigabytes (a "gzip bomb")
/// is refused once it passes the limit, having allocated at most the limit and one chunk.
///
/// Over zlib through the system-library target `CZlib` rather than a package: zlib is already
/// linked (swift-nio-extras' HTTP compression, through AsyncHTTPClient), and compress-nio 1.5.0's
/// `decompress(with:maxSize:)`, the one ready-made bounded call, takes a stream cut short for a
/// whole one (it ignores zlib's "input ended" state) and data after the stream's end, so a
/// truncated body would be decoded as far as it went. This file is the only one holding zlib's pointers.
enum BodyInflater {
    enum Format {
        /// RFC 1952, one member or several in a row.
        case gzip
        /// HTTP's `deflate`: the zlib format (RFC 1950).
        case zlib

        var windowBits: Int32 { self == .gzip ? 15 + 16 : 15 }
    }

    enum Failure: Error, Equatable {
        /// More than the limit once inflated.
        case tooLarge
        /// Not in the format, a checksum that does not match, or the stream ends too soon.
        case corrupt(String)
    }

    static let chunkSize = 64 * 1024

    static func inflate(_ input: ByteBuffer, format: Format, limit: Int) throws(Failure) -> [UInt8] {
        // zlib keeps a pointer back to its stream: it must not move, so it is not a Swift value.
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        defer {
            stream.deinitialize(count: 1)
            stream.deallocate()
        }
        guard CZlib_inflateInit2(stream, format.windowBits) == Z_OK else { throw .corrupt("zlib could not start") }
        defer { inflateEnd(stream) }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: chunkSize)
        let outcome: Failure? = input.withUnsafeReadableBytes { raw in
            guard let base = raw.bindMemory(to: Bytef.self).baseAddress, raw.count > 0 else { return .corrupt("the body is empty") }
            stream.pointee.next_in = UnsafeMutablePointer(mutating: base)
            stream.pointee.avail_in = uInt(raw.count)
            while true {
                let (status, produced) = chunk.withUnsafeMutableBufferPointer { out in
                    stream.pointee.next_out = out.baseAddress
                    stream.pointee.avail_out = uInt(out.count)
                    let status = CZlib.inflate(stream, Z_NO_FLUSH)
                    return (status, out.count - Int(stream.pointee.avail_out))
                }
                guard output.count + produced <= limit else { return .tooLarge }
                if output.count + produced > output.capacity {
                    // Grown by hand: doubling could reserve up to twice the limit.
                    output.reserveCapacity(min(limit, max(output.count + produced, output.capacity * 2)))
                }
                output.append(contentsOf: chunk[..<produced])
                switch status {
                case Z_OK:
                    continue
                case Z_STREAM_END:
                    if stream.pointee.avail_in == 0 { return nil }
                    // Another gzip member follows (RFC 1952 §2.2); anything else fails as corrupt.
                    guard inflateReset(stream) == Z_OK else { return .corrupt("zlib could not restart") }
                case Z_BUF_ERROR:
                    // No progress with room to write: the input ran out before the stream's end.
                    return .corrupt("the compressed body ends before its stream does")
                case Z_MEM_ERROR:
                    return .corrupt("zlib ran out of memory")
                default:
                    return .corrupt(stream.pointee.msg.map { String(cString: $0) } ?? "zlib status \(status)")
                }
            }
        }
        if let outcome { throw outcome }
        return output
    }
}
