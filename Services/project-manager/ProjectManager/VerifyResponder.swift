import FlukeModels
import FlukeNATS
import FlukeRuntime
import Foundation
import Logging
import Prometheus
import ServiceLifecycle

/// Answers `fluke.rpc.identity.verify` for the whole fleet, in queue group `project-manager` so
/// replicas share the load.
///
/// JWTs and cached `fbk_` tokens are answered on libnats' delivery thread (no hop, no Postgres);
/// a cache miss is looked up in a task. When Postgres cannot be asked the reply carries the
/// header `Fluke-Error: unavailable`, so callers answer 503 instead of calling the token invalid.
final class VerifyResponder: Service, Sendable {
    let nats: NATSClient
    let tokens: APITokenStore
    let authenticator: Authenticator
    let logger: Logger
    let served: Counter
    let misses: Counter

    init(nats: NATSClient, tokens: APITokenStore, authenticator: Authenticator, registry: PrometheusCollectorRegistry,
         logger: Logger) {
        self.nats = nats
        self.tokens = tokens
        self.authenticator = authenticator
        self.logger = logger
        served = registry.makeCounter(name: "pm_identity_verifications_total")
        misses = registry.makeCounter(name: "pm_identity_cache_misses_total")
    }

    func run() async throws {
        // Two members of the queue group, each with its own libnats delivery thread, so one slow
        // request (a cache miss being parsed, a reply write) does not queue the others.
        let subscriptions = try (0..<2).map { _ in
            try nats.subscribe(IdentityRPC.verifySubject, queue: IdentityRPC.queueGroup) { [self] message in
                guard let reply = message.reply else { return }
                handle(Data(message.payload), reply: reply)
            }
        }
        let revocations = try RevocationListener(nats: nats, cache: tokens.cache, logger: logger)
        try? await gracefulShutdown()
        for subscription in subscriptions { subscription.cancel() }
        revocations.cancel()
    }

    private func handle(_ payload: Data, reply: String) {
        served.increment()
        guard let request = Self.parse(payload) else {
            sendNow(.invalid("the request must be {\"token\": \"...\"}"), to: reply)
            return
        }
        let token = request.token
        guard token.hasPrefix(APITokenFormat.prefix) else {
            sendNow(authenticator.verifyJWTWithKnownKeys(token), to: reply)
            return
        }
        if let hit = tokens.cache.getEncoded(TokenCache.key(for: token), generation: nats.generation,
                                             encode: { try? FleetJSON.encoder.encode($0) }) {
            if !nats.publishOnDeliveryThread(reply, payload: hit) { logger.warning("could not send an identity reply") }
            return
        }
        misses.increment()
        Task { [self] in
            do {
                send(try await tokens.resolve(apiToken: token), to: reply)
            } catch {
                logger.warning("identity lookup failed", metadata: ["error": "\(error)"])
                unavailable(reply)
            }
        }
    }

    /// `{"token":"…"}` read without a JSONDecoder when it is in that plain form (the hot path),
    /// and with one otherwise.
    static func parse(_ payload: Data) -> IdentityRPC.Request? {
        let prefix = Array(#"{"token":""#.utf8)
        let bytes = [UInt8](payload)
        if bytes.count > prefix.count + 2, bytes.starts(with: prefix), bytes[bytes.count - 1] == UInt8(ascii: "}"),
           bytes[bytes.count - 2] == UInt8(ascii: "\"") {
            let body = bytes[prefix.count..<(bytes.count - 2)]
            // Token characters never need escaping; anything else takes the general path.
            if body.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }) {
                return IdentityRPC.Request(token: String(decoding: body, as: UTF8.self))
            }
        }
        return try? JSONDecoder().decode(IdentityRPC.Request.self, from: payload)
    }

    /// Replies from libnats' delivery thread itself.
    private func sendNow(_ answer: IdentityRPC.Reply, to reply: String) {
        guard let data = try? FleetJSON.encoder.encode(answer), nats.publishOnDeliveryThread(reply, payload: data) else {
            logger.warning("could not send an identity reply")
            return
        }
    }

    /// Replies from a task (through the publisher thread).
    private func send(_ answer: IdentityRPC.Reply, to reply: String) {
        guard let data = try? FleetJSON.encoder.encode(answer), nats.publishNow(reply, payload: data) else {
            logger.warning("could not queue an identity reply")
            return
        }
    }

    private func unavailable(_ reply: String) {
        let data = (try? FleetJSON.encoder.encode(IdentityRPC.Reply.invalid("identity store unavailable"))) ?? Data()
        Task { try? await nats.publish(reply, payload: data, headers: [IdentityRPC.errorHeader: "unavailable"]) }
    }
}
