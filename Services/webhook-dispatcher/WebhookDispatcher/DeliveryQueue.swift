import FlukeModels
import FlukePostgres
import FlukeRuntime
import Foundation

/// The delivery queue in Postgres.
///
/// - Intake records one delivery per (event, matching subscription) — unique, so a redelivered
///   event adds nothing — and `NOTIFY webhook_deliveries` wakes the dispatchers at commit.
/// - A claim takes due deliveries with `FOR UPDATE SKIP LOCKED` and sets each one's
///   `leased_until` one lease ahead: replicas never claim the same delivery, and a replica that
///   dies mid-attempt leaves it to be claimed again when the lease runs out (then sent with the
///   same `webhook-id`).
/// - Each subscription is served by one replica at a time (its *lane*, leased in
///   `webhooks.lanes`), so first attempts per subscription leave in event order and the
///   subscription's rate limit and concurrency cap hold across replicas. A lane is renewed with
///   every claim while its replica has work in hand, given back when idle or at shutdown, and
///   lapses `laneLease` after its replica died.
///
/// Tenancy (row-level security, see ``TenantDatabase``): recording events, claiming and recording
/// outcomes span every tenant and run as the fleet (`app.system`); a test delivery is a request
/// and runs in its caller's tenant. Lanes and the intake lease are the fleet's own rows.
struct DeliveryQueue: Sendable {
    static let channel = "webhook_deliveries"
    /// How long a lane outlives its replica's last claim: a crashed replica's subscriptions
    /// wait this long for another.
    static let laneLease: Duration = .seconds(10)
    let db: TenantDatabase
    var postgres: PostgresClient { db.postgres }
    var outbox: Outbox { db.outbox }
    let settings: DeliverySettings
    /// This replica's name in leases.
    let replica: String

    /// One event as the intake records it.
    struct IncomingEvent: Sendable {
        var id: UUID
        var type: String
        var tenant: UUID
        var project: UUID
        var time: Date
        /// The body every attempt sends: `{"type", "timestamp", "data"}`.
        var body: String
    }

    /// The Standard Webhooks body of an event: its data plus `project_id`.
    static func body(type: String, time: Date, project: UUID, data: JSONValue) throws -> String {
        var payload = data
        if case .object(var o) = data {
            o["project_id"] = .string(project.lowercased)
            payload = .object(o)
        }
        let envelope: JSONValue = .object(["type": .string(type), "timestamp": .string(RFC3339.format(time)), "data": payload])
        return String(decoding: try FleetJSON.encoder.encode(envelope), as: UTF8.self)
    }

    /// Records the deliveries of `events` in one transaction; returns how many were new.
    @discardableResult
    func record(_ events: [IncomingEvent]) async throws -> Int {
        guard !events.isEmpty else { return 0 }
        // Events of every tenant, into their subscriptions: the fleet's work (one more statement
        // per batch of up to Intake.batch events).
        return try await db.asSystem { tx in
            let summary = try await tx.query("""
            WITH ev AS (
                SELECT e.* FROM unnest(\(events.map(\.id.lowercased))::text[], \(events.map(\.type))::text[],
                    \(events.map(\.tenant.lowercased))::text[], \(events.map(\.project.lowercased))::text[],
                    \(events.map { RFC3339.format($0.time) })::text[], \(events.map(\.body))::text[])
                    WITH ORDINALITY AS e(event_id, event_type, tenant_id, project_id, event_time, body, ord)
            ), ins AS (
                INSERT INTO webhooks.deliveries (id, subscription_id, tenant_id, event_id, event_type, event_time, body,
                                                 max_attempts, next_attempt_at)
                SELECT gen_random_uuid(), s.id, s.tenant_id, ev.event_id::uuid, ev.event_type, ev.event_time::timestamptz,
                       ev.body, \(settings.schedule.count), now() + \(Int(settings.schedule[0].wholeMilliseconds)) * interval '1 millisecond'
                FROM ev JOIN webhooks.subscriptions s
                  ON s.tenant_id = ev.tenant_id::uuid AND s.project_id = ev.project_id::uuid AND s.enabled
                WHERE EXISTS (SELECT 1 FROM unnest(s.events) p
                              WHERE p = '*' OR p = ev.event_type OR (right(p, 2) = '.*' AND starts_with(ev.event_type, left(p, -1))))
                ORDER BY ev.ord, s.id
                ON CONFLICT (event_id, subscription_id) DO NOTHING
                RETURNING subscription_id
            )
            SELECT count(*), count(DISTINCT subscription_id), coalesce(string_agg(DISTINCT subscription_id::text, ','), '') FROM ins
            """).first!
            let (created, subscriptions, ids) = (try summary.decode(Int.self, at: 0), try summary.decode(Int.self, at: 1),
                                                 try summary.decode(String.self, at: 2))
            if created > 0 {
                // The notification names the subscriptions with new work (when few), so that
                // dispatchers take just those lanes.
                let hint = subscriptions <= Self.hintLimit ? ids : ""
                try await tx.query("SELECT pg_notify(\(Self.channel), \(hint))")
            }
            return created
        }
    }

