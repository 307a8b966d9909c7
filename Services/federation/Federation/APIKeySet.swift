import FlukeRuntime
import Hummingbird
import HTTPTypes

/// The keys accepted in `X-API-Key`, compared in constant time.
struct APIKeySet: Sendable {
    private let keys: [[UInt8]]

    init(_ keys: [String]) { self.keys = keys.map { Array($0.utf8) } }

    /// Throws 401 unless the request carries one of the keys.
    func authorize(_ request: Request) throws {
        guard let presented = request.headers[.apiKey], matches(presented) else {
            throw Problem(.unauthorized, detail: "send a valid key in the X-API-Key header", field: "X-API-Key",
                          headers: [.wwwAuthenticate: "APIKey header=\"X-API-Key\""])
        }
    }

    /// Checks every key, and every byte of each, whatever matches: the time taken says nothing
    /// about how close a guess was.
    func matches(_ presented: String) -> Bool {
        let candidate = Array(presented.utf8)
        var found: UInt8 = 0
        for key in keys {
            var diff: UInt8 = key.count == candidate.count ? 0 : 1
            for i in 0..<key.count {
                diff |= key[i] ^ (i < candidate.count ? candidate[i] : 0)
            }
            found |= (diff == 0 ? 1 : 0)
        }
        return found == 1
    }
}

extension HTTPField.Name {
    static let apiKey = Self("X-API-Key")!
}
