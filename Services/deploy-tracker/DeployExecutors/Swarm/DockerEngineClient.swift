import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// An error answer of the Docker Engine: its status and `{"message": …}`.
struct DockerEngineError: Error, Sendable, CustomStringConvertible {
    var status: Int
    var message: String

    var isNotFound: Bool { status == 404 }
    var isNameConflict: Bool { status == 409 }
    /// A service update whose `version` was not the current `Version.Index` (swarmkit answers 500
    /// with `rpc error: … update out of sequence`).
    var isOutOfSequence: Bool { message.contains("update out of sequence") }

    var description: String { "Docker Engine answered \(status): \(message)" }
}

/// HTTP to one Docker Engine, over its unix socket or tcp, with the API version prefix.
struct DockerEngineClient: Sendable {
    /// The URL every path is appended to: `http+unix://<percent-encoded socket>/v1.45` or
    /// `http://host:port/v1.45`.
    let baseURL: String
    let requestTimeout: TimeAmount
    /// `X-Registry-Auth` for the requests that pull images.
    let registryAuth: String?

    /// `DOCKER_HOST` is `unix:///path` or `tcp://host:port`; anything else is refused.
    init(dockerHost: String, apiVersion: String, requestTimeout: Duration, registryAuth: String? = nil) throws {
        self.registryAuth = registryAuth
        let prefix = apiVersion.isEmpty ? "" : (apiVersion.hasPrefix("/") ? apiVersion : "/" + apiVersion)
        if dockerHost.hasPrefix("unix://") {
            let path = String(dockerHost.dropFirst("unix://".count))
            // The socket path is the URL's host, so its slashes must be percent-encoded.
            guard !path.isEmpty,
                  let host = path.addingPercentEncoding(withAllowedCharacters: .alphanumerics) else {
                throw DeployFailure(.executor, "DOCKER_HOST \(dockerHost) names no socket")
            }
            baseURL = "http+unix://\(host)\(prefix)"
        } else if dockerHost.hasPrefix("tcp://") {
            let hostPort = dockerHost.dropFirst("tcp://".count).split(separator: "/").first.map(String.init) ?? ""
            guard !hostPort.isEmpty else { throw DeployFailure(.executor, "DOCKER_HOST \(dockerHost) names no host") }
            baseURL = "http://\(hostPort)\(prefix)"
        } else {
            throw DeployFailure(.executor, "DOCKER_HOST must be unix:// or tcp://, not \(dockerHost)")
        }
        self.requestTimeout = .nanoseconds(requestTimeout.nanosecondsValue)
    }

    /// Sends a request and collects a JSON (or text) answer of at most 16 MiB; an error status
    /// throws ``DockerEngineError``.
    @discardableResult
    func send(_ method: HTTPMethod, _ path: String, query: [(String, String)] = [], json: Data? = nil,
              timeout: TimeAmount? = nil) async throws -> Data {
        let response = try await start(method, path, query: query, json: json, timeout: timeout)
        let body: ByteBuffer
        do {
            body = try await response.body.collect(upTo: 16 << 20)
        } catch where Task.isCancelled {
            throw CancellationError()
        }
        let data = Data(body.readableBytesView)
        guard (200..<300).contains(Int(response.status.code)) else {
            throw Self.error(status: Int(response.status.code), body: data)
        }
        return data
    }

    func get<T: Decodable>(_ type: T.Type, _ path: String, query: [(String, String)] = []) async throws -> T {
        try DockerEngine.decoder.decode(T.self, from: try await send(.GET, path, query: query))
    }

    /// Starts a request whose answer is streamed (image pulls, logs); an error status throws
    /// ``DockerEngineError`` with the body read.
    func stream(_ method: HTTPMethod, _ path: String, query: [(String, String)] = []) async throws
        -> HTTPClientResponseBody {
        let response = try await start(method, path, query: query, json: nil)
        guard (200..<300).contains(Int(response.status.code)) else {
            let body = (try? await response.body.collect(upTo: 1 << 20)).map { Data($0.readableBytesView) } ?? Data()
            throw Self.error(status: Int(response.status.code), body: body)
        }
        return response.body
    }

    private func start(_ method: HTTPMethod, _ path: String, query: [(String, String)], json: Data?,
                       timeout: TimeAmount? = nil) async throws -> HTTPClientResponse {
        var request = HTTPClientRequest(url: baseURL + path + Self.queryString(query))
        request.method = method
        request.headers.add(name: "Accept", value: "application/json")
        if let registryAuth, method == .POST,
           path == "/images/create" || path == "/services/create" || path.hasSuffix("/update") {
            request.headers.add(name: "X-Registry-Auth", value: registryAuth)
        }
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: json))
        }
        do {
            return try await engineHTTPClient.execute(request, timeout: timeout ?? requestTimeout)
        } catch where Task.isCancelled {
            // Callers stop on cancellation (a cancelled deployment), not on a transport error.
            throw CancellationError()
        } catch let error as HTTPClientError {
            throw DeployFailure(.executor, "Docker Engine at \(baseURL) unreachable: \(error)")
        }
    }

    static func queryString(_ query: [(String, String)]) -> String {
        guard !query.isEmpty else { return "" }
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return "?" + query.map { key, value in
            "\(key)=\(value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value)"
        }.joined(separator: "&")
    }

    static func error(status: Int, body: Data) -> DockerEngineError {
        let message = (try? JSONDecoder().decode(DockerEngine.ErrorBody.self, from: body))?.message
            ?? String(decoding: body.prefix(500), as: UTF8.self)
        return DockerEngineError(status: status, message: message)
    }
}

/// One client for every engine the process talks to. Followed logs stay open for as long as the
/// app runs, so there is no read timeout (the shared client's 90 s would cut quiet streams);
/// each request has its own deadline for the answer's head instead.
private let engineHTTPClient = HTTPClient(
    eventLoopGroup: HTTPClient.defaultEventLoopGroup,
    configuration: .init(redirectConfiguration: .disallow, timeout: .init(connect: .seconds(10)),
                         decompression: .disabled))

typealias HTTPClientResponseBody = HTTPClientResponse.Body
