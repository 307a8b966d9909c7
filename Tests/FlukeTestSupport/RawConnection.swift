#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// A bare TCP connection to a local server, for what an HTTP client library hides: a client that
/// sends nothing, oversized heads, and whether the server closed the connection.
public final class RawConnection: @unchecked Sendable {
    private let fd: Int32

    public init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        let result = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            close(fd)
            throw TestFailure("could not connect to 127.0.0.1:\(port) (errno \(errno))")
        }
    }

    deinit { close(fd) }

    public func send(_ text: String) throws {
        let bytes = Array(text.utf8)
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw TestFailure("send failed (errno \(errno))") }
            sent += n
        }
    }

    /// Reads until the server closes the connection or `timeout` passes: what arrived, and
    /// whether the connection was closed.
    public func readUntilClosed(timeout: Duration) async -> (received: String, closed: Bool) {
        let fd = self.fd
        let milliseconds = Int32(clamping: timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        return await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                var received: [UInt8] = []
                let deadline = Date().addingTimeInterval(Double(milliseconds) / 1000)
                var buffer = [UInt8](repeating: 0, count: 65_536)
                while true {
                    let left = Int32(max(0, deadline.timeIntervalSinceNow * 1000))
                    var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                    guard left > 0, poll(&descriptor, 1, left) > 0 else { break }
                    let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                    if n <= 0 {
                        continuation.resume(returning: (String(decoding: received, as: UTF8.self), true))
                        return
                    }
                    received += buffer[..<n]
                }
                continuation.resume(returning: (String(decoding: received, as: UTF8.self), false))
            }
        }
    }
}
