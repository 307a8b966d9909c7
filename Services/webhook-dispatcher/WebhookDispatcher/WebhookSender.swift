import AsyncHTTPClient
import FlukeCrypto
import FlukeModels
import FlukeRuntime
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// Makes one attempt of a delivery: checks the callback URL again, resolves its host and checks
/// every address, then connects to the address it checked (not to whatever DNS says a moment
/// later), signs, POSTs, and reads at most 16 KiB of the answer. Redirects are not followed.
///
/// Connections are pooled per (host, checked address): an `HTTPClient` whose DNS override pins
/// the host to that address, while TLS still verifies the certificate for the host name.
final class WebhookSender: Sendable {
    static let maxLoggedBody = 16_384
    static let userAgent = "FlukeBase-Webhooks/1.0"
    let policy: OutboundURLPolicy
    let settings: DeliverySettings
    let threadPool: NIOThreadPool
    let logger: Logger
    private let clients = Mutex<[String: (client: HTTPClient, lastUsed: ContinuousClock.Instant)]>([:])
    private let resolved = Mutex<[String: (addresses: [String], at: ContinuousClock.Instant)]>([:])
    /// How long a host's checked addresses are reused (the connection goes to a checked address
    /// either way; this only bounds how stale the choice may be).
    static let resolutionTTL: Duration = .seconds(30)
    static let maxClients = 512

    init(policy: OutboundURLPolicy, settings: DeliverySettings, logger: Logger) {
        self.policy = policy
        self.settings = settings
        self.logger = logger
        threadPool = NIOThreadPool(numberOfThreads: 2)
        threadPool.start()
    }

    func shutdown() async {
        let all = clients.withLock { c in defer { c.removeAll() }; return c.values.map(\.client) }
        for client in all { try? await client.shutdown() }
        try? await threadPool.shutdownGracefully()
    }

    /// Signs and sends one delivery; never throws (failures are outcomes).
    func send(_ delivery: DeliveryQueue.Claimed, keys: [[UInt8]]) async -> DeliveryQueue.Outcome {
        let startedAt = Date()
        let start = ContinuousClock.now
        func failed(_ error: String) -> DeliveryQueue.Outcome {
            DeliveryQueue.Outcome(delivery: delivery, startedAt: startedAt, duration: .now - start, error: error)
        }
        let target: (host: String, address: String, url: String)
        do {
            target = try await checkedAddress(delivery.callbackURL)
        } catch let error as URLPolicyError {
            return failed("refused: the callback URL \(error.reason)")
        } catch {
            return failed("refused: \(error)")
        }
        let timestamp = Int(Date().timeIntervalSince1970)
        let body = Array(delivery.body.utf8)
        let webhookID = delivery.eventID.lowercased
        var request = HTTPClientRequest(url: target.url)
        request.method = .POST
        for (name, value) in delivery.headers { request.headers.add(name: name, value: value) }
        request.headers.replaceOrAdd(name: "content-type", value: "application/json")
        request.headers.replaceOrAdd(name: "user-agent", value: Self.userAgent)
        request.headers.replaceOrAdd(name: "webhook-id", value: webhookID)
        request.headers.replaceOrAdd(name: "webhook-timestamp", value: String(timestamp))
        request.headers.replaceOrAdd(name: "webhook-signature",
                                     value: StandardWebhooks.signatureHeader(id: webhookID, timestamp: timestamp, body: body, keys: keys))
        request.body = .bytes(ByteBuffer(bytes: body))
        let client = client(host: target.host, address: target.address)
        do {
            let response = try await client.execute(request, timeout: .nanoseconds(settings.requestTimeout.nanosecondsValue))
            var collected = ByteBuffer()
            for try await var chunk in response.body {
                let room = Self.maxLoggedBody - collected.readableBytes
                if room <= 0 { break }
                if let slice = chunk.readSlice(length: min(room, chunk.readableBytes)) {
                    var s = slice
                    collected.writeBuffer(&s)
                }
                if collected.readableBytes >= Self.maxLoggedBody { break }
            }
            var headers: [String: String] = [:]
            for h in response.headers.prefix(64) {
                let name = Self.storable(h.name.lowercased())
                let value = Self.storable(h.value)
                headers[name] = headers[name].map { $0 + ", " + value } ?? value
            }
            let status = Int(response.status.code)
            return DeliveryQueue.Outcome(
                delivery: delivery, startedAt: startedAt, duration: .now - start, statusCode: status,
                responseHeaders: headers, responseBody: Self.storable(String(decoding: collected.readableBytesView, as: UTF8.self)),
                error: (200..<300).contains(status) ? nil : Self.failureText(status),
                retryAfter: status == 429 || status == 503 ? Self.retryAfter(response.headers.first(name: "retry-after")) : nil)
        } catch {
            return failed(Self.describe(error))
        }
    }

