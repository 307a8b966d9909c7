import FlukePostgres
import FlukeRuntime

/// The `context` schema: a replica of project-manager's projects, team and milestones (fed by
/// events), and what context-api owns: env vars, memories, MCP configuration, providers, usage.
public enum ContextMigrations {
    /// What `<service> migrate` applies, as the schema's owner.
    public static let migrator = PostgresMigrator(schema: "context", migrations: all)

    static let all: [PostgresMigration] = [
        PostgresMigration("0001_context", """
            -- Replica (written only by the event consumer).
            CREATE TABLE context.projects (
                id uuid PRIMARY KEY,
                tenant_id uuid NOT NULL,
                name text NOT NULL,
                description text NOT NULL DEFAULT '',
                stage text NOT NULL,
                repository_url text,
                deleted boolean NOT NULL DEFAULT false,
                source_time timestamptz NOT NULL,
                updated_at timestamptz NOT NULL DEFAULT now()
            );
            CREATE TABLE context.team_members (
                project_id uuid NOT NULL,
                user_id uuid NOT NULL,
                tenant_id uuid NOT NULL,
                name text NOT NULL,
                email text NOT NULL,
                role text NOT NULL,
                source_time timestamptz NOT NULL,
                PRIMARY KEY (project_id, user_id)
            );
            CREATE TABLE context.milestones (
                id uuid PRIMARY KEY,
                project_id uuid NOT NULL,
                tenant_id uuid NOT NULL,
                title text NOT NULL,
                description text NOT NULL DEFAULT '',
                due_date text,
                status text NOT NULL,
                deleted boolean NOT NULL DEFAULT false,
                source_time timestamptz NOT NULL
            );
            CREATE INDEX milestones_project ON context.milestones (project_id);
            -- Event ids already applied: redelivery changes nothing.
            CREATE TABLE context.processed_events (
                event_id uuid PRIMARY KEY,
                processed_at timestamptz NOT NULL DEFAULT now()
            );

            CREATE TABLE context.env_vars (
                project_id uuid NOT NULL,
                tenant_id uuid NOT NULL,
                environment text NOT NULL CHECK (environment IN ('development', 'staging', 'production')),
                key text NOT NULL,
                secret boolean NOT NULL,
                key_id text NOT NULL,
                sealed text NOT NULL,
                version integer NOT NULL DEFAULT 1,
                updated_by uuid,
                updated_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (project_id, environment, key)
            );
            CREATE TABLE context.env_access_log (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                project_id uuid NOT NULL,
                tenant_id uuid NOT NULL,
                environment text NOT NULL,
                key text NOT NULL,
                actor_user_id uuid,
                actor_token_id uuid,
                via text NOT NULL,
                at timestamptz NOT NULL DEFAULT now()
            );
            CREATE INDEX env_access_log_project ON context.env_access_log (project_id, id);

            CREATE TABLE context.memories (
                id uuid PRIMARY KEY,
                project_id uuid NOT NULL,
                tenant_id uuid NOT NULL,
                external_id uuid NOT NULL,
                memory_type text NOT NULL CHECK (memory_type IN ('fact', 'convention', 'gotcha', 'decision')),
                content text NOT NULL,
                tags text[] NOT NULL DEFAULT '{}',
                created_by uuid,
                created_at timestamptz NOT NULL DEFAULT now(),
                updated_at timestamptz NOT NULL,
                version integer NOT NULL DEFAULT 1,
                synced_at timestamptz NOT NULL DEFAULT now(),
                deleted_at timestamptz,
                seq bigint GENERATED ALWAYS AS IDENTITY,
                UNIQUE (project_id, external_id)
            );
            CREATE INDEX memories_project ON context.memories (project_id, seq);
            CREATE INDEX memories_tags ON context.memories USING gin (tags);
            CREATE TABLE context.memory_conflicts (
                id uuid PRIMARY KEY,
                memory_id uuid NOT NULL REFERENCES context.memories(id) ON DELETE CASCADE,
                project_id uuid NOT NULL,
                tenant_id uuid NOT NULL,
                winner text NOT NULL CHECK (winner IN ('server', 'client')),
                losing_memory_type text NOT NULL,
                losing_content text NOT NULL,
                losing_tags text[] NOT NULL,
                losing_updated_at timestamptz NOT NULL,
                losing_version integer NOT NULL,
                base_version integer,
                resolved_version integer NOT NULL,
                created_by uuid,
                created_at timestamptz NOT NULL DEFAULT now()
            );
            CREATE INDEX memory_conflicts_project ON context.memory_conflicts (project_id, created_at);

            CREATE TABLE context.mcp_configurations (
                project_id uuid PRIMARY KEY,
                tenant_id uuid NOT NULL,
                preset text,
                enabled_plugins text[] NOT NULL DEFAULT '{}',
                context_level text NOT NULL DEFAULT 'standard' CHECK (context_level IN ('minimal', 'standard', 'full')),
                plugin_settings jsonb NOT NULL DEFAULT '{}',
                version integer NOT NULL DEFAULT 1,
                updated_by uuid,
                updated_at timestamptz NOT NULL DEFAULT now()
            );

            -- One ordered feed of every change to a project's context. Writers take the project's
            -- advisory lock before appending, so within a project seq order is commit order and
            -- a reader resuming after its last seq misses nothing.
            CREATE TABLE context.changes (
                seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                project_id uuid NOT NULL,
                tenant_id uuid NOT NULL,
                entity text NOT NULL,
                entity_id text NOT NULL,
                op text NOT NULL CHECK (op IN ('upsert', 'delete')),
                data jsonb NOT NULL,
                at timestamptz NOT NULL DEFAULT now()
            );
            CREATE INDEX changes_project ON context.changes (project_id, seq);

            \(Outbox.tableSQL(schema: "context"))
            """),
        PostgresMigration("0002_mcp_providers_usage", """
            -- The MCP plugin registry: each plugin's settings are validated against its schema.
            CREATE TABLE context.mcp_plugins (
                name text PRIMARY KEY,
                description text NOT NULL,
                settings_schema jsonb NOT NULL
            );
            INSERT INTO context.mcp_plugins (name, description, settings_schema) VALUES
              ('flukebase-connect', 'Project context, memories and sync for AI coding tools',
               '{"type":"object","additionalProperties":false,"properties":{"auto_sync":{"type":"boolean"},"memory_sync":{"type":"boolean"},"sync_interval_seconds":{"type":"integer","minimum":10,"maximum":86400}}}'),
              ('github', 'Repositories, issues and pull requests',
               '{"type":"object","additionalProperties":false,"properties":{"repos":{"type":"array","maxItems":50,"items":{"type":"string","minLength":3,"maxLength":200}},"auto_pr":{"type":"boolean"}}}'),
              ('sentry', 'Errors and performance issues',
               '{"type":"object","additionalProperties":false,"required":["organization"],"properties":{"organization":{"type":"string","minLength":1,"maxLength":100},"project":{"type":"string","maxLength":100}}}'),
              ('filesystem', 'Local files under chosen roots',
               '{"type":"object","additionalProperties":false,"properties":{"roots":{"type":"array","maxItems":20,"items":{"type":"string","minLength":1,"maxLength":1024}},"read_only":{"type":"boolean"}}}');

            CREATE TABLE context.mcp_presets (
                id uuid PRIMARY KEY,
                tenant_id uuid NOT NULL,
                name text NOT NULL,
                enabled_plugins text[] NOT NULL DEFAULT '{}',
                context_level text NOT NULL DEFAULT 'standard' CHECK (context_level IN ('minimal', 'standard', 'full')),
                plugin_settings jsonb NOT NULL DEFAULT '{}',
                created_at timestamptz NOT NULL DEFAULT now(),
                updated_at timestamptz NOT NULL DEFAULT now(),
                UNIQUE (tenant_id, name)
            );

            CREATE TABLE context.ai_providers (
                name text PRIMARY KEY,
                display_name text NOT NULL,
                tools text[] NOT NULL DEFAULT '{}',
                docs_url text NOT NULL,
                last_audit timestamptz,
                last_audit_status text NOT NULL DEFAULT 'pending' CHECK (last_audit_status IN ('pending', 'ok', 'failed')),
                last_audit_detail text,
                updated_at timestamptz NOT NULL DEFAULT now()
            );
            INSERT INTO context.ai_providers (name, display_name, tools, docs_url) VALUES
              ('anthropic', 'Anthropic', '{claude-code,claude-desktop}', 'https://docs.flukebase.com/ai/anthropic'),
              ('openai', 'OpenAI', '{codex-cli,chatgpt-desktop,copilot}', 'https://docs.flukebase.com/ai/openai'),
              ('google', 'Google', '{gemini-cli}', 'https://docs.flukebase.com/ai/google');

            CREATE TABLE context.installations (
                project_id uuid NOT NULL,
                tenant_id uuid NOT NULL,
                client_id text NOT NULL,
                user_agent text NOT NULL DEFAULT '',
                version text,
                first_seen timestamptz NOT NULL,
                last_seen timestamptz NOT NULL,
                context_fetches bigint NOT NULL DEFAULT 0,
                memory_syncs bigint NOT NULL DEFAULT 0,
                last_sync_at timestamptz,
                PRIMARY KEY (project_id, client_id)
            );
            CREATE TABLE context.usage_daily (
                project_id uuid NOT NULL,
                tenant_id uuid NOT NULL,
                day date NOT NULL,
                context_fetches bigint NOT NULL DEFAULT 0,
                memory_syncs bigint NOT NULL DEFAULT 0,
                PRIMARY KEY (project_id, day)
            );
            """),
        PostgresMigration("0003_provider_tenancy_audit_lease", """
            -- Registry entries are the fleet's (tenant_id NULL: seeded, read-only to tenants) or one
            -- tenant's (added by its admins, or overriding a fleet entry of the same name for that
            -- tenant only). Entries added before this migration stay fleet-wide.
            ALTER TABLE context.ai_providers DROP CONSTRAINT ai_providers_pkey;
            ALTER TABLE context.ai_providers ADD COLUMN tenant_id uuid;
            CREATE UNIQUE INDEX ai_providers_fleet_name ON context.ai_providers (name) WHERE tenant_id IS NULL;
            CREATE UNIQUE INDEX ai_providers_tenant_name ON context.ai_providers (tenant_id, name) WHERE tenant_id IS NOT NULL;

            -- One replica audits at a time: a lease row rather than a session advisory lock, so
            -- that no pooled connection is held while the audit waits on the network.
            CREATE TABLE context.provider_audit_lease (
                id integer PRIMARY KEY CHECK (id = 1),
                holder uuid,
                leased_until timestamptz NOT NULL
            );
            INSERT INTO context.provider_audit_lease (id, holder, leased_until) VALUES (1, NULL, '-infinity');
            """),
        // Events the replica consumer could not apply after FLUKE_CONSUMER_MAX_DELIVERIES attempts.
        PostgresMigration("0003_dead_letters", DeadLetters.tableSQL(schema: "context")),
        // Row-level security on every table holding tenants' rows, forced so that not even a role
        // owning the table escapes it: the service's role sees a tenant's rows only inside a
        // transaction that set app.tenant_id (a request) or app.system (the fleet's background
        // work), and nothing otherwise. The fleet's own tables (processed_events, dead_letters,
        // outbox, provider_audit_lease, mcp_plugins, schema_migrations) hold no tenant's data.
        PostgresMigration("0005_row_level_security", tenantTables.map { TenantDatabase.policySQL(table: $0) }.joined(separator: "\n") + """

            -- The provider registry mixes the fleet's entries (tenant_id NULL), which every tenant
            -- reads, with tenants' own: anyone may read the fleet's, but only the fleet itself
            -- (app.system) may write them, and a tenant writes only its own. Permissive policies
            -- add up per command, so the SELECT-only policy widens reads and nothing else.
            ALTER TABLE context.ai_providers ENABLE ROW LEVEL SECURITY;
            ALTER TABLE context.ai_providers FORCE ROW LEVEL SECURITY;
            CREATE POLICY tenant_isolation ON context.ai_providers
                USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid
                       OR current_setting('app.system', true) = 'on')
                WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid
                            OR current_setting('app.system', true) = 'on');
            CREATE POLICY fleet_entries_readable ON context.ai_providers FOR SELECT USING (tenant_id IS NULL);
            """),
        // A deploy reads secrets with neither user nor token (fluke.rpc.context.env): its row
        // names the deployment instead, so the log says who read rather than leaving it blank.
        PostgresMigration("0006_env_access_deployment", """
            ALTER TABLE context.env_access_log ADD COLUMN deployment_id uuid;
            """),
    ]

    /// Tables with a `tenant_id` column whose rows all belong to one tenant each (ai_providers,
    /// which also holds the fleet's entries, has its own policies).
    static let tenantTables = [
        "context.projects", "context.team_members", "context.milestones", "context.env_vars", "context.env_access_log",
        "context.memories", "context.memory_conflicts", "context.mcp_configurations", "context.changes",
        "context.mcp_presets", "context.installations", "context.usage_daily",
    ]
}
