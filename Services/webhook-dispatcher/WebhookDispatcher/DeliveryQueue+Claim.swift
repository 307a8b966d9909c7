import FlukeModels
import FlukePostgres
import FlukeRuntime
import Foundation

/// Claiming due deliveries lane by lane, and handing claims and lanes back.
extension DeliveryQueue {
    /// The most subscriptions a notification names; beyond, it names none (look everywhere).
    static let hintLimit = 200
    /// A delivery `d` that may be claimed now: pending, due, and not leased.
    static let claimable: StaticString = "d.status = 'pending' AND d.next_attempt_at <= now() AND (d.leased_until IS NULL OR d.leased_until < now())"

    /// A claimed delivery with what sending it needs.
    struct Claimed: Sendable {
        var seq: Int
        var id: UUID
        var subscriptionID: UUID
        var eventID: UUID
        var eventType: String
        var eventTime: Date
        var body: String
        /// This attempt's number (1 = the first).
        var attempt: Int
        var maxAttempts: Int
        var callbackURL: String
        var headers: [String: String]
        var rateLimit: Int?
        var tenantID: UUID
        var projectID: UUID
        var secrets: [(keyID: String, sealed: String)]
    }

    /// Claims up to `limit` due deliveries, at most `budgets[subscription]` (else
    /// `defaultBudget`) per subscription, from the lanes this replica holds.
    ///
    /// Lanes first, then rows: rows are claimed only from lanes this replica holds, so no other
    /// replica can claim a later delivery of the same subscription meanwhile (the lane rows stay
    /// locked by this transaction until it commits). The lanes in `budgets` (work in hand) are
    /// renewed and the `hinted` ones (new work, named by the intake's notification) taken if
    /// free or lapsed. With `discover`, every subscription with due work is looked at (retries
    /// coming due, lanes of a replica that died) and idle lanes are given back; that visits every
    /// subscription with pending deliveries, so the dispatcher does it a few times a second.
    func claim(limit: Int, budgets: [UUID: Int], defaultBudget: Int, hinted: Set<UUID>, discover: Bool) async throws -> [Claimed] {
        let inHand = Array(budgets)
        let subs = inHand.map(\.key.lowercased)
        let amounts = inHand.map { String($0.value) }
        let wanted = Set(subs).union(hinted.map(\.lowercased)).sorted()
        let lanes = laneStatements(inHand: subs, wanted: wanted, discover: discover)
        let claim = claimStatement(inHand: subs, amounts: amounts, defaultBudget: defaultBudget, limit: limit)
        // As the fleet, with the setting pipelined in the same round trip (the hot path).
        let rows = try await db.pipelineAsSystem(lanes + [claim]).last!
        var parsedHeaders: [String: [String: String]] = [:]
        return try rows.map { row in try Claimed(row, parsedHeaders: &parsedHeaders) }
    }

    /// The lane statements before a claim: with `discover`, give back idle lanes and take every
    /// subscription with due work whose lane is free or lapsed; always renew the lanes in hand and
    /// take the hinted ones.
    private func laneStatements(inHand subs: [String], wanted: [String], discover: Bool) -> [PostgresQuery] {
        let laneLease = Int(Self.laneLease.wholeMilliseconds)
        var lanes: [PostgresQuery] = []
        if discover {
            lanes.append("""
                DELETE FROM webhooks.lanes l WHERE l.owner = \(replica) AND NOT (l.subscription_id = ANY(\(subs)::text[]::uuid[]))
                    AND NOT EXISTS (SELECT 1 FROM webhooks.deliveries d
                                    WHERE d.subscription_id = l.subscription_id AND \(sql: Self.claimable))
                """)
            lanes.append("""
                WITH RECURSIVE pending(sub) AS (
                    -- A loose index scan: each subscription with pending deliveries, once.
                    (SELECT subscription_id FROM webhooks.deliveries WHERE status = 'pending' ORDER BY subscription_id LIMIT 1)
                    UNION ALL
                    SELECT (SELECT d.subscription_id FROM webhooks.deliveries d
                            WHERE d.status = 'pending' AND d.subscription_id > pending.sub ORDER BY d.subscription_id LIMIT 1)
                    FROM pending WHERE pending.sub IS NOT NULL
                )
                INSERT INTO webhooks.lanes (subscription_id, owner, until)
                SELECT pending.sub, \(replica), now() + \(laneLease) * interval '1 millisecond' FROM pending
                WHERE pending.sub IS NOT NULL AND EXISTS (
                    SELECT 1 FROM webhooks.deliveries d
                    WHERE d.subscription_id = pending.sub AND \(sql: Self.claimable))
                ON CONFLICT (subscription_id) DO UPDATE SET owner = EXCLUDED.owner, until = EXCLUDED.until
                    WHERE webhooks.lanes.owner = EXCLUDED.owner OR webhooks.lanes.until < now()
                """)
        }
        if !wanted.isEmpty {
            // Renews the lanes in hand, and takes the hinted ones that are free or lapsed.
            lanes.append("""
                INSERT INTO webhooks.lanes (subscription_id, owner, until)
                SELECT s.id, \(replica), now() + \(laneLease) * interval '1 millisecond' FROM webhooks.subscriptions s
                WHERE s.id = ANY(\(wanted)::text[]::uuid[]) AND s.enabled
                ON CONFLICT (subscription_id) DO UPDATE SET owner = EXCLUDED.owner, until = EXCLUDED.until
                    WHERE webhooks.lanes.owner = EXCLUDED.owner OR webhooks.lanes.until < now()
                """)
        }
        return lanes
    }

