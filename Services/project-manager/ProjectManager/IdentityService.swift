import FlukeCrypto
import FlukeModels
import FlukePostgres
import FlukeRuntime
import Foundation
import Logging
import NIOPosix
import Prometheus

/// Signup, login, refresh-token rotation and logout.
///
/// Password hashing is slow on purpose (scrypt, 32 MiB) and runs on its own small thread pool so
/// that neither Swift concurrency's threads nor the Postgres pool wait for it.
final class IdentityService: Sendable {
    let db: TenantDatabase
    let authenticator: Authenticator
    let config: PMConfig
    let hasher: PasswordHasher
    let hashing: NIOThreadPool
    let logger: Logger
    let throttle: LoginThrottle
    /// `pm_password_checks_total`: every scrypt verification, the decoy's included.
    let passwordChecks: Counter?
    /// Verified against when the e-mail is unknown, so that both cases cost one scrypt.
    private let decoyHash: String

    init(db: TenantDatabase, authenticator: Authenticator, config: PMConfig, logger: Logger,
         registry: PrometheusCollectorRegistry? = nil) throws {
        self.db = db
        self.authenticator = authenticator
        self.config = config
        self.logger = logger
        throttle = LoginThrottle(postgres: db.postgres, maxPerAccount: config.maxFailuresPerAccount,
                                 maxPerAddress: config.maxFailuresPerAddress, window: config.failureWindow)
        passwordChecks = registry?.makeCounter(name: "pm_password_checks_total")
        hasher = PasswordHasher(logN: config.scryptLogN)
        decoyHash = try hasher.hash(Base62.encode(Crypto.randomBytes(16)))
        hashing = NIOThreadPool(numberOfThreads: 2)
        hashing.start()
    }

    func shutdown() async { try? await hashing.shutdownGracefully() }

    func hashPassword(_ password: String) async throws -> String {
        let hasher = self.hasher
        return try await hashing.runIfActive { try hasher.hash(password) }
    }

    func verifyPassword(_ password: String, against stored: String) async throws -> Bool {
        let hasher = self.hasher
        passwordChecks?.increment()
        return try await hashing.runIfActive { hasher.verify(password, against: stored) }
    }

    // MARK: Signup

    /// Creates a tenant and its owner.
    func signup(email: String, password: String, name: String, tenantName: String, requestID: String?)
        async throws -> (Tenant, UserView) {
        let hash = try await hashPassword(password)
        let tenantID = UUID()
        let userID = UUID()
        do {
            return try await db.inTenant(tenantID, user: userID) { tx in
                let t = try await tx.query("""
                    INSERT INTO pm.tenants (id, name) VALUES (\(tenantID), \(tenantName)) RETURNING created_at
                    """)
                let u = try await tx.query("""
                    INSERT INTO pm.users (id, email, name, password_hash) VALUES (\(userID), \(email), \(name), \(hash))
                    RETURNING created_at
                    """)
                try await tx.query("""
                    INSERT INTO pm.memberships (tenant_id, user_id, role) VALUES (\(tenantID), \(userID), 'owner')
                    """)
                let actor = Principal(kind: .user, tenantID: tenantID, userID: userID, scopes: [], role: .owner)
                try await AuditRecord(action: "tenant.created", objectType: "tenant", objectID: tenantID.lowercased)
                    .write(on: tx, tenant: tenantID, actor: actor, requestID: requestID)
                return (Tenant(id: tenantID, name: tenantName, createdAt: try t.first!.decode(Date.self, at: 0)),
                        UserView(id: userID, email: email, name: name, role: .owner,
                                 createdAt: try u.first!.decode(Date.self, at: 0)))
            }
        } catch let error as PostgresError where error.isUniqueViolation {
            throw PMError.conflict(field: "email", "a user with this e-mail address already exists")
        }
    }

    // MARK: Login

