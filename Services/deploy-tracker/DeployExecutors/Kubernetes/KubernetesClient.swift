import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL

/// The API server over HTTP: bearer token, JSON bodies, and `Status` objects turned into
/// ``DeployFailure`` (`.executor`). Every answer outside the statuses a caller accepts is a failure.
final class KubernetesClient: Sendable {
    /// The content types of the three PATCH flavours the API server takes.
    enum PatchType: String, Sendable {
        case strategicMerge = "application/strategic-merge-patch+json"
        case merge = "application/merge-patch+json"
        case json = "application/json-patch+json"
    }

    struct Reply: Sendable {
        var status: Int
        var body: Data
    }

    let configuration: KubernetesExecutor.Configuration
    private let http: HTTPClient
    /// One request's limit; log streams have none.
    private let requestTimeout: TimeAmount = .seconds(30)

    init(_ configuration: KubernetesExecutor.Configuration) throws {
        self.configuration = configuration
        var tls = TLSConfiguration.makeClientConfiguration()
        if let caFile = configuration.caFile {
            do {
                tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile))
            } catch {
                throw KubernetesExecutor.ConfigurationError("KUBERNETES_CA_FILE is not a readable PEM certificate")
            }
        }
        http = HTTPClient(eventLoopGroupProvider: .singleton,
                          configuration: .init(tlsConfiguration: tls, redirectConfiguration: .disallow))
    }

    func shutdown() async throws {
        try await http.shutdown()
    }

    /// Sends one request; returns the reply when its status is in `accept`, throws otherwise.
    @discardableResult
    func send(_ method: HTTPMethod, _ path: String, body: Data? = nil, contentType: String = "application/json",
              accept: Set<Int> = [200, 201]) async throws -> Reply {
        let request = try await makeRequest(method, path, body: body, contentType: contentType)
        let response: HTTPClientResponse
        let data: Data
        do {
            response = try await http.execute(request, timeout: requestTimeout)
            data = Data((try await response.body.collect(upTo: 16 << 20)).readableBytesView)
        } catch {
            // AsyncHTTPClient reports a cancelled task as its own error; callers look for CancellationError.
            if error is CancellationError || Task.isCancelled { throw CancellationError() }
            throw DeployFailure(.executor, "Kubernetes API at \(configuration.apiURL) unreachable: \(error)")
        }
        let status = Int(response.status.code)
        guard accept.contains(status) else { throw Self.failure(status: status, body: data, method: method, path: path) }
        return Reply(status: status, body: data)
    }

    /// Sends `value` as JSON.
    @discardableResult
    func send<Body: Encodable>(_ method: HTTPMethod, _ path: String, json value: Body,
                               contentType: String = "application/json", accept: Set<Int> = [200, 201])
        async throws -> Reply {
        try await send(method, path, body: try Self.encoder.encode(value), contentType: contentType, accept: accept)
    }

    func get<T: Decodable>(_ type: T.Type, _ path: String) async throws -> T {
        try decode(type, from: try await send(.GET, path).body)
    }

    @discardableResult
    func patch(_ path: String, _ patch: some Encodable, type: PatchType) async throws -> Reply {
        try await send(.PATCH, path, json: patch, contentType: type.rawValue, accept: [200])
    }

    func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch {
            throw DeployFailure(.executor, "unexpected answer from the Kubernetes API: \(error)")
        }
    }

    /// Streams a response body line by line until the server closes it or the task is cancelled.
    func streamLines(_ path: String, _ line: @Sendable (String) async -> Void) async throws {
        let request = try await makeRequest(.GET, path, body: nil, contentType: "application/json")
        let response: HTTPClientResponse
        do {
            response = try await http.execute(request, deadline: .distantFuture)
        } catch {
            if error is CancellationError || Task.isCancelled { throw CancellationError() }
            throw DeployFailure(.executor, "Kubernetes API at \(configuration.apiURL) unreachable: \(error)")
        }
        guard response.status.code == 200 else {
            let data = Data(((try? await response.body.collect(upTo: 1 << 20)) ?? ByteBuffer()).readableBytesView)
            throw Self.failure(status: Int(response.status.code), body: data, method: .GET, path: path)
        }
        var pending = Data()
        for try await chunk in response.body {
            pending.append(contentsOf: chunk.readableBytesView)
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                await line(String(decoding: pending[pending.startIndex..<newline], as: UTF8.self))
                pending.removeSubrange(pending.startIndex...newline)
            }
        }
        if !pending.isEmpty { await line(String(decoding: pending, as: UTF8.self)) }
    }

    private func makeRequest(_ method: HTTPMethod, _ path: String, body: Data?, contentType: String)
        async throws -> HTTPClientRequest {
        var request = HTTPClientRequest(url: configuration.apiURL + path)
        request.method = method
        request.headers.add(name: "Accept", value: "application/json")
        if let token = try bearerToken() { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let body {
            request.headers.add(name: "Content-Type", value: contentType)
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        return request
    }

    private func bearerToken() throws -> String? {
        switch configuration.token {
        case .none: return nil
        case .value(let token): return token
        case .file(let path):
            guard let data = FileManager.default.contents(atPath: path) else {
                throw DeployFailure(.executor, "the Kubernetes token file \(path) cannot be read")
            }
            return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }

    /// The API server's `Status` object, or the bare status when the body is something else.
    static func failure(status: Int, body: Data, method: HTTPMethod, path: String) -> DeployFailure {
        let pathOnly = path.split(separator: "?", maxSplits: 1).first.map(String.init) ?? path
        if let object = try? JSONDecoder().decode(KubeStatus.self, from: body), object.kind == "Status" {
            let reason = object.reason.map { " (\($0))" } ?? ""
            return DeployFailure(.executor, "\(method.rawValue) \(pathOnly): \(object.code ?? status)\(reason): "
                                 + (object.message ?? "no message"))
        }
        return DeployFailure(.executor, "\(method.rawValue) \(pathOnly): HTTP \(status)")
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()
}

/// `meta/v1` Status: what the API server answers on failure.
struct KubeStatus: Codable, Sendable {
    var kind: String?
    var status: String?
    var message: String?
    var reason: String?
    var code: Int?
}