    /// Claims due deliveries from this replica's live lanes, within each lane's budget, and
    /// returns them with their subscription's callback, headers and signing secrets.
    private func claimStatement(inHand subs: [String], amounts: [String], defaultBudget: Int, limit: Int) -> PostgresQuery {
        let lease = Int(settings.lease.wholeMilliseconds)
        return """
            WITH mine AS (
                SELECT l.subscription_id,
                       -- A rate-limited subscription gets at most 10 s of sending: claims must be sent well within the lease.
                       LEAST(COALESCE(b.amount::int, \(defaultBudget)), COALESCE(s.rate_limit_per_second * 10, 2147483647)) AS budget
                FROM webhooks.lanes l
                JOIN webhooks.subscriptions s ON s.id = l.subscription_id AND s.enabled
                LEFT JOIN unnest(\(subs)::text[], \(amounts)::text[]) AS b(sub, amount) ON b.sub::uuid = l.subscription_id
                WHERE l.owner = \(replica) AND l.until > now()
            ), chosen AS (
                SELECT c.id, c.seq FROM mine CROSS JOIN LATERAL (
                    SELECT d.id, d.seq FROM webhooks.deliveries d
                    WHERE d.subscription_id = mine.subscription_id AND \(sql: Self.claimable)
                    ORDER BY d.seq LIMIT mine.budget
                    FOR UPDATE SKIP LOCKED) c
                ORDER BY c.seq LIMIT \(limit)
            ), claimed AS (
                UPDATE webhooks.deliveries d
                SET leased_until = now() + \(lease) * interval '1 millisecond', attempts = d.attempts + 1, leased_by = \(replica)
                FROM chosen WHERE d.id = chosen.id
                RETURNING d.seq, d.id, d.subscription_id, d.event_id, d.event_type, d.event_time, d.body, d.attempts, d.max_attempts
            ), keys AS (
                -- The signing secrets, once per subscription rather than once per delivery.
                SELECT k.subscription_id, array_agg(k.key_id ORDER BY k.id DESC) AS key_ids,
                       array_agg(k.sealed ORDER BY k.id DESC) AS sealed
                FROM webhooks.secrets k
                WHERE k.subscription_id IN (SELECT subscription_id FROM mine) AND (k.expires_at IS NULL OR k.expires_at > now())
                GROUP BY k.subscription_id
            )
            SELECT c.seq, c.id, c.subscription_id, c.event_id, c.event_type, c.event_time, c.body, c.attempts, c.max_attempts,
                   s.callback_url, s.headers::text, s.rate_limit_per_second, s.tenant_id, s.project_id,
                   coalesce(keys.key_ids, '{}'), coalesce(keys.sealed, '{}')
            FROM claimed c JOIN webhooks.subscriptions s ON s.id = c.subscription_id
            LEFT JOIN keys ON keys.subscription_id = c.subscription_id
            ORDER BY c.seq
            """
    }
}

extension DeliveryQueue.Claimed {
    /// Decodes a row of the claim statement; equal headers JSON is parsed once per claim.
    init(_ row: PostgresRow, parsedHeaders: inout [String: [String: String]]) throws {
        let headersJSON = try row.decode(String.self, at: 10)
        let headers = parsedHeaders[headersJSON] ?? SubscriptionStore.headers(fromJSON: headersJSON)
        parsedHeaders[headersJSON] = headers
        let keyIDs = try row.decode([String].self, at: 14)
        let sealed = try row.decode([String].self, at: 15)
        self.init(
            seq: try row.decode(Int.self, at: 0), id: try row.decode(UUID.self, at: 1),
            subscriptionID: try row.decode(UUID.self, at: 2), eventID: try row.decode(UUID.self, at: 3),
            eventType: try row.decode(String.self, at: 4), eventTime: try row.decode(Date.self, at: 5),
            body: try row.decode(String.self, at: 6), attempt: try row.decode(Int.self, at: 7),
            maxAttempts: try row.decode(Int.self, at: 8), callbackURL: try row.decode(String.self, at: 9),
            headers: headers,
            rateLimit: try row.decode(Int?.self, at: 11), tenantID: try row.decode(UUID.self, at: 12),
            projectID: try row.decode(UUID.self, at: 13),
            secrets: Array(zip(keyIDs, sealed).map { (keyID: $0.0, sealed: $0.1) }))
    }
}

extension DeliveryQueue {
    /// Hands claims back untouched (shutdown before they were attempted).
    func release(_ claims: [Claimed]) async throws {
        guard !claims.isEmpty else { return }
        _ = try await db.pipelineAsSystem(["""
            UPDATE webhooks.deliveries SET leased_until = NULL, attempts = attempts - 1, leased_by = NULL
            WHERE id = ANY(\(claims.map(\.id.lowercased))::text[]::uuid[]) AND leased_by = \(replica) AND status = 'pending'
            """])
    }

    /// Gives back every lane this replica holds (at shutdown, once nothing is in flight), so that
    /// another replica takes over at once instead of after `laneLease`.
    func releaseLanes() async throws {
        try await postgres.query("DELETE FROM webhooks.lanes WHERE owner = \(replica)")
    }
}
