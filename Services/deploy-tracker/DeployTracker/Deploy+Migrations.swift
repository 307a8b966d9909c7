import FlukePostgres
import FlukeRuntime

/// The `deploy` schema: apps, their kept releases, deployments with their phases and lease, and
/// each deployment's log.
public enum DeployMigrations {
    public static let migrator = PostgresMigrator(schema: "deploy", migrations: all)

    static let all: [PostgresMigration] = [
        PostgresMigration("0001_apps_releases_deployments", """
            CREATE TABLE deploy.apps (
                id uuid PRIMARY KEY,
                tenant_id uuid NOT NULL,
                project_id uuid NOT NULL,
                name text NOT NULL CHECK (name ~ '^[a-z][a-z0-9-]{0,62}$'),
                executor text NOT NULL CHECK (executor IN ('process', 'swarm', 'kubernetes')),
                spec jsonb NOT NULL,
                current_version int,
                status text NOT NULL DEFAULT 'new',
                created_by uuid,
                created_at timestamptz NOT NULL DEFAULT now(),
                updated_at timestamptz NOT NULL DEFAULT now(),
                UNIQUE (tenant_id, name)
            );
            CREATE INDEX apps_project ON deploy.apps (tenant_id, project_id, name);
            \(TenantDatabase.policySQL(table: "deploy.apps"))

            CREATE TABLE deploy.releases (
                app_id uuid NOT NULL REFERENCES deploy.apps(id) ON DELETE CASCADE,
                version int NOT NULL,
                tenant_id uuid NOT NULL,
                spec jsonb NOT NULL,
                artifact text NOT NULL,
                image text,
                deployment_id uuid NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (app_id, version)
            );
            \(TenantDatabase.policySQL(table: "deploy.releases"))

            CREATE TABLE deploy.deployments (
                id uuid PRIMARY KEY,
                seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
                tenant_id uuid NOT NULL,
                project_id uuid NOT NULL,
                app_id uuid NOT NULL REFERENCES deploy.apps(id) ON DELETE CASCADE,
                app_name text NOT NULL,
                kind text NOT NULL CHECK (kind IN ('deploy', 'rollback')),
                status text NOT NULL CHECK (status IN ('pending', 'building', 'deploying', 'success', 'failed',
                                                       'rolled_back', 'cancelled')),
                -- Rollbacks of a failed deployment go before anything queued for the app.
                priority int NOT NULL DEFAULT 0,
                version int,
                image text,
                source jsonb,
                strategy jsonb,
                auto_rollback boolean NOT NULL DEFAULT true,
                validation_level text NOT NULL DEFAULT 'standard',
                rollback_of uuid REFERENCES deploy.deployments(id) ON DELETE SET NULL,
                reason text,
                error text,
                failure_kind text,
                phases jsonb NOT NULL DEFAULT '[]',
                requested_by uuid,
                cancel_requested boolean NOT NULL DEFAULT false,
                lease_owner text,
                lease_until timestamptz,
                attempts int NOT NULL DEFAULT 0,
                created_at timestamptz NOT NULL DEFAULT now(),
                started_at timestamptz,
                finished_at timestamptz
            );
            CREATE INDEX deployments_app ON deploy.deployments (app_id, seq DESC);
            CREATE INDEX deployments_active ON deploy.deployments (priority DESC, seq)
                WHERE status IN ('pending', 'building', 'deploying');
            \(TenantDatabase.policySQL(table: "deploy.deployments"))

            CREATE TABLE deploy.deployment_logs (
                seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                deployment_id uuid NOT NULL REFERENCES deploy.deployments(id) ON DELETE CASCADE,
                tenant_id uuid NOT NULL,
                phase text,
                entry jsonb NOT NULL
            );
            CREATE INDEX deployment_logs_deployment ON deploy.deployment_logs (deployment_id, seq);
            \(TenantDatabase.policySQL(table: "deploy.deployment_logs"))

            \(Outbox.tableSQL(schema: "deploy"))
            """),
        // Which replica follows a running app's output (AppLogPump), under a lease like deployments'.
        PostgresMigration("0002_app_log_followers", """
            ALTER TABLE deploy.apps ADD COLUMN log_owner text, ADD COLUMN log_lease_until timestamptz;
            """),
    ]
}
