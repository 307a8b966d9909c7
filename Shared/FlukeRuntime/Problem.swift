import FlukeModels
import Foundation
import Hummingbird

/// An RFC 9457 problem: what every error of every service looks like on the wire
/// (`application/problem+json`).
public struct Problem: Error, Sendable, CustomStringConvertible {
    public var status: HTTPResponse.Status
    public var title: String
    public var detail: String?
    /// The offending input, as a JSON path (`projects[2].slug`) or parameter name.
    public var field: String?
    /// Extra members, e.g. `down: ["postgres"]` on a 503 from `/ready`.
    public var extensions: [String: JSONValue]
    public var headers: HTTPFields

    public init(_ status: HTTPResponse.Status, _ title: String? = nil, detail: String? = nil, field: String? = nil,
                extensions: [String: JSONValue] = [:], headers: HTTPFields = [:]) {
        self.status = status
        self.title = title ?? status.reasonPhrase
        self.detail = detail
        self.field = field
        self.extensions = extensions
        self.headers = headers
    }

    public var description: String { "\(status.code) \(title)\(detail.map { ": \($0)" } ?? "")" }

    /// 422: a well-formed request whose `field` is not acceptable.
    public static func invalid(_ field: String, _ detail: String) -> Problem {
        Problem(.unprocessableContent, "Invalid field", detail: detail, field: field)
    }

    public static func notFound(_ detail: String) -> Problem { Problem(.notFound, detail: detail) }

    /// Renders the problem document.
    public func response(instance: String?, requestID: String?) -> Response {
        let (head, body) = rendered(instance: instance, requestID: requestID)
        return Response(status: head.status, headers: head.headerFields, body: .init(byteBuffer: body))
    }

    /// The problem document as a response head and body, for paths below Hummingbird's router.
    public func rendered(instance: String?, requestID: String?) -> (HTTPResponse, ByteBuffer) {
        var body: [String: JSONValue] = extensions
        body["type"] = .string("about:blank")
        body["title"] = .string(title)
        body["status"] = .number(Double(status.code))
        if let detail { body["detail"] = .string(detail) }
        if let field { body["field"] = .string(field) }
        if let instance { body["instance"] = .string(instance) }
        if let requestID { body["request_id"] = .string(requestID) }
        let data = (try? FleetJSON.encoder.encode(body)) ?? Data()
        var headers = self.headers
        headers[.contentType] = "application/problem+json"
        return (HTTPResponse(status: status, headerFields: headers), ByteBuffer(bytes: data))
    }
}

/// A domain error that knows its problem document. Services' error structs adopt it, so HTTP
/// appears only at the edge.
public protocol ProblemConvertible: Error {
    var problem: Problem { get }
}

extension FleetJSON {
    /// The encoder for every JSON body and event the fleet writes: sorted keys, RFC 3339 dates.
    public static let encoder: JSONEncoder = CloudEvent.encoder()
}