    /// The receiver's text as Postgres can keep it: a NUL (which text and jsonb cannot hold) would
    /// make the attempt log refuse the whole batch of outcomes, so it becomes U+FFFD.
    static func storable(_ text: String) -> String {
        text.utf8.contains(0) ? text.replacingOccurrences(of: "\u{0}", with: "\u{FFFD}") : text
    }

    static func failureText(_ status: Int) -> String {
        (300..<400).contains(status) ? "answered \(status) (redirects are not followed)" : "answered \(status)"
    }

    static func describe(_ error: any Error) -> String {
        if let e = error as? HTTPClientError {
            switch e {
            case .connectTimeout: return "connect timeout"
            case .deadlineExceeded: return "timed out"
            case .readTimeout: return "read timeout"
            case .remoteConnectionClosed: return "the connection was closed"
            default: return "\(e)"
            }
        }
        if let e = error as? NIOConnectionError { return "could not connect: \(e.connectionErrors.first.map { "\($0.error)" } ?? "\(e)")" }
        return String(describing: error)
    }

    /// `Retry-After` as seconds or an HTTP date.
    static func retryAfter(_ raw: String?) -> Duration? {
        guard let raw = raw?.trimmingCharacters(in: .whitespaces), !raw.isEmpty else { return nil }
        if let seconds = Int(raw), seconds >= 0 { return .seconds(seconds) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: raw) else { return nil }
        return .milliseconds(max(0, Int64(date.timeIntervalSinceNow * 1000)))
    }

    /// The host and one address of it that the policy accepts (all its addresses must pass), and
    /// the URL with the host as checked (lower-cased), which is what the DNS pin applies to.
    func checkedAddress(_ url: String) async throws -> (host: String, address: String, url: String) {
        let (_, host, _, normalised) = try policy.check(url)
        let now = ContinuousClock.now
        if let hit = resolved.withLock({ $0[host] }), now - hit.at < Self.resolutionTTL, let first = hit.addresses.first {
            return (host, first, normalised)
        }
        let ordered = try await policy.checkedAddresses(url, threadPool: threadPool).addresses
        resolved.withLock { cache in
            if cache.count > 10_000 { cache.removeAll() }
            cache[host] = (ordered, now)
        }
        guard let first = ordered.first else { throw URLPolicyError(reason: "has a host that does not resolve") }
        return (host, first, normalised)
    }

    private func client(host: String, address: String) -> HTTPClient {
        let key = host + "|" + address
        let now = ContinuousClock.now
        var evicted: [HTTPClient] = []
        let client = clients.withLock { c -> HTTPClient in
            if var hit = c[key] {
                hit.lastUsed = now
                c[key] = hit
                return hit.client
            }
            let made = OutboundURLPolicy.pinnedClient(host: host, address: address, connectTimeout: settings.connectTimeout,
                                                      readTimeout: settings.requestTimeout,
                                                      connectionsPerHost: settings.concurrency)
            if c.count >= Self.maxClients, let oldest = c.min(by: { $0.value.lastUsed < $1.value.lastUsed }) {
                evicted.append(oldest.value.client)
                c.removeValue(forKey: oldest.key)
            }
            c[key] = (made, now)
            return made
        }
        for old in evicted {
            // Let its requests finish before closing its connections.
            Task { try? await Task.sleep(for: self.settings.requestTimeout); try? await old.shutdown() }
        }
        return client
    }
}
