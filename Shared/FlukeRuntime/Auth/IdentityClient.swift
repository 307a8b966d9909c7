import FlukeCrypto
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
            if let revoked = try? FleetJSON.decoder.decode(CloudEvent.self, from: Data(message.payload))
                .payload(as: TokenRevokedPayload.self) {
                cache.revoke(tokenID: revoked.tokenID)
            } else {
                logger.warning("ignoring a malformed token.revoked event")
            }
        }
    }

    public func cancel() { subscription.cancel() }
}

/// The settings of services that accept bearer tokens.
public struct AuthConfig: Sendable {
    /// `FLUKE_JWT_PUBLIC_KEYS`: keys that access tokens are checked against, by `kid`.
    public var publicKeys: [String: Ed25519PublicKey]
    /// `FLUKE_JWKS_URL`: where project-manager publishes its keys.
    public var jwksURL: String?
    public var cacheTTL: Duration
    public var verifyTimeout: Duration

    public static let variables: [ConfigVariable] = [
        ConfigVariable("FLUKE_JWT_PUBLIC_KEYS", default: "",
                       "Ed25519 public keys that verify access tokens: <kid>:<base64 of 32 bytes>, comma-separated (this or FLUKE_JWKS_URL)"),
        ConfigVariable("FLUKE_JWKS_URL", default: "",
                       "project-manager's key set (http(s)://…/.well-known/jwks.json), fetched and cached (this or FLUKE_JWT_PUBLIC_KEYS)"),
        ConfigVariable("FLUKE_IDENTITY_CACHE_TTL", default: "30",
                       "seconds a verified fbk_ token is cached (at most 30; token.revoked clears it at once)"),
        ConfigVariable("FLUKE_IDENTITY_TIMEOUT", default: "2", "seconds to wait for fluke.rpc.identity.verify"),
    ]

    /// `requireKeys`: false for project-manager, which verifies with its own signing keys.
    public init(reader: ConfigReader, requireKeys: Bool = true) throws {
        publicKeys = [:]
        if let raw = reader.optionalString("FLUKE_JWT_PUBLIC_KEYS") {
            for entry in try KeyListParser.parse(raw, variable: "FLUKE_JWT_PUBLIC_KEYS", bytes: 32) {
                do {
                    publicKeys[entry.id] = try Ed25519PublicKey(raw: entry.key)
                } catch {
                    throw ConfigError("FLUKE_JWT_PUBLIC_KEYS", "key \(entry.id) is not an Ed25519 public key")
                }
            }
        }
        jwksURL = reader.optionalString("FLUKE_JWKS_URL")
        if let url = jwksURL {
            guard let parsed = URLComponents(string: url), ["http", "https"].contains(parsed.scheme ?? ""),
                  parsed.host?.isEmpty == false else {
                throw ConfigError("FLUKE_JWKS_URL", "must be an http:// or https:// URL")
            }
        }
        if requireKeys && publicKeys.isEmpty && jwksURL == nil {
            throw ConfigError("FLUKE_JWT_PUBLIC_KEYS", "or FLUKE_JWKS_URL is required (access tokens cannot be verified without keys)")
        }
        cacheTTL = try reader.seconds("FLUKE_IDENTITY_CACHE_TTL")
        guard cacheTTL <= .seconds(30) else { throw ConfigError("FLUKE_IDENTITY_CACHE_TTL", "must be at most 30") }
        verifyTimeout = try reader.seconds("FLUKE_IDENTITY_TIMEOUT", minimum: 0.01)
    }

    /// Where this service finds token keys: the configured ones and the key set URL.
    public func keySource(logger: Logger) -> JWTKeySource {
        JWTKeySource(keys: publicKeys, jwksURL: jwksURL, logger: logger)
    }

    /// How a service other than project-manager accepts the fleet's tokens: access tokens checked
    /// against the keys, `fbk_` tokens through the returned identity client, which must run among
    /// the service's workers (it listens for `token.revoked` to drop cached answers at once).
    public func authentication(nats: NATSClient, logger: Logger) -> (identity: IdentityClient, authenticator: Authenticator) {
        let identity = IdentityClient(nats: nats, cache: TokenCache(ttl: cacheTTL), timeout: verifyTimeout, logger: logger)
        return (identity, Authenticator(keys: keySource(logger: logger), resolver: identity))
    }
}
