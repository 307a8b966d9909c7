import FlukeModels
import Foundation
import NIOHTTP1
import Synchronization

/// GitHub's REST API for a connection's token: lists followed page by page through the `Link`
/// header (`per_page=100`), each page revalidated with its `ETag` (a 304 costs no rate limit),
/// rate limits honoured rather than hammered.
struct GitHubAPI: Sendable {
    let providers: ProviderClient
    let baseURL: String
    let etags: ETagCache
    /// The most pages one listing follows (100 items each).
    static let maxPages = 10

    enum Failure: Error {
        /// GitHub refused the token (401): the connection is no longer valid.
        case unauthorized(String)
        /// Rate limited: try again after this many seconds.
        case rateLimited(Int)
        case notFound
        case failed(String)
    }

    /// Every item of `path` (at most ``maxPages`` pages), and whether more were left.
    /// `itemsKey` names the array in pages that are objects (`/installation/repositories`).
    func list(_ path: String, query: String = "", itemsKey: String? = nil, token: String, connection: UUID) async throws(Failure)
        -> (items: [JSONValue], truncated: Bool) {
        var url: String? = baseURL + path + "?per_page=100" + (query.isEmpty ? "" : "&" + query)
        var items: [JSONValue] = []
        var pages = 0
        while let next = url, pages < Self.maxPages {
            let page = try await get(next, token: token, connection: connection)
            guard case .array(let part) = itemsKey.map({ page.json[$0] ?? .null }) ?? page.json else {
                throw .failed("GitHub answered \(next) with what is not a list")
            }
            items += part
            pages += 1
            url = Self.nextLink(page.headers.first(name: "link"))
        }
        return (items, url != nil)
    }

    /// One object (`/repos/{owner}/{repo}`, …), revalidated with its `ETag` like a page.
    func object(_ path: String, token: String, connection: UUID) async throws(Failure) -> JSONValue {
        try await get(baseURL + path, token: token, connection: connection).json
    }

    private func get(_ url: String, token: String, connection: UUID) async throws(Failure) -> (json: JSONValue, headers: HTTPHeaders) {
        let key = "\(connection.lowercased) \(url)"
        let cached = etags.get(key)
        var headers = [("Authorization", "Bearer \(token)"), ("Accept", "application/vnd.github+json"),
                       ("X-GitHub-Api-Version", "2022-11-28")]
        if let cached { headers.append(("If-None-Match", cached.etag)) }
        let answer: ProviderClient.Answer
        do {
            answer = try await providers.get(url, headers: headers)
        } catch {
            throw .failed("GitHub \(error.reason)")
        }
        switch answer.status {
        case 304:
            guard let cached else { throw .failed("GitHub answered 304 to a request without If-None-Match") }
            return (cached.json, cached.headers)
        case 200:
            let json = answer.json ?? .null
            if let etag = answer.headers.first(name: "etag") { etags.put(key, ETagCache.Entry(etag: etag, json: json, headers: answer.headers)) }
            return (json, answer.headers)
        case 401:
            throw .unauthorized(answer.json?["message"]?.stringValue ?? "Bad credentials")
        case 429:
            throw .rateLimited(Self.retryAfter(answer.headers))
        case 403 where answer.headers.first(name: "retry-after") != nil || answer.headers.first(name: "x-ratelimit-remaining") == "0":
            throw .rateLimited(Self.retryAfter(answer.headers))
        case 403:
            throw .failed("GitHub refused \(url): \(answer.json?["message"]?.stringValue ?? "403")")
        case 404:
            throw .notFound
        default:
            throw .failed("GitHub answered \(answer.status) to \(url)")
        }
    }

    /// Seconds to wait: `retry-after` when given, else until `x-ratelimit-reset`, else a minute.
    static func retryAfter(_ headers: HTTPHeaders, now: Date = Date()) -> Int {
        if let seconds = headers.first(name: "retry-after").flatMap(Int.init) { return max(1, seconds) }
        if let reset = headers.first(name: "x-ratelimit-reset").flatMap(Double.init) {
            return max(1, Int((reset - now.timeIntervalSince1970).rounded(.up)))
        }
        return 60
    }

    /// The `rel="next"` URL of a `Link` header (RFC 8288), if any.
    static func nextLink(_ header: String?) -> String? {
        guard let header else { return nil }
        for part in header.split(separator: ",") {
            let fields = part.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            guard let target = fields.first, target.hasPrefix("<"), target.hasSuffix(">"),
                  fields.dropFirst().contains(where: { $0.replacingOccurrences(of: " ", with: "") == "rel=\"next\"" }) else { continue }
            return String(target.dropFirst().dropLast())
        }
        return nil
    }
}

/// Pages GitHub answered with an `ETag`, to ask again with `If-None-Match`: at most `limit`
/// entries, the least recently used first out.
final class ETagCache: Sendable {
    struct Entry: Sendable {
        var etag: String
        var json: JSONValue
        var headers: HTTPHeaders
    }

    let limit: Int
    private let state = Mutex<(entries: [String: (Entry, UInt64)], clock: UInt64)>(([:], 0))

    init(limit: Int = 512) { self.limit = limit }

    func get(_ key: String) -> Entry? {
        state.withLock { s in
            guard let (entry, _) = s.entries[key] else { return nil }
            s.clock += 1
            s.entries[key] = (entry, s.clock)
            return entry
        }
    }

    func put(_ key: String, _ entry: Entry) {
        state.withLock { s in
            s.clock += 1
            s.entries[key] = (entry, s.clock)
            if s.entries.count > limit, let oldest = s.entries.min(by: { $0.value.1 < $1.value.1 })?.key {
                s.entries[oldest] = nil
            }
        }
    }
}
