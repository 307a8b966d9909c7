#!/bin/sh
# Set the login password of every fleet role (created by init.sql) from FLUKE_DB_PASSWORD.
#
# Runs in two places:
#   - docker-compose: the postgres image's entrypoint runs it from /docker-entrypoint-initdb.d
#     (after 10-init.sql) against its temporary init server, with POSTGRES_USER/POSTGRES_DB set.
#     The entrypoint *sources* a .sh file that is not executable, so the body runs in a
#     subshell: our `set -eu` and variables must not leak into the entrypoint.
#   - Kubernetes: the fluke-db-init Job runs `sh set-passwords.sh` with PGHOST/PGUSER/
#     PGPASSWORD/PGDATABASE pointing at the real server.
#
# The password only ever travels as a psql variable and is quoted by psql itself (:'pw'),
# so no quoting of ours can be broken by what it contains. psql does not interpolate
# variables in -c strings, hence the SQL comes on stdin.
(
  set -eu

  PGUSER="${PGUSER:-${POSTGRES_USER:-postgres}}"
  PGDATABASE="${PGDATABASE:-${POSTGRES_DB:-$PGUSER}}"
  export PGUSER PGDATABASE

  # Same default as docker-compose.yml's DATABASE_URLs and `make run`.
  FLUKE_DB_PASSWORD="${FLUKE_DB_PASSWORD:-fluke}"

  # One transaction: either every role gets the new password or none does.
  psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet -v pw="$FLUKE_DB_PASSWORD" <<'SQL'
BEGIN;
ALTER ROLE fluke_pm         PASSWORD :'pw';
ALTER ROLE fluke_context    PASSWORD :'pw';
ALTER ROLE fluke_webhooks   PASSWORD :'pw';
ALTER ROLE fluke_deploy     PASSWORD :'pw';
ALTER ROLE fluke_logs       PASSWORD :'pw';
ALTER ROLE fluke_federation PASSWORD :'pw';
COMMIT;
SQL

  echo "set-passwords: passwords set for 6 fleet roles in database $PGDATABASE"
)
