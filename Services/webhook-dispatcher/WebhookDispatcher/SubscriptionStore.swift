import FlukeModels
import FlukePostgres
import FlukeRuntime
import Foundation

/// Subscriptions and their secrets. Secrets are sealed with the keyring (the subscription id is
/// the associated data, so a sealed secret moved to another row does not open) and leave only in
/// the answer to the request that made them.
///
/// Every statement runs in the caller's tenant (row-level security, see ``TenantDatabase``); the
/// explicit `tenant_id` conditions stay, so that a query is right even before the policy applies.
struct SubscriptionStore: Sendable {
    let db: TenantDatabase
    let keyring: Keyring
    let secretGrace: Duration
    /// Subscriptions a project may have (`WEBHOOK_MAX_SUBSCRIPTIONS_PER_PROJECT`): each one adds a
    /// delivery per matching event, so this bounds what one event costs.
    var maxPerProject = 100

    static let columns: StaticString = """
        id, project_id, events, callback_url, description, rate_limit_per_second, headers::text, enabled,
        disabled_reason, failing_since, created_at, updated_at
        """

    static func decode(_ row: PostgresRow) throws -> Subscription {
        let headers = try row.decode(String.self, at: 6)
        return Subscription(
            id: try row.decode(UUID.self, at: 0), projectID: try row.decode(UUID.self, at: 1),
            events: try row.decode([String].self, at: 2), callbackURL: try row.decode(String.self, at: 3),
            description: try row.decode(String.self, at: 4), rateLimitPerSecond: try row.decode(Int?.self, at: 5),
            headers: Self.headers(fromJSON: headers),
            enabled: try row.decode(Bool.self, at: 7), disabledReason: try row.decode(String?.self, at: 8),
            failingSince: try row.decode(Date?.self, at: 9), createdAt: try row.decode(Date.self, at: 10),
            updatedAt: try row.decode(Date.self, at: 11))
    }

    /// The inverse of ``headersJSON(_:)``: the stored object back (empty if unreadable).
    static func headers(fromJSON text: String) -> [String: String] {
        (try? JSONDecoder().decode([String: String].self, from: Data(text.utf8))) ?? [:]
    }

    static func headersJSON(_ headers: [String: String]) -> String {
        String(decoding: (try? FleetJSON.encoder.encode(headers)) ?? Data("{}".utf8), as: UTF8.self)
    }

    func seal(_ secret: String, for id: UUID) throws -> (keyID: String, sealed: String) {
        try keyring.seal(secret, context: Self.sealingContext(id))
    }

    func open(_ sealed: String, keyID: String, for id: UUID) throws -> String {
        try keyring.open(sealed, keyID: keyID, context: Self.sealingContext(id))
    }

    /// The associated data binding a sealed secret to its subscription.
    static func sealingContext(_ id: UUID) -> String { "webhook-secret|\(id.lowercased)" }

    struct NewSubscription: Sendable {
        var projectID: UUID
        var events: [String]
        var callbackURL: String
        var description: String
        var rateLimitPerSecond: Int?
        var headers: [String: String]
        var secret: String
    }

    func create(_ new: NewSubscription, by principal: Principal) async throws -> Subscription {
        let id = UUID()
        let (keyID, sealed) = try seal(new.secret, for: id)
        let row = try await db.inTenant(of: principal) { tx in
            // One creator per project at a time, so the count holds until commit.
            try await tx.query("SELECT pg_advisory_xact_lock(hashtext(\("fluke.webhooks.subscriptions." + new.projectID.lowercased)))")
            let count = try await tx.query("SELECT count(*) FROM webhooks.subscriptions WHERE project_id = \(new.projectID)")
                .first!.decode(Int.self, at: 0)
            guard count < maxPerProject else {
                throw LimitReached("webhook subscriptions", of: "project", limit: maxPerProject,
                                   variable: "WEBHOOK_MAX_SUBSCRIPTIONS_PER_PROJECT")
            }
            try await tx.query("""
                INSERT INTO webhooks.subscriptions (id, tenant_id, project_id, events, callback_url, description,
                    rate_limit_per_second, headers, created_by)
                VALUES (\(id), \(principal.tenantID), \(new.projectID), \(new.events), \(new.callbackURL), \(new.description),
                    \(new.rateLimitPerSecond), \(Self.headersJSON(new.headers))::jsonb, \(principal.userID))
                """)
            try await tx.query("""
                INSERT INTO webhooks.secrets (subscription_id, tenant_id, key_id, sealed) VALUES (\(id), \(principal.tenantID), \(keyID), \(sealed))
                """)
            return try await tx.query("SELECT \(sql: Self.columns) FROM webhooks.subscriptions WHERE id = \(id)").first!
        }
        var subscription = try Self.decode(row)
        subscription.secret = new.secret
        return subscription
    }

