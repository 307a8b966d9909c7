-- Roles and schemas of the fleet. Idempotent: run it as a superuser in the fleet's database,
-- as `make run`, `make test`, docker-compose and the Kubernetes init job all do.
--
-- Every service has two roles, so that a running service cannot change its own schema nor step
-- around row-level security, even if its credentials leak:
--   fluke_<schema>_owner  LOGIN; owns the schema and every table in it. Only `<service> migrate`
--                         logs in as it (make run and make test call that; Kubernetes runs it as
--                         an initContainer with the owner's Secret).
--   fluke_<schema>        LOGIN NOINHERIT; what the running service logs in as. It owns nothing, is
--                         not a member of the owner role (no SET ROLE), has no BYPASSRLS, and holds
--                         only the table privileges granted below, so every query it runs passes
--                         the tables' policies.
-- Passwords are not set here: local clusters trust loopback; compose and Kubernetes set each
-- role's own password from secrets with deploy/postgres/set-passwords.sh.
DO $$
DECLARE
  r record;
  owner_role text;
BEGIN
  FOR r IN SELECT * FROM (VALUES
      ('fluke_pm', 'pm'),
      ('fluke_context', 'context'),
      ('fluke_webhooks', 'webhooks'),
      ('fluke_deploy', 'deploy'),
      ('fluke_logs', 'logs'),
      ('fluke_federation', 'federation')) AS t(role_name, schema_name)
  LOOP
    owner_role := r.role_name || '_owner';
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r.role_name) THEN
      BEGIN
        EXECUTE format('CREATE ROLE %I LOGIN NOINHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS', r.role_name);
      EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;  -- created meanwhile by another session
      END;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = owner_role) THEN
      BEGIN
        EXECUTE format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS', owner_role);
      EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
      END;
    END IF;
    -- Written only when needed: role rows are cluster-wide, and concurrent no-op updates of
    -- one row fail with "tuple concurrently updated".
    IF NOT (SELECT rolcanlogin FROM pg_roles WHERE rolname = owner_role) THEN
      EXECUTE format('ALTER ROLE %I LOGIN', owner_role);
    END IF;
    IF (SELECT rolinherit FROM pg_roles WHERE rolname = r.role_name) THEN
      EXECUTE format('ALTER ROLE %I NOINHERIT', r.role_name);
    END IF;
    -- Clusters set up before the split made the service role a member of its owner: undo that.
    IF EXISTS (SELECT 1 FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u ON u.oid = m.member
               WHERE g.rolname = owner_role AND u.rolname = r.role_name) THEN
      EXECUTE format('REVOKE %I FROM %I', owner_role, r.role_name);
    END IF;
    EXECUTE format('CREATE SCHEMA IF NOT EXISTS %I AUTHORIZATION %I', r.schema_name, owner_role);
    IF (SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = r.schema_name) <> quote_ident(owner_role) THEN
      EXECUTE format('ALTER SCHEMA %I OWNER TO %I', r.schema_name, owner_role);
    END IF;
    -- Tables a service role created itself before the split pass to the owner.
    IF EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = r.schema_name AND c.relowner = (SELECT oid FROM pg_roles WHERE rolname = r.role_name)) THEN
      EXECUTE format('REASSIGN OWNED BY %I TO %I', r.role_name, owner_role);
    END IF;
    EXECUTE format('REVOKE ALL ON SCHEMA %I FROM PUBLIC', r.schema_name);
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', r.schema_name, r.role_name);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO %I', r.schema_name, r.role_name);
    EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %I TO %I', r.schema_name, r.role_name);
    EXECUTE format('GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA %I TO %I', r.schema_name, r.role_name);
    EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA %I GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO %I',
                   owner_role, r.schema_name, r.role_name);
    EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA %I GRANT USAGE, SELECT ON SEQUENCES TO %I',
                   owner_role, r.schema_name, r.role_name);
    EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA %I GRANT EXECUTE ON FUNCTIONS TO %I',
                   owner_role, r.schema_name, r.role_name);
  END LOOP;
END
$$;

-- Nobody creates objects in public: every table lives in its owner's schema.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
