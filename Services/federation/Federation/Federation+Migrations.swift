import FlukePostgres
import FlukeRuntime

/// The `federation` schema, in order. Never edit an applied migration: add the next one.
public enum FederationMigrations {
    /// What `<service> migrate` applies, as the schema's owner.
    public static let migrator = PostgresMigrator(schema: "federation", migrations: all)

    static let all: [PostgresMigration] = [
        PostgresMigration("0001_catalog_status_outbox", """
            CREATE TABLE federation.projects (
                slug text PRIMARY KEY,
                name text NOT NULL,
                description text,
                owner text,
                repository text,
                tags text[] NOT NULL DEFAULT '{}',
                project_id uuid,
                in_catalog boolean NOT NULL DEFAULT true,
                status text NOT NULL DEFAULT 'UNKNOWN' CHECK (status IN ('UNKNOWN', 'ONLINE', 'OFFLINE')),
                status_changed_at timestamptz,
                last_heartbeat_at timestamptz
            );
            CREATE INDEX projects_online_idx ON federation.projects (last_heartbeat_at) WHERE status = 'ONLINE';

            CREATE TABLE federation.instances (
                slug text NOT NULL REFERENCES federation.projects (slug) ON DELETE CASCADE,
                instance_id text NOT NULL,
                version text NOT NULL,
                metadata jsonb NOT NULL DEFAULT '{}',
                sent_at timestamptz NOT NULL,
                last_heartbeat_at timestamptz NOT NULL,
                PRIMARY KEY (slug, instance_id)
            );

            CREATE TABLE federation.status_history (
                id bigserial PRIMARY KEY,
                slug text NOT NULL REFERENCES federation.projects (slug) ON DELETE CASCADE,
                from_status text NOT NULL,
                to_status text NOT NULL,
                changed_at timestamptz NOT NULL,
                reason text NOT NULL
            );
            CREATE INDEX status_history_slug_idx ON federation.status_history (slug, id DESC);

            \(Outbox.tableSQL(schema: "federation"))
            """),
        // The read model reloads only what changed: every write stamps changed_at.
        PostgresMigration("0002_projects_changed_at", """
            ALTER TABLE federation.projects ADD COLUMN changed_at timestamptz NOT NULL DEFAULT now();
            CREATE INDEX projects_changed_idx ON federation.projects (changed_at);
            """),
    ]
}
