import FlukeModels
import FlukePostgres
import FlukeRuntime
import Foundation

/// Recording what attempts came to.
extension DeliveryQueue {
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
        let columns = OutcomeColumns(outcomes, settings: settings)
        // As the fleet (outcomes of every tenant's deliveries), with webhook.endpoint.disabled
        // enqueued in the same transaction; asSystem wakes the outbox relay after commit.
        return try await db.asSystem { tx in
            // A subscription deleted while its deliveries were in flight took them along
            // (ON DELETE CASCADE): their attempts have nothing left to be logged against, and
            // inserting them would fail the whole batch on every retry, so nobody's outcome
            // would be recorded again. Locking the rows that remain keeps a delete from
            // removing them before this transaction commits.
            let remaining = Set(try await tx.query("""
                SELECT id FROM webhooks.deliveries WHERE id = ANY(\(columns.ids)::text[]::uuid[]) ORDER BY id FOR KEY SHARE
                """).map { try $0.decode(UUID.self, at: 0) })
            let held = try await settle(columns, on: tx)
            try await logAttempts(outcomes, columns, only: outcomes.indices.filter { remaining.contains(outcomes[$0].delivery.id) },
                                  on: tx)
            let disabled = try await updateFailureStreaks(outcomes, on: tx)
            return (disabled, outcomes.filter { held.contains($0.delivery.id) })
        }
    }

    /// Finishes or reschedules the deliveries this replica still holds; returns their ids.
    private func settle(_ columns: OutcomeColumns, on tx: PostgresHandle) async throws -> Set<UUID> {
        let (ids, attempts, statuses, delays, codes, errors) =
            (columns.ids, columns.attempts, columns.statuses, columns.delays, columns.codes, columns.errors)
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
        return Set(try updated.map { try $0.decode(UUID.self, at: 0) })
    }

    /// Logs the attempts at `logged` (those whose delivery still exists).
    private func logAttempts(_ outcomes: [Outcome], _ columns: OutcomeColumns, only logged: [Int],
                             on tx: PostgresHandle) async throws {
        guard !logged.isEmpty else { return }
        let (ids, attempts, codes, errors, headers) = (columns.ids, columns.attempts, columns.codes, columns.errors, columns.headers)
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

    /// Ends the failure streaks of subscriptions that succeeded, starts those of subscriptions
    /// that failed, and disables (with `webhook.endpoint.disabled`) those answering 410 or failing
    /// for longer than `disableAfter`. Returns the subscriptions disabled.
    private func updateFailureStreaks(_ outcomes: [Outcome], on tx: PostgresHandle) async throws -> [UUID] {
        let disableAfter = Int(settings.disableAfter.wholeMilliseconds)
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
                let payload = WebhookEndpointDisabledPayload(subscriptionID: id, callbackURL: try row.decode(String.self, at: 3),
                                                             reason: try row.decode(String.self, at: 4))
                try await outbox.enqueue(try CloudEvent(
                    source: "webhook-dispatcher", type: .webhookEndpointDisabled,
                    tenantID: try row.decode(UUID.self, at: 1).lowercased, projectID: try row.decode(UUID.self, at: 2).lowercased,
                    payload: payload), on: tx)
            }
        }
        return disabled
    }
}

/// A batch of outcomes as the parallel text arrays the statements `unnest`.
struct OutcomeColumns {
    var ids: [String] = [], attempts: [String] = [], statuses: [String] = [], delays: [String] = []
    var codes: [String?] = [], errors: [String?] = [], headers: [String?] = []

    init(_ outcomes: [DeliveryQueue.Outcome], settings: DeliverySettings) {
        for outcome in outcomes {
            ids.append(outcome.delivery.id.lowercased)
            attempts.append(String(outcome.delivery.attempt))
            codes.append(outcome.statusCode.map(String.init))
            errors.append(outcome.error)
            headers.append(outcome.responseHeaders.map(SubscriptionStore.headersJSON))
            if outcome.succeeded {
                statuses.append("succeeded"); delays.append("0")
            } else if outcome.gone || outcome.delivery.attempt >= outcome.delivery.maxAttempts {
                statuses.append("failed"); delays.append("0")
            } else {
                var delay = settings.delay(afterFailures: outcome.delivery.attempt) ?? .zero
                if let retryAfter = outcome.retryAfter, retryAfter > delay {
                    delay = min(retryAfter, DeliveryQueue.maxRetryAfter)
                }
                statuses.append("pending"); delays.append(String(Int(delay.wholeMilliseconds)))
            }
        }
    }
}
