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
    func recordTest(subscription: Subscription, principal: Principal) async throws -> UUID {
        let eventID = UUID()
        let now = Date()
        let body = try Self.body(type: EventType.webhookTest.rawValue, time: now, project: subscription.projectID,
                                 data: try JSONValue(encoding: WebhookTestPayload(subscriptionID: subscription.id)))
        let rows = try await db.pipeline(principal, [
            """
            INSERT INTO webhooks.deliveries (id, subscription_id, tenant_id, event_id, event_type, event_time, body, max_attempts)
            VALUES (gen_random_uuid(), \(subscription.id), \(principal.tenantID), \(eventID), \(EventType.webhookTest.rawValue),
                    \(RFC3339.format(now))::timestamptz, \(body), \(settings.schedule.count))
            RETURNING id
            """,
            "SELECT pg_notify(\(Self.channel), \(subscription.id.lowercased))",
        ])
        return try rows[0].first!.decode(UUID.self, at: 0)
    }
}