    func login(email: String, password: String, tenantID: UUID?, clientAddress: String?, requestID: String?)
        async throws -> TokenPair {
        let keys = LoginThrottle.keys(email: email, clientAddress: clientAddress)
        try await throttle.claim(keys)
        let user = try await db.postgres.withTransaction { tx -> (id: UUID, hash: String)? in
            try await tx.setLocal("app.login_email", email)
            return try await tx.query("SELECT id, password_hash FROM pm.users WHERE lower(email) = \(email)")
                .first.map { (try $0.decode(UUID.self, at: 0), try $0.decode(String.self, at: 1)) }
        }
        let ok = try await verifyPassword(password, against: user?.hash ?? decoyHash)
        // A failure was counted by the claim.
        guard ok, let user else { throw PMError.invalidCredentials }
        try await throttle.succeeded(keys)
        let membership = try await db.postgres.withTransaction { tx -> (UUID, TenantRole)? in
            try await tx.setLocal("app.user_id", user.id.lowercased)
            let rows = try await tx.query("""
                SELECT tenant_id, role FROM pm.memberships WHERE user_id = \(user.id)
                  AND (\(tenantID)::uuid IS NULL OR tenant_id = \(tenantID)::uuid)
                ORDER BY created_at LIMIT 1
                """)
            return try rows.first.map { (try $0.decode(UUID.self, at: 0), TenantRole(rawValue: try $0.decode(String.self, at: 1)) ?? .viewer) }
        }
        guard let (tenant, role) = membership else { throw PMError.invalidCredentials }
        return try await issue(user: user.id, tenant: tenant, role: role, family: UUID(), action: "auth.login",
                               requestID: requestID)
    }

    /// Signs in the user whose e-mail an outside provider verified (login with GitHub): in their
    /// first tenant. An unknown e-mail gets a tenant of its own, with them as owner and no usable
    /// password, only where signup is open.
    func loginVerified(email: String, name: String, tenantName: String, action: String, requestID: String?)
        async throws -> TokenPair {
        let email = email.lowercased()
        let membership = try await db.postgres.withTransaction { tx -> (UUID, UUID, TenantRole)? in
            try await tx.setLocal("app.login_email", email)
            guard let user = try await tx.query("SELECT id FROM pm.users WHERE lower(email) = \(email)").first?.decode(UUID.self, at: 0) else {
                return nil
            }
            try await tx.setLocal("app.user_id", user.lowercased)
            return try await tx.query("""
                SELECT tenant_id, role FROM pm.memberships WHERE user_id = \(user) ORDER BY created_at LIMIT 1
                """).first.map { (user, try $0.decode(UUID.self, at: 0), TenantRole(rawValue: try $0.decode(String.self, at: 1)) ?? .viewer) }
        }
        if let (user, tenant, role) = membership {
            return try await issue(user: user, tenant: tenant, role: role, family: UUID(), action: action, requestID: requestID)
        }
        guard config.signupEnabled else {
            throw PMError.forbidden("no account has this e-mail address, and this fleet does not accept signups (PM_SIGNUP_ENABLED)")
        }
        // Nobody knows this password: the account signs in through GitHub until one is set.
        let (tenant, user) = try await signup(email: email, password: Base62.encode(Crypto.randomBytes(32)), name: name,
                                              tenantName: tenantName, requestID: requestID)
        return try await issue(user: user.id, tenant: tenant.id, role: .owner, family: UUID(), action: action, requestID: requestID)
    }

    /// Stores a new refresh token (in `family`) and signs an access token.
    private func issue(user: UUID, tenant: UUID, role: TenantRole, family: UUID, action: String, requestID: String?)
        async throws -> TokenPair {
        let refresh = "fbr_" + Base62.encode(Crypto.randomBytes(32))
        let expires = Date().addingTimeInterval(config.refreshTokenTTL.secondsValue)
        try await db.inTenant(tenant, user: user) { tx in
            try await tx.query("""
                INSERT INTO pm.refresh_tokens (id, tenant_id, user_id, family_id, token_hash, expires_at)
                VALUES (\(UUID()), \(tenant), \(user), \(family), \(Crypto.sha256Hex(refresh)), \(expires))
                """)
            let actor = Principal(kind: .user, tenantID: tenant, userID: user, scopes: role.scopes, role: role)
            try await AuditRecord(action: action, objectType: "user", objectID: user.lowercased)
                .write(on: tx, tenant: tenant, actor: actor, requestID: requestID)
        }
        let claims = AccessClaims(userID: user, tenantID: tenant, role: role, issuedAt: Date(),
                                  lifetime: config.accessTokenTTL.secondsValue)
        return TokenPair(accessToken: try authenticator.sign(claims), refreshToken: refresh,
                         expiresIn: Int(config.accessTokenTTL.secondsValue), tenantID: tenant, userID: user)
    }

    // MARK: Refresh and logout

    private enum RefreshOutcome: Sendable {
        case rotate(id: UUID, tenant: UUID, user: UUID, family: UUID, role: TenantRole)
        case reused, invalid, notMember
    }

