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
        Data(key.utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// The sort key inside a cursor; 422 naming `cursor` when it is not one of ours.
    public static func decodeCursor(_ raw: String?) throws -> String? {
        guard let raw else { return nil }
        var base64 = raw.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        guard raw.count <= 512, let data = Data(base64Encoded: base64), let key = String(data: data, encoding: .utf8),
              !key.isEmpty else {
            throw Problem.invalid("cursor", "is not a cursor returned by this API")
        }
        return key
    }
}

/// Every service returns lists as ``Page``.
extension Page: ResponseEncodable {}
