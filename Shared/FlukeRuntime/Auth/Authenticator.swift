import FlukeCrypto
import FlukeModels
import Foundation
import Hummingbird
import Synchronization

/// Resolves an `fbk_` API token to its identity: project-manager answers from Postgres, every
/// other service through ``IdentityClient`` (`fluke.rpc.identity.verify`).
public protocol APITokenResolver: Sendable {
    func resolve(apiToken: String) async throws -> IdentityRPC.Reply
    /// What `resolve` would answer from its cache alone, or nil.
    func cached(apiToken: String) -> IdentityRPC.Reply?
}

extension APITokenResolver {
    public func cached(apiToken: String) -> IdentityRPC.Reply? { nil }
}

/// Turns a bearer token into a ``Principal``: JWTs are verified locally against project-manager's
/// public keys; `fbk_` tokens go to the resolver.
public struct Authenticator: Sendable {
    /// Only project-manager has one.
    let signer: JWTSigner?
    public let keys: JWTKeySource
    let resolver: any APITokenResolver
    /// Tokens already verified, until they expire: a client sends the same JWT for 15 minutes,
    /// and its signature and claims need checking once.
    let verified = VerifiedJWTs()

    public init(signer: JWTSigner? = nil, keys: JWTKeySource, resolver: any APITokenResolver) {
        self.signer = signer
        self.keys = keys
        self.resolver = resolver
    }

    /// The principal behind `token`, or ``AuthError``.
    public func authenticate(token: String, now: Date = Date()) async throws -> Principal {
        if token.hasPrefix(APITokenFormat.prefix) {
            let reply = try await resolver.resolve(apiToken: token)
            return try Self.principal(from: reply, kind: .apiToken, now: now)
        }
        return try Self.principal(from: await verifyJWT(token, now: now), kind: .user, now: now)
    }

    /// The caller behind `token` if it is already verified and cached, without waiting for
    /// anything (nil: ask ``authenticate(token:now:)``).
    public func cachedPrincipal(token: String, now: Date = Date()) -> Principal? {
        if token.hasPrefix(APITokenFormat.prefix) {
            guard let reply = resolver.cached(apiToken: token) else { return nil }
            return try? Self.principal(from: reply, kind: .apiToken, now: now)
        }
        guard let reply = verified.get(token, now: now) else { return nil }
        return try? Self.principal(from: reply, kind: .user, now: now)
    }

    /// Verifies an access token (signature, issuer, expiry), fetching project-manager's key set
    /// first when the token names a key not known yet.
    public func verifyJWT(_ token: String, now: Date = Date()) async -> IdentityRPC.Reply {
        if let hit = verified.get(token, now: now) { return hit }
        if keys.isStale { await keys.refresh() }
        var reply = verifyJWTWithKnownKeys(token, now: now)
        if !reply.valid, keys.canFetch, reply.error == "\(JWTError.unknownKey)" {
            await keys.refresh()
            reply = verifyJWTWithKnownKeys(token, now: now)
        }
        return reply
    }

    /// Verifies an access token with the keys known now, without waiting (project-manager, which
    /// holds its own keys, answers `fluke.rpc.identity.verify` with this).
    public func verifyJWTWithKnownKeys(_ token: String, now: Date = Date()) -> IdentityRPC.Reply {
        if let hit = verified.get(token, now: now) { return hit }
        let reply = verifyJWTUncached(token, now: now)
        if reply.valid, let expires = reply.expiresAt { verified.put(token, reply, until: expires) }
        return reply
    }

    private func verifyJWTUncached(_ token: String, now: Date) -> IdentityRPC.Reply {
        let claims: AccessClaims
        do {
            claims = try keys.verifier.verify(token)
        } catch {
            return .invalid("\(error)")
        }
        let t = Int(now.timeIntervalSince1970)
        guard claims.iss == AccessClaims.issuer else { return .invalid("\(JWTError.wrongIssuer)") }
        // Up to 30 s of clock skew between replicas is tolerated.
        guard claims.exp > t - 30 else { return .invalid("\(JWTError.expired)") }
        guard claims.iat <= t + 30 else { return .invalid("\(JWTError.notYetValid)") }
        guard let user = UUID(uuidString: claims.sub), let tenant = UUID(uuidString: claims.tid) else {
            return .invalid("\(JWTError.malformed)")
        }
        return IdentityRPC.Reply(valid: true, tenantID: tenant, userID: user, scopes: claims.role.scopes.sorted(),
                                 expiresAt: Date(timeIntervalSince1970: TimeInterval(claims.exp)), role: claims.role)
    }

