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
    let tokens: APITokenService
    let authenticator: Authenticator
    let logger: Logger
    let served: Counter
    let misses: Counter

    init(nats: NATSClient, tokens: APITokenService, authenticator: Authenticator, registry: PrometheusCollectorRegistry,
         logger: Logger) {
        self.nats = nats
        self.tokens = tokens
        self.authenticator = authenticator
        self.logger = logger
        served = registry.makeCounter(name: "pm_identity_verifications_total")
        misses = registry.makeCounter(name: "pm_identity_cache_misses_total")
    }

    func run() async throws {
        let subscription = try nats.subscribe(IdentityRPC.verifySubject, queue: IdentityRPC.queueGroup) { [self] message in
            guard let reply = message.reply else { return }
            handle(Data(message.payload), reply: reply)
        }
        let revocations = try RevocationListener(nats: nats, cache: tokens.cache, logger: logger)
        try? await gracefulShutdown()
        subscription.cancel()
        revocations.cancel()
    }

    private func handle(_ payload: Data, reply: String) {
        served.increment()
        guard let request = try? JSONDecoder().decode(IdentityRPC.Request.self, from: payload) else {
            send(.invalid("the request must be {\"token\": \"...\"}"), to: reply)
            return
        }
        let token = request.token
        guard token.hasPrefix(APITokenFormat.prefix) else {
            send(authenticator.verifyJWT(token), to: reply)
            return
        }
        if let hit = tokens.cache.get(TokenCache.key(for: token), generation: nats.generation) {
            send(hit, to: reply)
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