    /// A `webhook.test` delivery for one subscription (not through NATS).
    func recordTest(subscription: Subscription, p: Principal) async throws -> UUID {
        let eventID = UUID()
        let now = Date()
        let body = try Self.body(type: EventType.webhookTest.rawValue, time: now, project: subscription.projectID,
                                 data: .object(["subscription_id": .string(subscription.id.lowercased),
                                                "message": .string("a test event from FlukeBase")]))
        let rows = try await db.pipeline(p, [
            """
            INSERT INTO webhooks.deliveries (id, subscription_id, tenant_id, event_id, event_type, event_time, body, max_attempts)
            VALUES (gen_random_uuid(), \(subscription.id), \(p.tenantID), \(eventID), \(EventType.webhookTest.rawValue),
                    \(RFC3339.format(now))::timestamptz, \(body), \(settings.schedule.count))
            RETURNING id
            """,
            "SELECT pg_notify(\(Self.channel), \(subscription.id.lowercased))",
        ])
        return try rows[0].first!.decode(UUID.self, at: 0)
    }

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
        let lease = Int(settings.lease.wholeMilliseconds)
        let laneLease = Int(Self.laneLease.wholeMilliseconds)
        let inHand = Array(budgets)
        let subs = inHand.map(\.key.lowercased)
        let amounts = inHand.map { String($0.value) }
        let wanted = Set(subs).union(hinted.map(\.lowercased)).sorted()
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
        // As the fleet, with the setting pipelined in the same round trip (the hot path).
        let rows = try await db.pipelineAsSystem(lanes + [
            """
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
            """,
        ]).last!
        var parsedHeaders: [String: [String: String]] = [:]
        return try rows.map { row in
            let headersJSON = try row.decode(String.self, at: 10)
            let headers = parsedHeaders[headersJSON] ?? SubscriptionStore.headers(fromJSON: headersJSON)
            parsedHeaders[headersJSON] = headers
            let keyIDs = try row.decode([String].self, at: 14)
            let sealed = try row.decode([String].self, at: 15)
            return Claimed(
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

    /// What one attempt came to.
    struct Outcome: Sendable {
        var delivery: Claimed
        var startedAt: Date
        var duration: Duration
        var statusCode: Int?
        var responseHeaders: [String: String]?
        var responseBody: String?
        var error: String?
        /// From `Retry-After` on a 429 or 503.
        var retryAfter: Duration?

        var succeeded: Bool { statusCode.map { (200..<300).contains($0) } ?? false }
        /// 410 Gone: the receiver asks to stop.
        var gone: Bool { statusCode == 410 }
    }

    /// The longest `Retry-After` honoured; beyond it the schedule's delay applies.
    static let maxRetryAfter: Duration = .seconds(86_400)

    /// Records a batch of outcomes in one transaction: each attempt logged, each delivery
    /// finished or rescheduled, the subscriptions' failure streaks updated, and subscriptions
    /// disabled (with `webhook.endpoint.disabled`) on 410 or after failing for too long.
    /// Only claims this replica still holds are changed (a claim whose lease ran out belongs to
    /// whoever took it; if that is this replica again, the attempt in flight settles it).
    func complete(_ outcomes: [Outcome]) async throws -> (disabled: [UUID], finished: [Outcome]) {
        guard !outcomes.isEmpty else { return ([], []) }
        var ids: [String] = [], attempts: [String] = [], statuses: [String] = [], delays: [String] = []
        var codes: [String?] = [], errors: [String?] = []
        for o in outcomes {
            ids.append(o.delivery.id.lowercased)
            attempts.append(String(o.delivery.attempt))
            codes.append(o.statusCode.map(String.init))
            errors.append(o.error)
            if o.succeeded {
                statuses.append("succeeded"); delays.append("0")
            } else if o.gone || o.delivery.attempt >= o.delivery.maxAttempts {
                statuses.append("failed"); delays.append("0")
            } else {
                var delay = settings.delay(afterFailures: o.delivery.attempt) ?? .zero
                if let retryAfter = o.retryAfter, retryAfter > delay { delay = min(retryAfter, Self.maxRetryAfter) }
                statuses.append("pending"); delays.append(String(Int(delay.wholeMilliseconds)))
            }
        }
        let headers = outcomes.map { o in o.responseHeaders.map(SubscriptionStore.headersJSON) }
        let disableAfter = Int(settings.disableAfter.wholeMilliseconds)
        // As the fleet (outcomes of every tenant's deliveries), with webhook.endpoint.disabled
        // enqueued in the same transaction; asSystem wakes the outbox relay after commit.
        return try await db.asSystem { tx in
            // A subscription deleted while its deliveries were in flight took them along
            // (ON DELETE CASCADE): their attempts have nothing left to be logged against, and
            // inserting them would fail the whole batch on every retry, so nobody's outcome
            // would be recorded again. Locking the rows that remain keeps a delete from
            // removing them before this transaction commits.
            let remaining = Set(try await tx.query("""
                SELECT id FROM webhooks.deliveries WHERE id = ANY(\(ids)::text[]::uuid[]) ORDER BY id FOR KEY SHARE
                """).map { try $0.decode(UUID.self, at: 0) })
            let logged = outcomes.indices.filter { remaining.contains(outcomes[$0].delivery.id) }
            let updated = try await tx.query("""
                WITH o AS (
                    SELECT * FROM unnest(\(ids)::text[], \(attempts)::text[], \(statuses)::text[], \(delays)::text[],
                                         \(codes.map { $0 ?? "" })::text[], \(errors.map { $0 ?? "" })::text[])
                        AS o(id, attempt, status, delay_ms, code, error)
                )
                UPDATE webhooks.deliveries d SET
                    status = o.status,
                    next_attempt_at = CASE WHEN o.status = 'pending' THEN now() + o.delay_ms::int * interval '1 millisecond'
                                           ELSE d.next_attempt_at END,
                    finished_at = CASE WHEN o.status = 'pending' THEN NULL ELSE now() END,
                    last_status_code = NULLIF(o.code, '')::int, last_error = NULLIF(o.error, ''), leased_by = NULL,
                    leased_until = NULL
                FROM o WHERE d.id = o.id::uuid AND d.attempts >= o.attempt::int AND d.leased_by = \(replica) AND d.status = 'pending'
                RETURNING d.id
                """)
            let held = Set(try updated.map { try $0.decode(UUID.self, at: 0) })
            if !logged.isEmpty {
                try await tx.query("""
                    INSERT INTO webhooks.attempts (delivery_id, tenant_id, attempt, started_at, duration_ms, status_code,
                                                   response_headers, response_body, error, replica)
                    SELECT o.id::uuid, d.tenant_id, o.attempt::int, o.started::timestamptz, o.ms::float8, NULLIF(o.code, '')::int,
                           NULLIF(o.headers, '')::jsonb, NULLIF(o.body, ''), NULLIF(o.error, ''), \(replica)
                    FROM unnest(\(logged.map { ids[$0] })::text[], \(logged.map { attempts[$0] })::text[],
                                \(logged.map { RFC3339.format(outcomes[$0].startedAt) })::text[],
                                \(logged.map { String(outcomes[$0].duration.secondsValue * 1000) })::text[],
                                \(logged.map { codes[$0] ?? "" })::text[], \(logged.map { headers[$0] ?? "" })::text[],
                                \(logged.map { outcomes[$0].responseBody ?? "" })::text[],
                                \(logged.map { errors[$0] ?? "" })::text[])
                        AS o(id, attempt, started, ms, code, headers, body, error)
                    -- The attempt's tenant is its delivery's (locked above, so it is there).
                    JOIN webhooks.deliveries d ON d.id = o.id::uuid
                    """)
            }
            // Failure streaks: a success ends one, a failure starts one if none is running.
            let ok = Array(Set(outcomes.filter(\.succeeded).map(\.delivery.subscriptionID.lowercased)))
            let failed = Array(Set(outcomes.filter { !$0.succeeded }.map(\.delivery.subscriptionID.lowercased)))
            let gone = Array(Set(outcomes.filter(\.gone).map(\.delivery.subscriptionID.lowercased)))
            if !ok.isEmpty {
                try await tx.query("""
                    UPDATE webhooks.subscriptions SET failing_since = NULL
                    WHERE id = ANY(\(ok)::text[]::uuid[]) AND failing_since IS NOT NULL
                    """)
            }
            var disabled: [UUID] = []
            if !failed.isEmpty {
                try await tx.query("""
                    UPDATE webhooks.subscriptions SET failing_since = now()
                    WHERE id = ANY(\(failed)::text[]::uuid[]) AND failing_since IS NULL
                      AND NOT (id = ANY(\(ok)::text[]::uuid[]))
                    """)
                let rows = try await tx.query("""
                    UPDATE webhooks.subscriptions SET enabled = false, updated_at = now(),
                        disabled_reason = CASE WHEN id = ANY(\(gone)::text[]::uuid[]) THEN 'the endpoint answered 410 Gone'
                                               ELSE 'failing continuously since ' || to_char(failing_since AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') END
                    WHERE enabled AND (id = ANY(\(gone)::text[]::uuid[])
                        OR (id = ANY(\(failed)::text[]::uuid[]) AND failing_since < now() - \(disableAfter) * interval '1 millisecond'))
                    RETURNING id, tenant_id, project_id, callback_url, disabled_reason
                    """)
                for row in rows {
                    let id = try row.decode(UUID.self, at: 0)
                    disabled.append(id)
                    try await outbox.enqueue(CloudEvent(
                        source: "webhook-dispatcher", type: .webhookEndpointDisabled,
                        tenantID: try row.decode(UUID.self, at: 1).lowercased, projectID: try row.decode(UUID.self, at: 2).lowercased,
                        data: .object(["subscription_id": .string(id.lowercased),
                                       "callback_url": .string(try row.decode(String.self, at: 3)),
                                       "reason": .string(try row.decode(String.self, at: 4))])), on: tx)
                }
            }
            return (disabled, outcomes.filter { held.contains($0.delivery.id) })
        }
    }

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
