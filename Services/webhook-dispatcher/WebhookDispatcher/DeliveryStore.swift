import FlukeModels
import FlukePostgres
import FlukeRuntime
import Foundation

/// Reading deliveries and their attempts, and sending failed ones again, always in the caller's
/// tenant (row-level security, see ``TenantDatabase``).
struct DeliveryStore: Sendable {
    let db: TenantDatabase

    static let columns: StaticString = """
        d.id, d.subscription_id, d.event_id, d.event_type, d.event_time, d.status, d.attempts, d.max_attempts,
        d.next_attempt_at, d.last_status_code, d.last_error, d.created_at, d.finished_at, d.seq
        """

    static func decode(_ row: PostgresRow) throws -> Delivery {
        Delivery(id: try row.decode(UUID.self, at: 0), subscriptionID: try row.decode(UUID.self, at: 1),
                 eventID: try row.decode(UUID.self, at: 2), eventType: try row.decode(String.self, at: 3),
                 eventTime: try row.decode(Date.self, at: 4), status: try row.decode(String.self, at: 5),
                 attempts: try row.decode(Int.self, at: 6), maxAttempts: try row.decode(Int.self, at: 7),
                 nextAttemptAt: try row.decode(Date?.self, at: 8), lastStatusCode: try row.decode(Int?.self, at: 9),
                 lastError: try row.decode(String?.self, at: 10), createdAt: try row.decode(Date.self, at: 11),
                 finishedAt: try row.decode(Date?.self, at: 12))
    }

    /// A delivery of a subscription the caller may see, or 404.
    func get(_ id: UUID, principal: Principal, withAttempts: Bool = false) async throws -> Delivery {
        var statements: [PostgresQuery] = ["""
            SELECT \(sql: Self.columns), s.project_id FROM webhooks.deliveries d
            JOIN webhooks.subscriptions s ON s.id = d.subscription_id
            WHERE d.id = \(id) AND d.tenant_id = \(principal.tenantID)
            """]
        // The attempts in the same round trip; they are used only if the delivery may be seen.
        if withAttempts {
            statements.append("""
                SELECT attempt, started_at, duration_ms, status_code, response_headers::text, response_body, error
                FROM webhooks.attempts WHERE delivery_id = \(id) AND tenant_id = \(principal.tenantID) ORDER BY id
                """)
        }
        let results = try await db.read(tenant: principal.tenantID, user: principal.userID, statements)
        guard let row = results[0].first, principal.canSee(project: try row.decode(UUID.self, at: 14)) else {
            throw WebhookError.notFound("delivery")
        }
        var delivery = try Self.decode(row)
        if withAttempts {
            let attempts = results[1]
            delivery.attemptLog = try attempts.map { a in
                Attempt(attempt: try a.decode(Int.self, at: 0), startedAt: try a.decode(Date.self, at: 1),
                        durationMs: try a.decode(Double.self, at: 2), statusCode: try a.decode(Int?.self, at: 3),
                        responseHeaders: try a.decode(String?.self, at: 4).map(SubscriptionStore.headers(fromJSON:)),
                        responseBody: try a.decode(String?.self, at: 5), error: try a.decode(String?.self, at: 6))
            }
        }
        return delivery
    }

    func list(subscription: UUID, principal: Principal, status: String?, eventType: String?, since: Date?, after: Int?, limit: Int)
        async throws -> (items: [Delivery], last: Int?) {
        let rows = try await db.read(principal, """
            SELECT \(sql: Self.columns) FROM webhooks.deliveries d
            WHERE d.subscription_id = \(subscription) AND d.seq > \(after ?? 0)
              AND (\(status)::text IS NULL OR d.status = \(status)::text)
              AND (\(eventType)::text IS NULL OR d.event_type = \(eventType)::text)
              AND (\(since.map { RFC3339.format($0) })::timestamptz IS NULL OR d.created_at >= \(since.map { RFC3339.format($0) })::timestamptz)
            ORDER BY d.seq LIMIT \(limit)
            """)[0]
        return (try rows.map(Self.decode), try rows.rows.last.map { try $0.decode(Int.self, at: 13) })
    }

    /// One more attempt for a finished delivery (a success may be sent again, too): due now,
    /// and failed again if that attempt fails. 409 while it is still pending.
    func retry(_ id: UUID, principal: Principal) async throws {
        let delivery = try await get(id, principal: principal)
        guard delivery.status != "pending" else {
            throw WebhookError.deliveryPending
        }
        _ = try await db.pipeline(principal, [
            """
            UPDATE webhooks.deliveries SET status = 'pending', next_attempt_at = now(), max_attempts = attempts + 1,
                finished_at = NULL
            WHERE id = \(id) AND status <> 'pending'
            """,
            "SELECT pg_notify(\(DeliveryQueue.channel), '')",
        ])
    }

    /// Queues every delivery of the subscription that failed since `since` for one more attempt.
    func recover(subscription: UUID, since: Date, principal: Principal) async throws -> Int {
        let rows = try await db.pipeline(principal, [
            """
            UPDATE webhooks.deliveries SET status = 'pending', next_attempt_at = now(), max_attempts = attempts + 1,
                finished_at = NULL
            WHERE subscription_id = \(subscription) AND tenant_id = \(principal.tenantID) AND status = 'failed'
              AND created_at >= \(RFC3339.format(since))::timestamptz
            """,
            "SELECT pg_notify(\(DeliveryQueue.channel), '')",
        ])
        return rows[0].affectedRows
    }
}
