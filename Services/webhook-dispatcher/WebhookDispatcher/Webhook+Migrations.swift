import FlukePostgres
import FlukeRuntime

/// The `webhooks` schema: subscriptions and their sealed secrets, the delivery queue, and the
/// log of every attempt.
public enum WebhookMigrations {
    /// What `<service> migrate` applies, as the schema's owner.
    public static let migrator = PostgresMigrator(schema: "webhooks", migrations: all)

    static let all: [PostgresMigration] = [
        PostgresMigration("0001_webhooks", """
            CREATE TABLE webhooks.subscriptions (
                id uuid PRIMARY KEY,
                tenant_id uuid NOT NULL,
                project_id uuid NOT NULL,
                -- Exact types, prefixes ending in ".*", or "*".
                events text[] NOT NULL,
                callback_url text NOT NULL,
                description text NOT NULL DEFAULT '',
                rate_limit_per_second integer CHECK (rate_limit_per_second > 0),
                headers jsonb NOT NULL DEFAULT '{}',
                enabled boolean NOT NULL DEFAULT true,
                disabled_reason text,
                -- Set at the first failure after a success; the subscription is disabled once
                -- it has failed for WEBHOOK_DISABLE_AFTER.
                failing_since timestamptz,
                created_by uuid,
                created_at timestamptz NOT NULL DEFAULT now(),
                updated_at timestamptz NOT NULL DEFAULT now()
            );
            CREATE INDEX subscriptions_project ON webhooks.subscriptions (tenant_id, project_id);

            -- Signing secrets, sealed with FLUKE_ENCRYPTION_KEY (the subscription id is the
            -- associated data). A rotated-out secret keeps signing until expires_at.
            CREATE TABLE webhooks.secrets (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                subscription_id uuid NOT NULL REFERENCES webhooks.subscriptions (id) ON DELETE CASCADE,
                key_id text NOT NULL,
                sealed text NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now(),
                expires_at timestamptz
            );
            CREATE INDEX secrets_subscription ON webhooks.secrets (subscription_id);

            -- The queue. A delivery is due when pending and next_attempt_at has passed; a claim
            -- moves next_attempt_at one lease ahead, so a replica that dies mid-attempt leaves
            -- the delivery to be claimed again when the lease runs out.
            CREATE TABLE webhooks.deliveries (
                seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                id uuid NOT NULL UNIQUE,
                subscription_id uuid NOT NULL REFERENCES webhooks.subscriptions (id) ON DELETE CASCADE,
                tenant_id uuid NOT NULL,
                event_id uuid NOT NULL,
                event_type text NOT NULL,
                event_time timestamptz NOT NULL,
                -- The exact body sent on every attempt.
                body text NOT NULL,
                status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
                attempts integer NOT NULL DEFAULT 0,
                max_attempts integer NOT NULL,
                next_attempt_at timestamptz NOT NULL DEFAULT now(),
                leased_by text,
                last_status_code integer,
                last_error text,
                created_at timestamptz NOT NULL DEFAULT now(),
                finished_at timestamptz,
                UNIQUE (event_id, subscription_id)
            );
            CREATE INDEX deliveries_due ON webhooks.deliveries (next_attempt_at) WHERE status = 'pending';
            -- First attempts leave in event order per subscription (see DeliveryQueue.claim).
            CREATE INDEX deliveries_unsent ON webhooks.deliveries (subscription_id, seq) WHERE status = 'pending' AND attempts = 0;
            CREATE INDEX deliveries_subscription ON webhooks.deliveries (subscription_id, seq);

            -- Which replica serves a subscription, until when (renewed with every claim).
            CREATE TABLE webhooks.lanes (
                subscription_id uuid PRIMARY KEY REFERENCES webhooks.subscriptions (id) ON DELETE CASCADE,
                owner text NOT NULL,
                until timestamptz NOT NULL
            );

            -- The one replica taking events in (see Intake): one row, leased.
            CREATE TABLE webhooks.intake_lease (
                id integer PRIMARY KEY CHECK (id = 1),
                owner text NOT NULL,
                until timestamptz NOT NULL
            );

            CREATE TABLE webhooks.attempts (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                delivery_id uuid NOT NULL REFERENCES webhooks.deliveries (id) ON DELETE CASCADE,
                attempt integer NOT NULL,
                started_at timestamptz NOT NULL,
                duration_ms double precision NOT NULL,
                status_code integer,
                response_headers jsonb,
                response_body text,
                error text,
                replica text NOT NULL
            );
            CREATE INDEX attempts_delivery ON webhooks.attempts (delivery_id, id);

            \(Outbox.tableSQL(schema: "webhooks"))
            """),
        // Claims go lane by lane: a subscription's pending deliveries in seq order. No index may
        // lead with seq alone or with next_attempt_at alone, or the planner, misled by a queue
        // table's always-stale statistics, walks the whole history (or every due row) to find
        // one subscription's next deliveries.
        // A claim now sets leased_until, which no index covers, instead of moving
        // next_attempt_at: the claim's update is then a heap-only (HOT) update that writes no
        // index entry, and the free space fillfactor leaves on each page is what makes it so.
        PostgresMigration("0002_deliveries_by_lane", """
            ALTER TABLE webhooks.deliveries ADD COLUMN leased_until timestamptz;
            ALTER TABLE webhooks.deliveries SET (fillfactor = 80);
            ALTER TABLE webhooks.attempts DROP CONSTRAINT attempts_delivery_id_fkey;
            ALTER TABLE webhooks.deliveries DROP CONSTRAINT deliveries_pkey;
            ALTER TABLE webhooks.deliveries DROP CONSTRAINT deliveries_id_key;
            ALTER TABLE webhooks.deliveries ADD PRIMARY KEY (id);
            ALTER TABLE webhooks.attempts ADD CONSTRAINT attempts_delivery_id_fkey
                FOREIGN KEY (delivery_id) REFERENCES webhooks.deliveries (id) ON DELETE CASCADE;
            DROP INDEX webhooks.deliveries_due;
            DROP INDEX webhooks.deliveries_unsent;
            CREATE INDEX deliveries_pending ON webhooks.deliveries (subscription_id, seq) WHERE status = 'pending';
            CREATE INDEX deliveries_pending_due ON webhooks.deliveries (subscription_id, next_attempt_at) WHERE status = 'pending';
            CREATE INDEX deliveries_failed ON webhooks.deliveries (subscription_id, seq) WHERE status = 'failed';
            """),
        // Events the intake could not record after FLUKE_CONSUMER_MAX_DELIVERIES attempts.
        PostgresMigration("0003_dead_letters", DeadLetters.tableSQL(schema: "webhooks")),
        // Row-level security on every table holding a tenant's rows (see TenantDatabase): the
        // service's login role sees nothing until a transaction names a tenant (requests) or
        // says it is the fleet's own work (intake, claims, outcomes, metrics, retention).
        // Secrets and attempts were reached only through their subscription or delivery; they
        // get their own tenant_id (backfilled here, set on every insert) so that one policy
        // serves every table and no policy has to join. The fleet's own tables (lanes,
        // intake_lease, dead_letters, outbox, schema_migrations) hold no tenant's rows to keep apart.
        PostgresMigration("0004_row_level_security", """
            ALTER TABLE webhooks.secrets ADD COLUMN tenant_id uuid;
            UPDATE webhooks.secrets k SET tenant_id = s.tenant_id FROM webhooks.subscriptions s WHERE s.id = k.subscription_id;
            ALTER TABLE webhooks.secrets ALTER COLUMN tenant_id SET NOT NULL;
            ALTER TABLE webhooks.attempts ADD COLUMN tenant_id uuid;
            UPDATE webhooks.attempts a SET tenant_id = d.tenant_id FROM webhooks.deliveries d WHERE d.id = a.delivery_id;
            ALTER TABLE webhooks.attempts ALTER COLUMN tenant_id SET NOT NULL;
            """ + WebhookMigrations.tenantTables.map { TenantDatabase.policySQL(table: $0) }.joined(separator: "\n")),
    ]

    /// The tables under row-level security: every one with a `tenant_id`.
    static let tenantTables = ["webhooks.subscriptions", "webhooks.secrets", "webhooks.deliveries", "webhooks.attempts"]
}
