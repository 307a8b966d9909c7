import FlukePostgres
import FlukeRuntime

/// The `pm` schema. Tables that hold tenant data have row-level security forced on them; the
/// service's login role (`fluke_pm`) owns none of them, so every query passes the policies, which
/// read the tenant from `set_config('app.tenant_id', …, true)` inside each request's transaction.
public enum PMMigrations {
    /// What `<service> migrate` applies, as the schema's owner.
    public static let migrator = PostgresMigrator(schema: "pm", migrations: all)

    static let all: [PostgresMigration] = [
        PostgresMigration("0001_identity_projects_tasks", """
            -- Settings read by the policies. An unset or reset setting reads as '' (or NULL), which
            -- matches no row: a query without a tenant sees nothing.
            CREATE FUNCTION pm.current_tenant() RETURNS uuid LANGUAGE sql STABLE
                AS $$ SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid $$;
            CREATE FUNCTION pm.current_app_user() RETURNS uuid LANGUAGE sql STABLE
                AS $$ SELECT NULLIF(current_setting('app.user_id', true), '')::uuid $$;
            CREATE FUNCTION pm.current_token_hash() RETURNS text LANGUAGE sql STABLE
                AS $$ SELECT NULLIF(current_setting('app.token_hash', true), '') $$;
            CREATE FUNCTION pm.current_login_email() RETURNS text LANGUAGE sql STABLE
                AS $$ SELECT NULLIF(current_setting('app.login_email', true), '') $$;

            CREATE TABLE pm.tenants (
                id uuid PRIMARY KEY,
                name text NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now()
            );

            -- Users are global (one login, possibly several tenants); they are visible only to
            -- the tenants they belong to, to themselves, and to a login naming their email.
            CREATE TABLE pm.users (
                id uuid PRIMARY KEY,
                email text NOT NULL,
                name text NOT NULL,
                password_hash text NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now(),
                updated_at timestamptz NOT NULL DEFAULT now()
            );
            CREATE UNIQUE INDEX users_email ON pm.users (lower(email));

            CREATE TABLE pm.memberships (
                tenant_id uuid NOT NULL REFERENCES pm.tenants(id) ON DELETE CASCADE,
                user_id uuid NOT NULL REFERENCES pm.users(id) ON DELETE CASCADE,
                role text NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
                created_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (tenant_id, user_id)
            );
            CREATE INDEX memberships_user ON pm.memberships (user_id);

            CREATE TABLE pm.refresh_tokens (
                id uuid PRIMARY KEY,
                tenant_id uuid NOT NULL REFERENCES pm.tenants(id) ON DELETE CASCADE,
                user_id uuid NOT NULL REFERENCES pm.users(id) ON DELETE CASCADE,
                family_id uuid NOT NULL,
                token_hash text NOT NULL UNIQUE,
                created_at timestamptz NOT NULL DEFAULT now(),
                expires_at timestamptz NOT NULL,
                rotated_at timestamptz,
                revoked_at timestamptz
            );
            CREATE INDEX refresh_tokens_family ON pm.refresh_tokens (family_id);

            CREATE TABLE pm.projects (
                id uuid PRIMARY KEY,
                tenant_id uuid NOT NULL REFERENCES pm.tenants(id) ON DELETE CASCADE,
                seq bigint GENERATED ALWAYS AS IDENTITY,
                name text NOT NULL,
                description text NOT NULL DEFAULT '',
                stage text NOT NULL CHECK (stage IN ('idea', 'prototype', 'mvp', 'production')),
                repository_url text,
                created_by uuid,
                created_at timestamptz NOT NULL DEFAULT now(),
                updated_at timestamptz NOT NULL DEFAULT now()
            );
            CREATE INDEX projects_tenant_seq ON pm.projects (tenant_id, seq);

            CREATE TABLE pm.api_tokens (
                id uuid PRIMARY KEY,
                tenant_id uuid NOT NULL REFERENCES pm.tenants(id) ON DELETE CASCADE,
                user_id uuid NOT NULL REFERENCES pm.users(id) ON DELETE CASCADE,
                project_id uuid REFERENCES pm.projects(id) ON DELETE CASCADE,
                seq bigint GENERATED ALWAYS AS IDENTITY,
                name text NOT NULL,
                prefix text NOT NULL,
                token_hash text NOT NULL UNIQUE,
                scopes text[] NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now(),
                expires_at timestamptz,
                last_used_at timestamptz,
                revoked_at timestamptz
            );

            CREATE TABLE pm.project_members (
                tenant_id uuid NOT NULL REFERENCES pm.tenants(id) ON DELETE CASCADE,
                project_id uuid NOT NULL REFERENCES pm.projects(id) ON DELETE CASCADE,
                user_id uuid NOT NULL REFERENCES pm.users(id) ON DELETE CASCADE,
                role text NOT NULL CHECK (role IN ('lead', 'developer', 'designer', 'reviewer', 'observer')),
                added_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (project_id, user_id)
            );

            CREATE TABLE pm.milestones (
                id uuid PRIMARY KEY,
                tenant_id uuid NOT NULL REFERENCES pm.tenants(id) ON DELETE CASCADE,
                project_id uuid NOT NULL REFERENCES pm.projects(id) ON DELETE CASCADE,
                seq bigint GENERATED ALWAYS AS IDENTITY,
                title text NOT NULL,
                description text NOT NULL DEFAULT '',
                due_date date,
                status text NOT NULL CHECK (status IN ('planned', 'in_progress', 'done', 'cancelled')),
                created_at timestamptz NOT NULL DEFAULT now(),
                updated_at timestamptz NOT NULL DEFAULT now()
            );
            CREATE INDEX milestones_project ON pm.milestones (project_id, seq);

            CREATE TABLE pm.tasks (
                id uuid PRIMARY KEY,
                tenant_id uuid NOT NULL REFERENCES pm.tenants(id) ON DELETE CASCADE,
                project_id uuid NOT NULL REFERENCES pm.projects(id) ON DELETE CASCADE,
                seq bigint GENERATED ALWAYS AS IDENTITY,
                title text NOT NULL,
                description text NOT NULL DEFAULT '',
                status text NOT NULL CHECK (status IN ('todo', 'in_progress', 'blocked', 'done')),
                assignee_id uuid REFERENCES pm.users(id) ON DELETE SET NULL,
                due_date date,
                labels text[] NOT NULL DEFAULT '{}',
                source text NOT NULL CHECK (source IN ('manual', 'deployment', 'github')),
                created_at timestamptz NOT NULL DEFAULT now(),
                updated_at timestamptz NOT NULL DEFAULT now()
            );
            CREATE INDEX tasks_tenant_seq ON pm.tasks (tenant_id, seq);
            CREATE INDEX tasks_project ON pm.tasks (project_id, seq);
            CREATE INDEX tasks_labels ON pm.tasks USING gin (labels);

            CREATE TABLE pm.audit_log (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                tenant_id uuid NOT NULL REFERENCES pm.tenants(id) ON DELETE CASCADE,
                at timestamptz NOT NULL DEFAULT now(),
                actor_user_id uuid,
                actor_token_id uuid,
                action text NOT NULL,
                object_type text NOT NULL,
                object_id text,
                request_id text,
                details jsonb NOT NULL DEFAULT '{}'
            );
            CREATE INDEX audit_log_tenant ON pm.audit_log (tenant_id, id);

            -- Failed logins per account and per client address (not tenant data: no tenant is
            -- known before a login succeeds).
            CREATE TABLE pm.login_failures (
                key text PRIMARY KEY,
                window_start timestamptz NOT NULL,
                failures integer NOT NULL
            );

            \(Outbox.tableSQL(schema: "pm"))

            -- Row-level security, enforced even for the owner.
            ALTER TABLE pm.tenants ENABLE ROW LEVEL SECURITY;
            ALTER TABLE pm.tenants FORCE ROW LEVEL SECURITY;
            CREATE POLICY tenant_isolation ON pm.tenants
                USING (id = pm.current_tenant()) WITH CHECK (id = pm.current_tenant());

            ALTER TABLE pm.users ENABLE ROW LEVEL SECURITY;
            ALTER TABLE pm.users FORCE ROW LEVEL SECURITY;
            CREATE POLICY users_visible ON pm.users FOR SELECT USING (
                id = pm.current_app_user()
                OR lower(email) = pm.current_login_email()
                OR EXISTS (SELECT 1 FROM pm.memberships m
                           WHERE m.user_id = users.id AND m.tenant_id = pm.current_tenant()));
            CREATE POLICY users_insert ON pm.users FOR INSERT WITH CHECK (true);
            CREATE POLICY users_update ON pm.users FOR UPDATE USING (id = pm.current_app_user());

            ALTER TABLE pm.memberships ENABLE ROW LEVEL SECURITY;
            ALTER TABLE pm.memberships FORCE ROW LEVEL SECURITY;
            CREATE POLICY tenant_isolation ON pm.memberships
                USING (tenant_id = pm.current_tenant()) WITH CHECK (tenant_id = pm.current_tenant());
            CREATE POLICY own_memberships ON pm.memberships FOR SELECT USING (user_id = pm.current_app_user());

            ALTER TABLE pm.refresh_tokens ENABLE ROW LEVEL SECURITY;
            ALTER TABLE pm.refresh_tokens FORCE ROW LEVEL SECURITY;
            CREATE POLICY tenant_isolation ON pm.refresh_tokens
                USING (tenant_id = pm.current_tenant()) WITH CHECK (tenant_id = pm.current_tenant());
            -- Presenting a token (its hash) is what reveals its row.
            CREATE POLICY by_token ON pm.refresh_tokens FOR SELECT USING (token_hash = pm.current_token_hash());

            ALTER TABLE pm.api_tokens ENABLE ROW LEVEL SECURITY;
            ALTER TABLE pm.api_tokens FORCE ROW LEVEL SECURITY;
            CREATE POLICY tenant_isolation ON pm.api_tokens
                USING (tenant_id = pm.current_tenant()) WITH CHECK (tenant_id = pm.current_tenant());
            CREATE POLICY by_token ON pm.api_tokens FOR SELECT USING (token_hash = pm.current_token_hash());

            ALTER TABLE pm.projects ENABLE ROW LEVEL SECURITY;
            ALTER TABLE pm.projects FORCE ROW LEVEL SECURITY;
            CREATE POLICY tenant_isolation ON pm.projects
                USING (tenant_id = pm.current_tenant()) WITH CHECK (tenant_id = pm.current_tenant());

            ALTER TABLE pm.project_members ENABLE ROW LEVEL SECURITY;
            ALTER TABLE pm.project_members FORCE ROW LEVEL SECURITY;
            CREATE POLICY tenant_isolation ON pm.project_members
                USING (tenant_id = pm.current_tenant()) WITH CHECK (tenant_id = pm.current_tenant());

            ALTER TABLE pm.milestones ENABLE ROW LEVEL SECURITY;
            ALTER TABLE pm.milestones FORCE ROW LEVEL SECURITY;
            CREATE POLICY tenant_isolation ON pm.milestones
                USING (tenant_id = pm.current_tenant()) WITH CHECK (tenant_id = pm.current_tenant());

            ALTER TABLE pm.tasks ENABLE ROW LEVEL SECURITY;
            ALTER TABLE pm.tasks FORCE ROW LEVEL SECURITY;
            CREATE POLICY tenant_isolation ON pm.tasks
                USING (tenant_id = pm.current_tenant()) WITH CHECK (tenant_id = pm.current_tenant());

            ALTER TABLE pm.audit_log ENABLE ROW LEVEL SECURITY;
            ALTER TABLE pm.audit_log FORCE ROW LEVEL SECURITY;
            CREATE POLICY tenant_isolation ON pm.audit_log
                USING (tenant_id = pm.current_tenant()) WITH CHECK (tenant_id = pm.current_tenant());
            """),
        PostgresMigration("0002_minted_tokens", """
            -- The token that minted a token, when one did: the child cannot outlive it and is
            -- revoked with it (the whole subtree, see APITokenStore.revoke).
            ALTER TABLE pm.api_tokens ADD COLUMN parent_token_id uuid REFERENCES pm.api_tokens(id) ON DELETE SET NULL;
            CREATE INDEX api_tokens_parent ON pm.api_tokens (parent_token_id) WHERE parent_token_id IS NOT NULL;
            """),
        // The retention job (no tenant) may see and delete expired refresh tokens, nothing else.
        PostgresMigration("0003_refresh_token_retention", """
            CREATE POLICY retention_select ON pm.refresh_tokens FOR SELECT
                USING (current_setting('app.retention', true) = 'on' AND expires_at < now());
            CREATE POLICY retention_delete ON pm.refresh_tokens FOR DELETE
                USING (current_setting('app.retention', true) = 'on' AND expires_at < now());
            """),
        // One task per deployment (DeploymentTaskConsumer): found by its deployment id, unique
        // per tenant (NULLs, every other task, never clash); the highest rank of the events seen
        // and the reasons they gave, so that late or repeated events cannot move it back.
        PostgresMigration("0004_deployment_tasks", """
            ALTER TABLE pm.tasks ADD COLUMN deployment_id uuid;
            ALTER TABLE pm.tasks ADD COLUMN deployment_rank smallint;
            ALTER TABLE pm.tasks ADD COLUMN deployment_notes jsonb;
            ALTER TABLE pm.tasks ADD CONSTRAINT tasks_tenant_deployment UNIQUE (tenant_id, deployment_id);
            -- deploy.* events the consumer could not apply after FLUKE_CONSUMER_MAX_DELIVERIES attempts.
            \(DeadLetters.tableSQL(schema: "pm"))
            """),
        // A tenant's connections to GitHub and Coder. The credential is an envelope (SealedEnvelope:
        // a data key of its own wrapped by FLUKE_ENCRYPTION_KEY, associated data tenant/id), never
        // stored or answered in clear.
        PostgresMigration("0005_connections", """
            CREATE TABLE pm.connections (
                id uuid PRIMARY KEY,
                tenant_id uuid NOT NULL REFERENCES pm.tenants(id) ON DELETE CASCADE,
                provider text NOT NULL CHECK (provider IN ('github', 'coder')),
                kind text NOT NULL CHECK (kind IN ('token', 'app', 'oauth')),
                status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'invalid')),
                status_reason text,
                account jsonb NOT NULL DEFAULT '{}',
                base_url text,
                kek_id text NOT NULL,
                wrapped_key text NOT NULL,
                sealed text NOT NULL,
                created_by uuid,
                created_at timestamptz NOT NULL DEFAULT now(),
                updated_at timestamptz NOT NULL DEFAULT now(),
                checked_at timestamptz NOT NULL DEFAULT now()
            );
            CREATE INDEX connections_tenant ON pm.connections (tenant_id, created_at);
            ALTER TABLE pm.connections ENABLE ROW LEVEL SECURITY;
            ALTER TABLE pm.connections FORCE ROW LEVEL SECURITY;
            CREATE POLICY tenant_isolation ON pm.connections
                USING (tenant_id = pm.current_tenant()) WITH CHECK (tenant_id = pm.current_tenant());
            """),
            // What the fleet says about a project, kept from events: the last deployments of each app
        // (deploy.*, per tenant; FleetStatusStore.keptPerApp) and federation's catalog (federation.project.*: global like the
        // catalog itself, read only through a project the reader can see).
        PostgresMigration("0006_fleet_status", """
            CREATE TABLE pm.app_deployments (
                tenant_id uuid NOT NULL REFERENCES pm.tenants(id) ON DELETE CASCADE,
                project_id uuid NOT NULL REFERENCES pm.projects(id) ON DELETE CASCADE,
                app text NOT NULL,
                deployment_id uuid NOT NULL,
                version text,
                status text NOT NULL,
                phase text,
                reason text,
                rank smallint NOT NULL,
                -- The earliest event seen of the deployment (when it began): the app's latest
                -- deployment is the one that began last, however late its other events come.
                first_event_at timestamptz NOT NULL,
                event_at timestamptz NOT NULL,
                updated_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (tenant_id, project_id, app, deployment_id)
            );
            CREATE INDEX app_deployments_latest ON pm.app_deployments (tenant_id, project_id, app, first_event_at DESC);
            ALTER TABLE pm.app_deployments ENABLE ROW LEVEL SECURITY;
            ALTER TABLE pm.app_deployments FORCE ROW LEVEL SECURITY;
            CREATE POLICY tenant_isolation ON pm.app_deployments
                USING (tenant_id = pm.current_tenant()) WITH CHECK (tenant_id = pm.current_tenant());

            CREATE TABLE pm.catalog_status (
                slug text PRIMARY KEY,
                name text NOT NULL,
                project_id text,
                status text NOT NULL CHECK (status IN ('ONLINE', 'OFFLINE')),
                changed_at timestamptz NOT NULL,
                last_heartbeat_at timestamptz,
                updated_at timestamptz NOT NULL DEFAULT now()
            );
            CREATE INDEX catalog_status_project ON pm.catalog_status (project_id) WHERE project_id IS NOT NULL;
            """),
        // A project's GitHub repository, through one of the tenant's connections: its open issues
        // are the project's `github` tasks (external_id = the issue's node id), kept in step by
        // GitHubIssueSync and GitHub's webhooks (signed with the link's own sealed secret). The
        // sync finds the links due across tenants through app.system, for reading only.
        PostgresMigration("0007_project_repositories", """
            ALTER TABLE pm.tasks ADD COLUMN external_id text;
            ALTER TABLE pm.tasks ADD COLUMN external_url text;
            CREATE UNIQUE INDEX tasks_project_external ON pm.tasks (tenant_id, project_id, external_id)
                WHERE external_id IS NOT NULL;

            CREATE TABLE pm.project_repositories (
                project_id uuid PRIMARY KEY REFERENCES pm.projects(id) ON DELETE CASCADE,
                tenant_id uuid NOT NULL REFERENCES pm.tenants(id) ON DELETE CASCADE,
                connection_id uuid NOT NULL REFERENCES pm.connections(id) ON DELETE CASCADE,
                full_name text NOT NULL,
                github_id bigint NOT NULL,
                html_url text,
                webhook_kek_id text NOT NULL,
                webhook_wrapped_key text NOT NULL,
                webhook_sealed text NOT NULL,
                linked_by uuid,
                linked_at timestamptz NOT NULL DEFAULT now(),
                next_sync_at timestamptz NOT NULL DEFAULT now(),
                synced_at timestamptz,
                sync_error text,
                open_pulls jsonb,
                pulls_checked_at timestamptz
            );
            CREATE INDEX project_repositories_github ON pm.project_repositories (github_id);
            CREATE INDEX project_repositories_due ON pm.project_repositories (next_sync_at);
            ALTER TABLE pm.project_repositories ENABLE ROW LEVEL SECURITY;
            ALTER TABLE pm.project_repositories FORCE ROW LEVEL SECURITY;
            CREATE POLICY tenant_isolation ON pm.project_repositories
                USING (tenant_id = pm.current_tenant()) WITH CHECK (tenant_id = pm.current_tenant());
            CREATE POLICY system_select ON pm.project_repositories FOR SELECT
                USING (current_setting('app.system', true) = 'on');
            """),
        // Coder workspaces linked to projects, through one of the tenant's Coder connections; their
        // status is read again on a schedule (WorkspaceRefresh), which finds the rows due across
        // tenants through app.system, for reading only.
        PostgresMigration("0008_project_workspaces", """
            CREATE TABLE pm.project_workspaces (
                tenant_id uuid NOT NULL REFERENCES pm.tenants(id) ON DELETE CASCADE,
                project_id uuid NOT NULL REFERENCES pm.projects(id) ON DELETE CASCADE,
                workspace_id uuid NOT NULL,
                connection_id uuid NOT NULL REFERENCES pm.connections(id) ON DELETE CASCADE,
                name text NOT NULL,
                owner_name text NOT NULL,
                template text,
                url text NOT NULL,
                status text NOT NULL,
                transition text,
                healthy boolean,
                outdated boolean,
                last_used_at text,
                linked_at timestamptz NOT NULL DEFAULT now(),
                next_check_at timestamptz NOT NULL DEFAULT now(),
                checked_at timestamptz NOT NULL DEFAULT now(),
                check_error text,
                PRIMARY KEY (tenant_id, project_id, workspace_id)
            );
            CREATE INDEX project_workspaces_due ON pm.project_workspaces (next_check_at);
            ALTER TABLE pm.project_workspaces ENABLE ROW LEVEL SECURITY;
            ALTER TABLE pm.project_workspaces FORCE ROW LEVEL SECURITY;
            CREATE POLICY tenant_isolation ON pm.project_workspaces
                USING (tenant_id = pm.current_tenant()) WITH CHECK (tenant_id = pm.current_tenant());
            CREATE POLICY system_select ON pm.project_workspaces FOR SELECT
                USING (current_setting('app.system', true) = 'on');
            """),
        // Login with GitHub: each sign-in's state (its SHA-256, single use, 10 minutes) and PKCE
        // verifier (sealed under the keyring, associated data oauth-state/<hash>). No tenant yet:
        // not a tenant's row.
        PostgresMigration("0009_github_login", """
            CREATE TABLE pm.oauth_states (
                state_hash text PRIMARY KEY,
                kek_id text NOT NULL,
                wrapped_key text NOT NULL,
                sealed text NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now(),
                expires_at timestamptz NOT NULL
            );
            CREATE INDEX oauth_states_expiry ON pm.oauth_states (expires_at);
            """),
        // `project-manager rewrap-keys` re-wraps sealed credentials' data keys across tenants,
        // through app.system: it may read and update those rows, and nothing else.
        PostgresMigration("0010_rewrap_keys", """
            CREATE POLICY system_select ON pm.connections FOR SELECT
                USING (current_setting('app.system', true) = 'on');
            CREATE POLICY system_rewrap ON pm.connections FOR UPDATE
                USING (current_setting('app.system', true) = 'on') WITH CHECK (current_setting('app.system', true) = 'on');
            CREATE POLICY system_rewrap ON pm.project_repositories FOR UPDATE
                USING (current_setting('app.system', true) = 'on') WITH CHECK (current_setting('app.system', true) = 'on');
            """),
        // The dashboard: a user lists the tenants they belong to (the tenant switcher), and a
        // GitHub sign-in started by the dashboard comes back to it with a cookie session.
        PostgresMigration("0011_dashboard_sessions", """
            CREATE POLICY member_tenants ON pm.tenants FOR SELECT USING (EXISTS (
                SELECT 1 FROM pm.memberships m WHERE m.tenant_id = id AND m.user_id = pm.current_app_user()));
            ALTER TABLE pm.oauth_states ADD COLUMN cookie_session boolean NOT NULL DEFAULT false;
            """),
        // Each catalog entry's status changes (the dashboard's catalog history): the last
        // FleetStatusStore.historyLimit per entry, global like pm.catalog_status.
        PostgresMigration("0012_catalog_history", """
            CREATE TABLE pm.catalog_history (
                slug text NOT NULL,
                status text NOT NULL CHECK (status IN ('ONLINE', 'OFFLINE')),
                previous_status text NOT NULL,
                changed_at timestamptz NOT NULL,
                PRIMARY KEY (slug, changed_at)
            );
            """),
]
}