    /// Signs an access token for a session (project-manager only).
    public func sign(_ claims: AccessClaims) throws -> String {
        guard let signer else { throw CryptoError(.invalidInput, "this service cannot sign access tokens") }
        return try signer.sign(claims)
    }

    static func principal(from reply: IdentityRPC.Reply, kind: Principal.Kind, now: Date) throws -> Principal {
        guard reply.valid, let tenant = reply.tenantID, let user = reply.userID else {
            throw AuthError.invalid(reply.error ?? "the token is not valid")
        }
        if let expires = reply.expiresAt, expires <= now { throw AuthError.invalid("the token has expired") }
        return Principal(kind: kind, tenantID: tenant, userID: user, projectID: reply.projectID,
                         scopes: Set(reply.scopes ?? []), role: reply.role, tokenID: reply.tokenID,
                         expiresAt: reply.expiresAt)
    }
}

/// Reads `Authorization: Bearer …` on `/api/` paths and puts the caller in the request context.
///
/// A request without credentials passes through with no principal (routes that need one answer
/// 401); a request with bad credentials is answered 401 here.
public struct AuthMiddleware: RouterMiddleware {
    public typealias Context = FleetRequestContext
    let authenticator: Authenticator
    let prefixes: [String]

    public init(authenticator: Authenticator, prefixes: [String] = ["/api/"]) {
        self.authenticator = authenticator
        self.prefixes = prefixes
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response {
        try await next(request, identify(request, context))
    }

    /// The context with the caller in it; unchanged for paths outside the prefixes and for
    /// requests without credentials. ``FleetHTTPMiddleware`` calls this itself, which saves every
    /// request one middleware hop.
    func identify(_ request: Request, _ context: Context) async throws -> Context {
        guard let header = request.headers[.authorization] else { return context }
        let path = request.uri.path
        guard prefixes.contains(where: { path.hasPrefix($0) }) else { return context }
        guard let token = Self.bearerToken(header) else {
            throw AuthError.invalid("the Authorization header must be Bearer <token>").problem
        }
        var context = context
        do {
            context.authenticated = try await authenticator.authenticate(token: token)
        } catch let error as AuthError {
            throw error.problem
        }
        return context
    }

    /// The token of `Bearer <token>` (scheme case-insensitive, blanks around the token ignored),
    /// or nil. Byte-wise: this runs on every request, and Foundation's trimming costs more than
    /// the rest of authentication.
    public static func bearerToken(_ header: String) -> String? {
        let bytes = header.utf8
        guard bytes.count > 7 else { return nil }
        var i = bytes.startIndex
        for expected in "bearer ".utf8 {
            let b = bytes[i]
            guard b | 0x20 == expected || (expected == 0x20 && b == 0x20) else { return nil }
            i = bytes.index(after: i)
        }
        var end = bytes.endIndex
        while i < end, bytes[i] == 0x20 || bytes[i] == 0x09 { i = bytes.index(after: i) }
        while end > i, bytes[bytes.index(before: end)] == 0x20 || bytes[bytes.index(before: end)] == 0x09 {
            end = bytes.index(before: end)
        }
        guard i < end else { return nil }
        return String(header[i..<end])
    }
}

/// JWTs whose signature and claims were checked, kept until their `exp` (bounded; a full cache
/// starts over). Only valid tokens are kept, so a forged one is checked every time.
final class VerifiedJWTs: Sendable {
    private let entries = Mutex<[String: (reply: IdentityRPC.Reply, until: Date)]>([:])
    let capacity = 10_000

    func get(_ token: String, now: Date) -> IdentityRPC.Reply? {
        entries.withLock { e in
            guard let entry = e[token] else { return nil }
            // The same 30 s skew allowance as the uncached check.
            guard entry.until.addingTimeInterval(30) > now else {
                e.removeValue(forKey: token)
                return nil
            }
            return entry.reply
        }
    }

    func put(_ token: String, _ reply: IdentityRPC.Reply, until: Date) {
        entries.withLock { e in
            if e.count >= capacity { e.removeAll(keepingCapacity: true) }
            e[token] = (reply, until)
        }
    }
}
