import CZlib
import FlukeTestSupport
import Foundation
import HTTPTypes
import NIOCore

/// What the OTLP tests send and read: fixtures, the Python SDK exporter, gzip, raw requests.
enum OTLPFixtures {
    static let folder = TestEnvironment.repositoryRoot.appendingPathComponent("Tests/LogStreamerTests/Fixtures")

    static func file(_ name: String) throws -> Data {
        try Data(contentsOf: folder.appendingPathComponent(name))
    }

    /// The venv `make test` keeps (opentelemetry-sdk and its OTLP/HTTP exporter installed).
    static var python: String {
        ProcessInfo.processInfo.environment["FLUKE_TEST_PYTHON"]
            ?? TestEnvironment.repositoryRoot.appendingPathComponent(".venv/bin/python").path
    }

    /// Runs `Fixtures/otel_export.py` against `endpoint` and returns the trace id it printed.
    /// Waited for without blocking a thread: the service answering it runs in this process.
    static func exportWithPythonSDK(endpoint: String, token: String, service: String, gzip: Bool) async throws -> String {
        let out = TestEnvironment.workDir + "/otel-export-\(UUID().uuidString.prefix(8))"
        guard FileManager.default.createFile(atPath: out + ".out", contents: nil),
              FileManager.default.createFile(atPath: out + ".err", contents: nil),
              let stdout = FileHandle(forWritingAtPath: out + ".out"), let stderr = FileHandle(forWritingAtPath: out + ".err")
        else { throw TestFailure("could not create \(out).out/.err") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [folder.appendingPathComponent("otel_export.py").path, endpoint, token, service, gzip ? "gzip" : "none"]
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        try? stdout.close()
        try? stderr.close()
        defer { if process.isRunning { process.terminate() } }
        try await eventually(timeout: .seconds(90), "otel_export.py to exit") { !process.isRunning }
        let printed = String(decoding: FileManager.default.contents(atPath: out + ".out") ?? Data(), as: UTF8.self)
        let errors = String(decoding: FileManager.default.contents(atPath: out + ".err") ?? Data(), as: UTF8.self)
        guard process.terminationStatus == 0 else {
            throw TestFailure("otel_export.py exited \(process.terminationStatus): \(errors)")
        }
        let traceID = printed.trimmingCharacters(in: .whitespacesAndNewlines)
        guard traceID.count == 32 else { throw TestFailure("otel_export.py printed \(printed) \(errors)") }
        return traceID
    }

    /// `bytes` as one gzip member (RFC 1952): zlib's `compress2` output, its zlib header and
    /// Adler-32 replaced by gzip's header, CRC-32 and length (`deflateInit2`, which writes gzip
    /// itself, is a C macro Swift cannot call).
    static func gzip(_ bytes: [UInt8]) -> [UInt8] {
        var size = compressBound(uLong(bytes.count))
        var zlib = [UInt8](repeating: 0, count: Int(size))
        let status = compress2(&zlib, &size, bytes, uLong(bytes.count), 9)
        precondition(status == Z_OK, "compress2: \(status)")
        let deflate = zlib[2..<(Int(size) - 4)]
        let crc = UInt32(crc32(0, bytes, uInt(bytes.count)))
        let length = UInt32(truncatingIfNeeded: bytes.count)
        func littleEndian(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }
        return [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 0xFF] + deflate + littleEndian(crc) + littleEndian(length)
    }

    /// `bytes` in the zlib format (HTTP's `Content-Encoding: deflate`).
    static func zlib(_ bytes: [UInt8]) -> [UInt8] {
        var size = compressBound(uLong(bytes.count))
        var out = [UInt8](repeating: 0, count: Int(size))
        precondition(compress2(&out, &size, bytes, uLong(bytes.count), 9) == Z_OK)
        return Array(out[..<Int(size)])
    }

    /// A protobuf length-delimited field.
    static func field(_ number: UInt8, _ bytes: [UInt8]) -> [UInt8] {
        var length = UInt64(bytes.count), varint: [UInt8] = []
        repeat {
            varint.append(UInt8(length & 0x7F) | (length > 0x7F ? 0x80 : 0))
            length >>= 7
        } while length > 0
        return [number << 3 | 2] + varint + bytes
    }

    /// An ExportLogsServiceRequest holding one record made of `fields` (already encoded).
    static func request(record fields: [UInt8]) -> [UInt8] {
        field(1, field(2, field(2, fields)))
    }
}

/// An OTLP answer as it came, bytes and all.
struct OTLPReply {
    var status: Int
    var contentType: String?
    var body: [UInt8]
}

extension JSONClient {
    /// `POST /v1/logs` with `body` as is.
    func postOTLP(_ token: String?, _ body: [UInt8], contentType: String = "application/x-protobuf",
                  contentEncoding: String? = nil) async throws -> OTLPReply {
        var headers: HTTPFields = [.contentType: contentType]
        if let token { headers[.authorization] = "Bearer \(token)" }
        if let contentEncoding { headers[.contentEncoding] = contentEncoding }
        let response = try await client.execute(uri: "/v1/logs", method: .post, headers: headers, body: ByteBuffer(bytes: body))
        return OTLPReply(status: Int(response.status.code), contentType: response.headers[.contentType],
                         body: Array(buffer: response.body))
    }
}
