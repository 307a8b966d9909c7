import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting

/// A response read as JSON.
public struct JSONReply: @unchecked Sendable {
    public var status: Int
    public var json: [String: Any]
    public var headers: HTTPFields
    public var body: Data

    /// A page's `items`.
    public var items: [[String: Any]] { json["items"] as? [[String: Any]] ?? [] }
    public subscript(key: String) -> Any? { json[key] }
    public func string(_ key: String) -> String? { json[key] as? String }
}

/// Calls a service under test with JSON bodies and bearer tokens.
public struct JSONClient: Sendable {
    public let client: any TestClientProtocol

    public init(client: any TestClientProtocol) { self.client = client }

    @discardableResult
    public func call(_ method: HTTPRequest.Method, _ uri: String, token: String? = nil, json: Any? = nil,
                     headers extra: HTTPFields = [:]) async throws -> JSONReply {
        var headers = extra
        if let token { headers[.authorization] = "Bearer \(token)" }
        var body: ByteBuffer?
        if let json {
            headers[.contentType] = "application/json"
            body = ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: json))
        }
        let response = try await client.execute(uri: uri, method: method, headers: headers, body: body)
        let data = Data(buffer: response.body)
        return JSONReply(status: Int(response.status.code),
                         json: (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:],
                         headers: response.headers, body: data)
    }

    /// Sends `body` as is under `contentType` (NDJSON, text, a body that is not JSON at all).
    @discardableResult
    public func call(_ method: HTTPRequest.Method, _ uri: String, token: String? = nil, body: String,
                     contentType: String) async throws -> JSONReply {
        try await call(method, uri, token: token, body: body, headers: [.contentType: contentType])
    }

    /// Sends `body` as is with `headers` (a webhook delivery's own, say).
    @discardableResult
    public func call(_ method: HTTPRequest.Method, _ uri: String, token: String? = nil, body: String,
                     headers: HTTPFields) async throws -> JSONReply {
        var headers = headers
        if let token { headers[.authorization] = "Bearer \(token)" }
        let response = try await client.execute(uri: uri, method: method, headers: headers, body: ByteBuffer(string: body))
        let data = Data(buffer: response.body)
        return JSONReply(status: Int(response.status.code),
                         json: (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:],
                         headers: response.headers, body: data)
    }

    /// The value of a Prometheus sample on `/metrics`, e.g. `pm_identity_verifications_total`.
    public func metric(_ sample: String) async throws -> Double? {
        let response = try await client.execute(uri: "/metrics", method: .get)
        for line in String(buffer: response.body).split(separator: "\n") where line.hasPrefix(sample + " ") {
            return Double(line.dropFirst(sample.count + 1))
        }
        return nil
    }
}