    /// A subscription of the caller's tenant that the caller may see, or 404.
    func get(_ id: UUID, principal: Principal) async throws -> Subscription {
        let rows = try await db.read(principal, """
            SELECT \(sql: Self.columns) FROM webhooks.subscriptions WHERE id = \(id) AND tenant_id = \(principal.tenantID)
            """)[0]
        guard let row = rows.first else { throw WebhookError.notFound("subscription") }
        let s = try Self.decode(row)
        guard principal.canSee(project: s.projectID) else { throw WebhookError.notFound("subscription") }
        return s
    }

    func list(project: UUID?, principal: Principal, after: Int?, limit: Int) async throws -> (items: [Subscription], last: Int?) {
        let rows = try await db.read(principal, """
            SELECT \(sql: Self.columns), seq FROM (
                SELECT *, row_number() OVER (ORDER BY created_at, id) AS seq FROM webhooks.subscriptions
                WHERE tenant_id = \(principal.tenantID) AND (\(project)::uuid IS NULL OR project_id = \(project)::uuid)
            ) s WHERE seq > \(after ?? 0) ORDER BY seq LIMIT \(limit)
            """)[0]
        return (try rows.map(Self.decode), try rows.rows.last.map { try $0.decode(Int.self, at: 12) })
    }

    struct Changes: Sendable {
        var events: [String]?
        var callbackURL: String?
        var description: String?
        var rateLimit: Int??
        var headers: [String: String]?
        var enabled: Bool?
    }

    func update(_ id: UUID, _ c: Changes, principal: Principal) async throws -> Subscription {
        _ = try await get(id, principal: principal)
        let rate: Int? = c.rateLimit ?? nil
        let rows = try await db.pipeline(principal, ["""
            UPDATE webhooks.subscriptions SET
                events = COALESCE(\(c.events)::text[], events),
                callback_url = COALESCE(\(c.callbackURL)::text, callback_url),
                description = COALESCE(\(c.description)::text, description),
                rate_limit_per_second = CASE WHEN \(c.rateLimit != nil) THEN \(rate)::integer ELSE rate_limit_per_second END,
                headers = COALESCE(\(c.headers.map(Self.headersJSON))::jsonb, headers),
                enabled = COALESCE(\(c.enabled)::boolean, enabled),
                disabled_reason = CASE WHEN \(c.enabled)::boolean IS NULL THEN disabled_reason
                                       WHEN \(c.enabled)::boolean THEN NULL ELSE 'disabled by a user' END,
                failing_since = CASE WHEN \(c.enabled)::boolean THEN NULL ELSE failing_since END,
                updated_at = now()
            WHERE id = \(id) AND tenant_id = \(principal.tenantID)
            RETURNING \(sql: Self.columns)
            """])[0]
        guard let row = rows.first else { throw WebhookError.notFound("subscription") }
        return try Self.decode(row)
    }

    func delete(_ id: UUID, principal: Principal) async throws {
        _ = try await get(id, principal: principal)
        // The cascade over its deliveries meets the dispatcher's claims and outcome writes on the
        // same rows, so Postgres may break a deadlock by failing it; it is simply run again.
        try await TenantDatabase.retryingDeadlocks {
            _ = try await db.pipeline(principal, ["DELETE FROM webhooks.subscriptions WHERE id = \(id) AND tenant_id = \(principal.tenantID)"])
        }
    }

    /// A new secret; the ones before it keep signing for the grace period.
    func rotate(_ id: UUID, secret: String, principal: Principal) async throws -> Subscription {
        _ = try await get(id, principal: principal)
        let (keyID, sealed) = try seal(secret, for: id)
        let graceMs = Int(secretGrace.wholeMilliseconds)
        _ = try await db.pipeline(principal, [
            """
            UPDATE webhooks.secrets SET expires_at = LEAST(COALESCE(expires_at, 'infinity'), now() + \(graceMs) * interval '1 millisecond')
            WHERE subscription_id = \(id)
            """,
            "INSERT INTO webhooks.secrets (subscription_id, tenant_id, key_id, sealed) VALUES (\(id), \(principal.tenantID), \(keyID), \(sealed))",
            "UPDATE webhooks.subscriptions SET updated_at = now() WHERE id = \(id)",
        ])
        var subscription = try await get(id, principal: principal)
        subscription.secret = secret
        return subscription
    }
}
