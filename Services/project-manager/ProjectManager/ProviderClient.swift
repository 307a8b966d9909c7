import AsyncHTTPClient
import FlukeModels
import FlukeRuntime
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// Calls to GitHub and Coder on a tenant's behalf: each URL checked by the outbound policy and
/// fetched from the address it checked (no redirects), answers bounded in size and time.
struct ProviderClient: Sendable {
    let policy: OutboundURLPolicy
    var timeout: Duration = .seconds(10)
    static let maxBytes = 1 << 20
    static let userAgent = "FlukeBase-Fleet/1 (project-manager)"

    struct Answer: Sendable {
        var status: Int
        var json: JSONValue?
        var headers: HTTPHeaders
    }

    /// Why a call could not be made or read; the URL's refusal names itself.
    struct Failure: Error, Sendable {
        var reason: String
        /// The URL itself was refused by the policy (not the provider's answer).
        var refused = false
    }

    func get(_ url: String, headers: [(String, String)]) async throws(Failure) -> Answer {
        try await send(.GET, url, headers: headers, body: nil)
    }

    /// POSTs `body` as JSON.
    func post(_ url: String, headers: [(String, String)], json body: JSONValue) async throws(Failure) -> Answer {
        try await send(.POST, url, headers: headers + [("Content-Type", "application/json")], body: Data(body.jsonText.utf8))
    }

    /// POSTs `fields` as `application/x-www-form-urlencoded`, as OAuth token endpoints take them.
    func postForm(_ url: String, headers: [(String, String)], fields: [(String, String)]) async throws(Failure) -> Answer {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let body = fields.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")" }.joined(separator: "&")
        return try await send(.POST, url, headers: headers + [("Content-Type", "application/x-www-form-urlencoded")], body: Data(body.utf8))
    }

    func send(_ method: HTTPMethod, _ url: String, headers: [(String, String)], body: Data?) async throws(Failure) -> Answer {
        let host: String, address: String
        do {
            let checked = try await policy.checkedAddresses(url, threadPool: .singleton)
            (host, address) = (checked.host, checked.addresses[0])
        } catch let error as URLPolicyError {
            throw Failure(reason: error.reason, refused: true)
        } catch {
            throw Failure(reason: "\(error)", refused: true)
        }
        let client = OutboundURLPolicy.pinnedClient(host: host, address: address, connectTimeout: .seconds(5), readTimeout: timeout)
        let answer: Result<Answer, Failure>
        do {
            var request = HTTPClientRequest(url: url)
            request.method = method
            if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
            request.headers.add(name: "User-Agent", value: Self.userAgent)
            for (name, value) in headers { request.headers.add(name: name, value: value) }
            let response = try await client.execute(request, timeout: .nanoseconds(timeout.nanosecondsValue))
            let body = try await response.body.collect(upTo: Self.maxBytes)
            let json = body.readableBytes == 0 ? nil : try? JSONValue(parsing: Data(buffer: body))
            answer = .success(Answer(status: Int(response.status.code), json: json, headers: response.headers))
        } catch {
            answer = .failure(Failure(reason: "did not answer: \(error)"))
        }
        try? await client.shutdown()
        return try answer.get()
    }
}
