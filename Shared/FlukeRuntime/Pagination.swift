import FlukeCrypto
import FlukeModels
import Foundation
import Hummingbird

/// The fleet's list conventions: `?limit=` (1–100, default 50) and an opaque `?cursor=`.
public enum Pagination {
    public static let maximumLimit = 100
    public static let defaultLimit = 50

    /// Parses `?limit=`; 422 naming `limit` when it is not 1…100.
    public static func limit(_ raw: String?) throws -> Int {
        guard let raw else { return defaultLimit }
        guard let value = Int(raw), (1...maximumLimit).contains(value) else {
            throw Problem.invalid("limit", "must be an integer from 1 to \(maximumLimit)")
        }
        return value
    }

    /// An opaque cursor for a sort key (base64url).
    public static func cursor(_ key: String) -> String {
        Base64URL.encode(Data(key.utf8))
    }

    /// The sort key inside a cursor; 422 naming `cursor` when it is not one of ours.
    public static func decodeCursor(_ raw: String?) throws -> String? {
        guard let raw else { return nil }
        guard raw.count <= 512, let data = Base64URL.decode(raw, allowingPadding: true),
              let key = String(data: data, encoding: .utf8),
              !key.isEmpty else {
            throw Problem.invalid("cursor", "is not a cursor returned by this API")
        }
        return key
    }
}

/// Every service returns lists as ``Page``.
extension Page: ResponseEncodable {}

extension Pagination {
    /// `?limit=` and a cursor (named `name`) holding a row sequence number: what lists ordered by
    /// an identity column page with. 422 naming the parameter when the cursor is not one of ours.
    public static func sequence(_ request: Request, cursor name: String = "cursor") throws -> (after: Int?, limit: Int) {
        let query = request.uri.queryParameters
        let limit = try limit(query["limit"].map(String.init))
        guard let raw = query[Substring(name)].map(String.init) else { return (nil, limit) }
        guard let key = (try? decodeCursor(raw)) ?? nil, let after = Int(key), after >= 0 else {
            throw Problem.invalid(name, "is not a cursor returned by this API")
        }
        return (after, limit)
    }
}

extension Page {
    /// A page of `limit` rows whose last row has sequence `last`: a next cursor exactly when the
    /// page is full (the next page may then be empty).
    public init(items: [Item], lastSequence last: Int?, limit: Int) {
        self.init(items: items, nextCursor: items.count == limit ? last.map { Pagination.cursor(String($0)) } : nil)
    }
}

extension Response {
    /// The same response with another status (201 for a create, say).
    public func withStatus(_ status: HTTPResponse.Status) -> Response {
        var response = self
        response.status = status
        return response
    }
}
