import FlukeModels
import FlukeNATS
import Foundation
import Logging
import ServiceLifecycle

/// Every service's way to verify `fbk_` tokens: asks project-manager over
/// `fluke.rpc.identity.verify` and caches answers in a ``TokenCache`` that `token.revoked` events
/// clear at once.
///
/// Run it as a `Service`: it listens for revocations while the service runs.
public final class IdentityClient: APITokenResolver, Service, Sendable {
    let nats: NATSClient
    public let cache: TokenCache
    let timeout: Duration
    let logger: Logger

    public init(nats: NATSClient, cache: TokenCache = TokenCache(), timeout: Duration = .seconds(2), logger: Logger) {
        self.nats = nats
        self.cache = cache
        self.timeout = timeout
        self.logger = logger
    }

    public func cached(apiToken: String) -> IdentityRPC.Reply? {
        cache.get(TokenCache.key(for: apiToken), generation: nats.generation)
    }

    public func resolve(apiToken: String) async throws -> IdentityRPC.Reply {
        let key = TokenCache.key(for: apiToken)
        let generation = nats.generation
        if let hit = cache.get(key, generation: generation) { return hit }
        let reply: IdentityRPC.Reply
        do {
            let message = try await nats.request(IdentityRPC.verifySubject,
                                                 payload: try FleetJSON.encoder.encode(IdentityRPC.Request(token: apiToken)),
                                                 timeout: timeout)
            guard message.headers[IdentityRPC.errorHeader] == nil else { throw AuthError.identityUnavailable }
            reply = try FleetJSON.decode(IdentityRPC.Reply.self, from: message.payload)
        } catch {
            logger.warning("identity verification unavailable", metadata: ["error": "\(error)"])
            throw AuthError.identityUnavailable
        }
        cache.put(key, reply, generation: generation)
        return reply
    }

    /// Listens for `token.revoked` until shutdown.
    public func run() async throws {
        let revocations = try RevocationListener(nats: nats, cache: cache, logger: logger)
        try? await gracefulShutdown()
        revocations.cancel()
    }
}

/// Removes revoked tokens from a cache as soon as `token.revoked` is published (core NATS: the
/// event reaches every replica; a replica that was disconnected meanwhile drops its whole cache
/// through the generation check instead).
public struct RevocationListener: Sendable {
    let subscription: NATSHandlerSubscription

    public init(nats: NATSClient, cache: TokenCache, logger: Logger) throws {
        subscription = try nats.subscribe(EventType.tokenRevoked.subject) { message in
            struct Revoked: Decodable {
                struct Data: Decodable { var token_id: UUID }
                var data: Data
            }
            let data = Data(message.payload)
            if let event = try? JSONDecoder().decode(Revoked.self, from: data) {
                cache.revoke(tokenID: event.data.token_id)
            } else {
                logger.warning("ignoring a malformed token.revoked event")
            }
        }
    }

    public func cancel() { subscription.cancel() }
}

/// The settings of services that accept bearer tokens.
public struct AuthConfig: Sendable {
    public var jwtSecret: String
    public var cacheTTL: Duration
    public var verifyTimeout: Duration

    public static let variables: [ConfigVariable] = [
        ConfigVariable("FLUKE_JWT_SECRET", default: nil,
                       "shared secret (≥ 32 bytes) that signs and verifies access tokens (HS256)", secret: true),
        ConfigVariable("FLUKE_IDENTITY_CACHE_TTL", default: "30",
                       "seconds a verified fbk_ token is cached (at most 30; token.revoked clears it at once)"),
        ConfigVariable("FLUKE_IDENTITY_TIMEOUT", default: "2", "seconds to wait for fluke.rpc.identity.verify"),
    ]

    public init(reader: ConfigReader) throws {
        jwtSecret = try reader.string("FLUKE_JWT_SECRET")
        guard jwtSecret.utf8.count >= 32 else {
            throw ConfigError("FLUKE_JWT_SECRET", "must be at least 32 bytes")
        }
        cacheTTL = try reader.seconds("FLUKE_IDENTITY_CACHE_TTL")
        guard cacheTTL <= .seconds(30) else { throw ConfigError("FLUKE_IDENTITY_CACHE_TTL", "must be at most 30") }
        verifyTimeout = try reader.seconds("FLUKE_IDENTITY_TIMEOUT", minimum: 0.01)
    }
}
