-- Roles and schemas of the fleet. Idempotent: run it as a superuser in the fleet's database,
-- as `make run`, `make test`, docker-compose and the Kubernetes init job all do.
--
-- Each service logs in as its own role, which owns its own schema and has no rights on any other.
-- Passwords are not set here: local clusters trust loopback; compose and Kubernetes set them from
-- secrets with deploy/postgres/set-passwords.sh.
DO $$
DECLARE
  r record;
BEGIN
  FOR r IN SELECT * FROM (VALUES
      ('fluke_pm', 'pm'),
      ('fluke_context', 'context'),
      ('fluke_webhooks', 'webhooks'),
      ('fluke_deploy', 'deploy'),
      ('fluke_logs', 'logs'),
      ('fluke_federation', 'federation')) AS t(role_name, schema_name)
  LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r.role_name) THEN
      EXECUTE format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS', r.role_name);
    END IF;
    EXECUTE format('CREATE SCHEMA IF NOT EXISTS %I AUTHORIZATION %I', r.schema_name, r.role_name);
    EXECUTE format('REVOKE ALL ON SCHEMA %I FROM PUBLIC', r.schema_name);
  END LOOP;
END
$$;

-- Nobody creates objects in public: every table lives in its owner's schema.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
