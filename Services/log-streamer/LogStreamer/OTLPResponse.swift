import FlukeModels
import FlukePostgres
import FlukeRuntime
import Foundation
import Hummingbird
import NIOCore

/// OTLP/HTTP's two encodings: the request's decides how its answer is written.
enum OTLPEncoding: Sendable, Equatable {
    /// `application/x-protobuf`, what OpenTelemetry SDKs and the Collector send by default.
    case protobuf
    /// `application/json`: OTLP/JSON.
    case json

    /// The encoding a `Content-Type` names (parameters such as `charset` ignored); nil for another type.
    init?(contentType: String?) {
        let mediaType = contentType?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased()
        switch mediaType {
        case "application/x-protobuf": self = .protobuf
        case "application/json": self = .json
        default: return nil
        }
    }

    /// How to answer a request of `contentType`, even one that is neither: JSON when it mentions
    /// JSON, protobuf otherwise (OTLP's default).
    static func answering(contentType: String?) -> OTLPEncoding {
        OTLPEncoding(contentType: contentType) ?? (contentType?.lowercased().contains("json") == true ? .json : .protobuf)
    }

    var mediaType: String { self == .protobuf ? "application/x-protobuf" : "application/json" }
}

/// A refused OTLP request: the HTTP status and the message of the `google.rpc.Status` it is answered with.
struct OTLPFailure: Error, CustomStringConvertible {
    var status: HTTPResponse.Status
    var message: String
    var headers: HTTPFields = [:]

    init(_ status: HTTPResponse.Status, _ message: String, headers: HTTPFields = [:]) {
        self.status = status
        self.message = message
        self.headers = headers
    }

    /// The fleet's problems (401 and 403 from the token, 413 from the body's limit) in OTLP's terms.
    init(_ problem: Problem) {
        self.init(problem.status, problem.detail ?? problem.title, headers: problem.headers)
    }

    var description: String { "\(status.code) \(message)" }

    /// The gRPC status code `google.rpc.Status.code` carries (the OTLP spec maps HTTP statuses to them).
    var grpcCode: Int32 {
        switch status.code {
        case 400, 415: 3      // INVALID_ARGUMENT
        case 401: 16          // UNAUTHENTICATED
        case 403: 7           // PERMISSION_DENIED
        case 413, 429: 8      // RESOURCE_EXHAUSTED
        case 503: 14          // UNAVAILABLE
        default: 13           // INTERNAL
        }
    }
}

/// OTLP/HTTP answers, written by the route itself so that the fleet's middleware passes them on
/// as they are (it rewrites only what is thrown): 200 with an empty `ExportLogsServiceResponse`,
/// or the error status with a `google.rpc.Status`, each in the request's encoding.
enum OTLPResponse {
    static func success(_ encoding: OTLPEncoding) -> Response {
        // An ExportLogsServiceResponse with no field set: no bytes in protobuf, `{}` in JSON.
        Response(status: .ok, headers: [.contentType: encoding.mediaType],
                 body: .init(byteBuffer: ByteBuffer(string: encoding == .json ? "{}" : "")))
    }

    static func failure(_ failure: OTLPFailure, encoding: OTLPEncoding) -> Response {
        var headers = failure.headers
        headers[.contentType] = encoding.mediaType
        return Response(status: failure.status, headers: headers,
                        body: .init(byteBuffer: ByteBuffer(bytes: status(code: failure.grpcCode, message: failure.message,
                                                                         encoding: encoding))))
    }

    /// `google.rpc.Status{1: int32 code, 2: string message}` (details left out).
    static func status(code: Int32, message: String, encoding: OTLPEncoding) -> [UInt8] {
        switch encoding {
        case .json:
            let object: JSONValue = .object(["code": .number(Double(code)), "message": .string(message)])
            return Array((try? FleetJSON.encoder.encode(object)) ?? Data("{}".utf8))
        case .protobuf:
            let text = Array(message.utf8)
            // Field 1 varint (tag 0x08), field 2 length-delimited (tag 0x12); a negative int32 is
            // written as its 64-bit two's complement, as protobuf does.
            return [0x08] + varint(UInt64(bitPattern: Int64(code))) + [0x12] + varint(UInt64(text.count)) + text
        }
    }

    static func varint(_ value: UInt64) -> [UInt8] {
        var value = value
        var bytes: [UInt8] = []
        repeat {
            var byte = UInt8(value & 0x7F)
            value >>= 7
            if value != 0 { byte |= 0x80 }
            bytes.append(byte)
        } while value != 0
        return bytes
    }
}
