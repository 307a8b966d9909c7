import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Synchronization

/// GitHub's REST API as far as connections use it (`GET /user`), with its wire format: a
/// `Bearer` (or `token`) credential, `Bad credentials` 401s, the 403 GitHub gives a request
/// without `User-Agent`, rate-limit headers on every answer.
public final class FakeGitHub: Sendable {
    /// token → the `/user` answer for it (JSON).
    let users: [String: Data]
    private let seen = Mutex<[HTTPFields]>([])

    public init(users: [String: Data]) { self.users = users }

    public var requests: [HTTPFields] { seen.withLock { $0 } }

    /// Serves on a free port of 127.0.0.1 while `body` runs with its base URL.
    public func run<T: Sendable>(_ body: @escaping @Sendable (String) async throws -> T) async throws -> T {
        let router = Router()
        router.get("/user") { request, _ -> Response in
            self.seen.withLock { $0.append(request.headers) }
            var headers: HTTPFields = [.contentType: "application/json; charset=utf-8"]
            headers[HTTPField.Name("x-ratelimit-limit")!] = "5000"
            headers[HTTPField.Name("x-ratelimit-remaining")!] = "4999"
            headers[HTTPField.Name("x-ratelimit-reset")!] = String(Int(Date().timeIntervalSince1970) + 3600)
            guard request.headers[.userAgent] != nil else {
                return Self.json(.forbidden, headers, ["message": "Request forbidden by administrative rules. Please make sure your request has a User-Agent header (https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-required)."])
            }
            let auth = request.headers[.authorization] ?? ""
            let token = auth.hasPrefix("Bearer ") ? String(auth.dropFirst(7)) : auth.hasPrefix("token ") ? String(auth.dropFirst(6)) : ""
            guard let user = self.users[token] else {
                return Self.json(.unauthorized, headers, ["message": "Bad credentials", "documentation_url": "https://docs.github.com/rest",
                                                          "status": "401"])
            }
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: user)))
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)), logger: TestEnvironment.logger)
        return try await app.test(.live) { client in try await body("http://127.0.0.1:\(client.port!)") }
    }

    static func json(_ status: HTTPResponse.Status, _ headers: HTTPFields, _ object: [String: Any]) -> Response {
        Response(status: status, headers: headers,
                 body: .init(byteBuffer: ByteBuffer(bytes: try! JSONSerialization.data(withJSONObject: object))))
    }

    /// A `/user` answer as GitHub writes it (the fields connections read, and some they do not).
    public static func user(login: String, id: Int) -> Data {
        try! JSONSerialization.data(withJSONObject: ["login": login, "id": id, "node_id": "MDQ6VXNlcj\(id)", "name": "The \(login)", "type": "User",
         "html_url": "https://github.com/\(login)", "site_admin": false, "created_at": "2020-01-02T03:04:05Z"] as [String: Any])
    }
}

/// Coder's API as far as connections use it (`GET /api/v2/users/me` with `Coder-Session-Token`).
public final class FakeCoder: Sendable {
    let tokens: [String: String]   // token → username

    public init(tokens: [String: String]) { self.tokens = tokens }

    /// Serves on a free port of 127.0.0.1 while `body` runs with its base URL.
    public func run<T: Sendable>(_ body: @escaping @Sendable (String) async throws -> T) async throws -> T {
        let router = Router()
        router.get("/api/v2/users/me") { request, _ -> Response in
            let headers: HTTPFields = [.contentType: "application/json"]
            guard let token = request.headers[HTTPField.Name("Coder-Session-Token")!], let username = self.tokens[token] else {
                return FakeGitHub.json(.unauthorized, headers, [
                    "message": "You must be logged in to do that.",
                    "detail": "Ensure the Coder-Session-Token header or coder_session_token cookie is set."])
            }
            return FakeGitHub.json(.ok, headers, ["id": "8f0e4a1c-6a4e-4d4b-9b70-2a6c1f5d3e21", "username": username,
                                                  "email": "\(username)@example.com", "status": "active",
                                                  "created_at": "2024-05-06T07:08:09Z", "roles": [] as [Any]])
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)), logger: TestEnvironment.logger)
        return try await app.test(.live) { client in try await body("http://127.0.0.1:\(client.port!)") }
    }
}
