-- Roles and schemas of the fleet. Idempotent: run it as a superuser in the fleet's database,
-- as `make run`, `make test`, docker-compose and the Kubernetes init job all do.
--
-- Each service logs in as its own role and has no rights on any other service's schema.
-- Passwords are not set here: local clusters trust loopback; compose and Kubernetes set them from
-- secrets with deploy/postgres/set-passwords.sh.
--
-- Services whose tables hold several tenants' rows (row_level_security = true) are split in two
-- roles, so that Postgres enforces tenancy even if the code forgets to:
--   <role>_owner  NOLOGIN; owns the schema and every table (migrations run as it, via SET ROLE);
--   <role>        LOGIN NOINHERIT; owns nothing, has no BYPASSRLS, and only holds the table
--                 privileges granted below, so every query it runs passes the tables' policies.
DO $$
DECLARE
  r record;
  owner_role text;
BEGIN
  FOR r IN SELECT * FROM (VALUES
      ('fluke_pm', 'pm', true),
      ('fluke_context', 'context', false),
      ('fluke_webhooks', 'webhooks', false),
      ('fluke_deploy', 'deploy', false),
      ('fluke_logs', 'logs', false),
      ('fluke_federation', 'federation', false)) AS t(role_name, schema_name, row_level_security)
  LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r.role_name) THEN
      BEGIN
        EXECUTE format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS', r.role_name);
      EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;  -- created meanwhile by another session
      END;
    END IF;
    owner_role := r.role_name;
    IF r.row_level_security THEN
      owner_role := r.role_name || '_owner';
      IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = owner_role) THEN
        BEGIN
          EXECUTE format('CREATE ROLE %I NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS', owner_role);
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
        END;
      END IF;
      -- Written only when needed: role rows are cluster-wide, and concurrent no-op updates of
      -- one row fail with "tuple concurrently updated".
      IF (SELECT rolinherit FROM pg_roles WHERE rolname = r.role_name) THEN
        EXECUTE format('ALTER ROLE %I NOINHERIT', r.role_name);
      END IF;
      IF NOT pg_has_role(r.role_name, owner_role, 'MEMBER') THEN
        EXECUTE format('GRANT %I TO %I', owner_role, r.role_name);
      END IF;
    END IF;
    EXECUTE format('CREATE SCHEMA IF NOT EXISTS %I AUTHORIZATION %I', r.schema_name, owner_role);
    EXECUTE format('ALTER SCHEMA %I OWNER TO %I', r.schema_name, owner_role);
    EXECUTE format('REVOKE ALL ON SCHEMA %I FROM PUBLIC', r.schema_name);
    IF r.row_level_security THEN
      EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', r.schema_name, r.role_name);
      EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA %I GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO %I',
                     owner_role, r.schema_name, r.role_name);
      EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA %I GRANT USAGE, SELECT ON SEQUENCES TO %I',
                     owner_role, r.schema_name, r.role_name);
      EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA %I GRANT EXECUTE ON FUNCTIONS TO %I',
                     owner_role, r.schema_name, r.role_name);
    END IF;
  END LOOP;
END
$$;

-- Nobody creates objects in public: every table lives in its owner's schema.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
