import FlukeCrypto
import FlukeRuntime
import Hummingbird
import HTTPTypes

/// The keys accepted in `X-API-Key`, compared in constant time.
struct APIKeySet: Sendable {
    /// The keys' SHA-256 digests: compared with a presented key's, every comparison takes the same
    /// time whatever the keys' and the guess's lengths.
    private let digests: [[UInt8]]

    init(_ keys: [String]) { digests = keys.map { Crypto.sha256(Array($0.utf8)) } }

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
        let candidate = Crypto.sha256(Array(presented.utf8))
        var found = false
        for digest in digests where Crypto.constantTimeEquals(digest, candidate) { found = true }
        return found
    }
}

extension HTTPField.Name {
    static let apiKey = Self("X-API-Key")!
}
