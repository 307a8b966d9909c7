import AsyncHTTPClient
import FlukeModels
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1

/// One typed client for every fleet service's REST API: the `fluke` CLI and its MCP server talk
/// to the fleet only through it.
///
/// Each call goes to the service that owns the resource (``FleetService``), with the bearer
/// token of ``FleetEndpoints``. A refusal throws ``FlukeClientError`` carrying the server's
/// RFC 9457 problem (`detail`, and `field` when the server named one).
///
/// ```swift
/// let fleet = FlukeClient(endpoints: try FleetEndpoints.load())
/// defer { try? await fleet.shutdown() }
/// let projects = try await fleet.listProjects()
/// ```
public final class FlukeClient: Sendable {
    public let endpoints: FleetEndpoints
    let http: HTTPClient
    let ownsHTTP: Bool
    /// The most one response body may hold; a larger one is refused rather than buffered.
    public static let maxResponseBytes = 16 << 20

    /// A client on its own HTTP client (shut down by ``shutdown()``), or on `http`.
    public init(endpoints: FleetEndpoints, http: HTTPClient? = nil) {
        self.endpoints = endpoints
        if let http {
            self.http = http
            ownsHTTP = false
        } else {
            var configuration = HTTPClient.Configuration()
            configuration.timeout = .init(connect: .seconds(5), read: .seconds(60))
            configuration.redirectConfiguration = .disallow
            self.http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
            ownsHTTP = true
        }
    }

    /// The same fleet as another caller: one HTTP client, a different bearer token (the MCP
    /// server's HTTP transport serves each request with its caller's token).
    public func withToken(_ token: String?) -> FlukeClient {
        var endpoints = endpoints
        endpoints.token = token
        return FlukeClient(endpoints: endpoints, http: http)
    }

    public func shutdown() async throws {
        if ownsHTTP { try await http.shutdown() }
    }

    /// Sends one request and decodes the answer as `Response`; 204 decodes from `null`.
    public func send<Response: Decodable>(_ service: FleetService, _ method: HTTPMethod, _ path: String,
                                          query: [(String, String?)] = [], body: (any Encodable)? = nil,
                                          headers: [(String, String)] = [], as type: Response.Type = Response.self)
        async throws -> Response {
        let raw = try await sendRaw(service, method, path, query: query,
                                    body: try body.map { try JSONEncoder.fleet.encode($0) },
                                    contentType: "application/json", headers: headers)
        return try decodeAnswer(raw.body, status: raw.status, from: service, "\(method) \(path)")
    }

    /// An answer's body as `Response`: parsed once with the fleet's parser, models read from that tree.
    func decodeAnswer<Response: Decodable>(_ body: Data, status: Int, from service: FleetService, _ request: String) throws -> Response {
        do {
            return try (body.isEmpty ? JSONValue.null : try JSONValue(parsing: body)).decode(Response.self)
        } catch {
            throw FlukeClientError(service: service, status: status, title: "Unreadable answer",
                                   detail: "\(request) answered what is not the documented JSON: \(error)")
        }
    }

    /// Sends one request; the status and body of a 2xx answer, or ``FlukeClientError``.
    public func sendRaw(_ service: FleetService, _ method: HTTPMethod, _ path: String,
                        query: [(String, String?)] = [], body: Data? = nil, contentType: String = "application/json",
                        headers: [(String, String)] = []) async throws -> (status: Int, body: Data, headers: HTTPHeaders) {
        let url = try endpoints.url(service, path: path, query: query)
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers.add(name: "Accept", value: "application/json, application/problem+json")
        request.headers.add(name: "User-Agent", value: "fluke/\(FlukeClient.version)")
        if let token = endpoints.token(for: service) { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if service == .federation, let key = endpoints.federationAPIKey { request.headers.add(name: "X-API-Key", value: key) }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            request.headers.add(name: "Content-Type", value: contentType)
            request.body = .bytes(ByteBuffer(data: body))
        }
        let response: HTTPClientResponse
        do {
            response = try await http.execute(request, timeout: .seconds(60))
        } catch {
            throw FlukeClientError(service: service, status: 0, title: "Unreachable",
                                   detail: "\(service.name) at \(endpoints.base(service)?.absoluteString ?? "?") did not answer: \(error)")
        }
        let buffer = try await response.body.collect(upTo: Self.maxResponseBytes)
        let data = Data(buffer: buffer)
        let status = Int(response.status.code)
        guard (200..<300).contains(status) else {
            throw FlukeClientError(service: service, status: status, problem: data)
        }
        return (status, data, response.headers)
    }

    /// This client's version, sent as `User-Agent: fluke/<version>`.
    public static let version = "0.1.0"
}

extension JSONEncoder {
    /// The fleet's JSON: snake_case keys are spelled out by each model's coding keys.
    static var fleet: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }
}
