import AsyncHTTPClient
import FlukeCrypto
import Foundation
import Logging
import NIOCore
import Synchronization

/// The public keys that access tokens are checked against: the ones configured
/// (`FLUKE_JWT_PUBLIC_KEYS`, or project-manager's own) plus, with `FLUKE_JWKS_URL`, the ones
/// project-manager publishes at `/.well-known/jwks.json`.
///
/// The key set is fetched when a token names a `kid` not yet known (a rotation) and when the last
/// fetch is older than `maxAge`, never more often than `minimumInterval`: made-up `kid`s cannot
/// turn into a flood of fetches. A key once fetched stays until a later fetch no longer lists it,
/// so tokens signed with a retired key keep working while project-manager still publishes it.
public final class JWTKeySource: Sendable {
    let configured: [String: Ed25519PublicKey]
    let jwksURL: String?
    let minimumInterval: Duration
    let maxAge: Duration
    let logger: Logger
    private struct Fetched {
        var keys: [String: Ed25519PublicKey] = [:]
        var lastAttempt: ContinuousClock.Instant?
        var lastSuccess: ContinuousClock.Instant?
    }
    private let fetched = Mutex(Fetched())
    /// One fetch at a time; others wait for its result.
    private let inFlight = Mutex<Task<Void, Never>?>(nil)

    public init(keys: [String: Ed25519PublicKey], jwksURL: String? = nil, minimumInterval: Duration = .seconds(5),
                maxAge: Duration = .seconds(300), logger: Logger = Logger(label: "jwks")) {
        configured = keys
        self.jwksURL = jwksURL
        self.minimumInterval = minimumInterval
        self.maxAge = maxAge
        self.logger = logger
    }

    /// A verifier over every key known now.
    public var verifier: JWTVerifier {
        JWTVerifier(keys: fetched.withLock { $0.keys }.merging(configured) { _, configured in configured })
    }

    /// Whether a fetch may find keys that are not known yet.
    var canFetch: Bool { jwksURL != nil }

    /// Whether the fetched set is older than `maxAge` (or was never fetched).
    var isStale: Bool {
        guard canFetch else { return false }
        return fetched.withLock { fetch in fetch.lastSuccess.map { ContinuousClock.now - $0 > maxAge } ?? true }
    }

    /// Fetches the key set unless a fetch was tried within `minimumInterval`. Failures are logged
    /// and leave the known keys as they are.
    func refresh() async {
        guard let jwksURL else { return }
        let task: Task<Void, Never>? = inFlight.withLock { current in
            if let current { return current }
            let due = fetched.withLock { fetch in
                guard let last = fetch.lastAttempt, ContinuousClock.now - last < minimumInterval else {
                    fetch.lastAttempt = .now
                    return true
                }
                return false
            }
            guard due else { return nil }
            let task = Task { [self] in
                await fetch(jwksURL)
                inFlight.withLock { $0 = nil }
            }
            current = task
            return task
        }
        await task?.value
    }

    private func fetch(_ url: String) async {
        do {
            var request = HTTPClientRequest(url: url)
            request.headers.add(name: "Accept", value: "application/json")
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(3))
            guard response.status == .ok else {
                logger.warning("JWKS fetch failed", metadata: ["url": "\(url)", "status": "\(response.status.code)"])
                return
            }
            let body = try await response.body.collect(upTo: 64 * 1024)
            let set = try JSONDecoder().decode(JWKSet.self, from: Data(buffer: body))
            let keys = set.ed25519Keys
            fetched.withLock { fetch in
                fetch.keys = keys
                fetch.lastSuccess = .now
            }
            logger.debug("JWKS fetched", metadata: ["keys": "\(keys.keys.sorted())"])
        } catch {
            logger.warning("JWKS fetch failed", metadata: ["url": "\(url)", "error": "\(error)"])
        }
    }
}

/// `<kid>:<base64 of N bytes>` entries, comma-separated: how key lists are configured.
public enum KeyListParser {
    /// The entries in order; the first is the one that signs or encrypts, where that matters.
    public static func parse(_ raw: String, variable: String, bytes: Int) throws -> [(id: String, key: [UInt8])] {
        var entries: [(id: String, key: [UInt8])] = []
        for part in raw.split(separator: ",") {
            let item = part.trimmingCharacters(in: .whitespaces)
            guard let colon = item.firstIndex(of: ":") else {
                throw ConfigError(variable, "entries must be <key id>:<base64 of \(bytes) bytes>")
            }
            let id = String(item[..<colon])
            let encoded = item[item.index(after: colon)...]
            guard JWTKeyID.isValid(id) else { throw ConfigError(variable, "key id \"\(id)\" must be 1–64 of A–Z a–z 0–9 . _ -") }
            guard let data = Data(base64Encoded: String(encoded)) ?? Base64URL.decode(encoded), data.count == bytes else {
                throw ConfigError(variable, "key \(id) must be base64 of exactly \(bytes) bytes")
            }
            guard !entries.contains(where: { $0.id == id }) else { throw ConfigError(variable, "key id \(id) appears twice") }
            entries.append((id, Array(data)))
        }
        guard !entries.isEmpty else { throw ConfigError(variable, "must name at least one key") }
        return entries
    }
}