    /// Rotates a refresh token. Presenting one that was already rotated revokes its whole family
    /// (OAuth 2.0 Security BCP §4.14): whoever holds the newer token loses it too.
    ///
    /// `target`: another tenant of the same user to move the session to (the dashboard's tenant
    /// switcher); the new session is a family of its own there.
    func refresh(_ token: String, switchingTo target: UUID? = nil, requestID: String?) async throws -> TokenPair {
        let outcome = try await db.postgres.withTransaction { tx -> RefreshOutcome in
            try await tx.setLocal("app.token_hash", Crypto.sha256Hex(token))
            guard let row = try await tx.query("""
                SELECT id, tenant_id, user_id, family_id, expires_at > now() AS live, rotated_at IS NOT NULL AS rotated,
                       revoked_at IS NOT NULL AS revoked
                FROM pm.refresh_tokens WHERE token_hash = \(Crypto.sha256Hex(token))
                """).first else { return .invalid }
            let tenant = try row.decode(UUID.self, "tenant_id")
            let user = try row.decode(UUID.self, "user_id")
            let family = try row.decode(UUID.self, "family_id")
            let id = try row.decode(UUID.self, "id")
            try await tx.setLocal("app.tenant_id", tenant.lowercased)
            guard try row.decode(Bool.self, "live"), try !row.decode(Bool.self, "revoked") else { return .invalid }
            // Checked before the rotation is claimed, so a refused switch leaves the session as it was.
            let tenantAfter = target ?? tenant
            try await tx.setLocal("app.user_id", user.lowercased)
            guard let role = try await tx.query("""
                SELECT role FROM pm.memberships WHERE tenant_id = \(tenantAfter) AND user_id = \(user)
                """).first.map({ TenantRole(rawValue: try $0.decode(String.self, at: 0)) ?? .viewer }) else {
                return tenantAfter == tenant ? .invalid : .notMember
            }
            // Claiming the rotation is one conditional UPDATE, so two concurrent refreshes with the
            // same token cannot both succeed: the loser is treated as a reuse.
            let claimed = try await tx.query("""
                UPDATE pm.refresh_tokens SET rotated_at = now() WHERE id = \(id) AND tenant_id = \(tenant) AND rotated_at IS NULL
                """).affectedRows == 1
            if !claimed {
                try await tx.query("""
                    UPDATE pm.refresh_tokens SET revoked_at = now() WHERE family_id = \(family) AND tenant_id = \(tenant)
                      AND revoked_at IS NULL
                    """)
                try await AuditRecord(action: "auth.refresh_reuse", objectType: "user", objectID: user.lowercased,
                                      details: .object(["family_id": .string(family.lowercased)]))
                    .write(on: tx, tenant: tenant, actor: nil, requestID: requestID)
                return .reused
            }
            return .rotate(id: id, tenant: tenantAfter, user: user, family: tenantAfter == tenant ? family : UUID(), role: role)
        }
        switch outcome {
        case .invalid: throw PMError.invalidRefreshToken
        case .notMember: throw PMError.invalid(field: "tenant_id", "names no tenant you belong to")
        case .reused:
            logger.warning("a rotated refresh token was presented again; its family is revoked")
            throw PMError.invalidRefreshToken
        case .rotate(_, let tenant, let user, let family, let role):
            return try await issue(user: user, tenant: tenant, role: role, family: family,
                                   action: target == nil ? "auth.refresh" : "auth.switch_tenant", requestID: requestID)
        }
    }

    /// Revokes the refresh token's family (the session). Unknown tokens are accepted silently:
    /// logout must not tell anyone whether a token existed.
    func logout(_ token: String, requestID: String?) async throws {
        try await db.postgres.withTransaction { tx in
            try await tx.setLocal("app.token_hash", Crypto.sha256Hex(token))
            guard let row = try await tx.query("""
                SELECT tenant_id, user_id, family_id FROM pm.refresh_tokens WHERE token_hash = \(Crypto.sha256Hex(token))
                """).first else { return }
            let tenant = try row.decode(UUID.self, at: 0)
            try await tx.setLocal("app.tenant_id", tenant.lowercased)
            try await tx.query("""
                UPDATE pm.refresh_tokens SET revoked_at = now()
                WHERE family_id = \(try row.decode(UUID.self, at: 2)) AND tenant_id = \(tenant) AND revoked_at IS NULL
                """)
            let user = try row.decode(UUID.self, at: 1)
            try await AuditRecord(action: "auth.logout", objectType: "user", objectID: user.lowercased)
                .write(on: tx, tenant: tenant, actor: Principal(kind: .user, tenantID: tenant, userID: user, scopes: []),
                       requestID: requestID)
        }
    }
}
