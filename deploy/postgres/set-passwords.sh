#!/bin/sh
# Set the login password of each of the twelve fleet roles (created by init.sql) from its own
# variable; there is no shared password and no default:
#   FLUKE_DB_<KEY>_PASSWORD        fluke_<schema>        the service's role
#   FLUKE_DB_<KEY>_OWNER_PASSWORD  fluke_<schema>_owner  its schema's owner (`<service> migrate`)
# where <KEY>/<schema> is PM/pm, CONTEXT/context, WEBHOOKS/webhooks, DEPLOY/deploy, LOGS/logs,
# FEDERATION/federation. If any of the twelve is missing or empty, the script names them all and
# fails before changing anything.
#
# Runs in two places:
#   - docker-compose: the postgres image's entrypoint runs it from /docker-entrypoint-initdb.d
#     (after 10-init.sql) against its temporary init server, with POSTGRES_USER/POSTGRES_DB set
#     and the passwords exported from the generated secrets (deploy/compose/with-secrets.sh).
#     The entrypoint *sources* a .sh file that is not executable, so the body runs in a
#     subshell: our `set -eu` and variables must not leak into the entrypoint.
#   - Kubernetes: the fluke-db-init Job runs `sh set-passwords.sh` with PGHOST/PGUSER/
#     PGPASSWORD/PGDATABASE pointing at the real server and the passwords from the
#     fluke-db-passwords Secret.
#
# A password only ever travels as a psql variable and is quoted by psql itself (:'fluke_pm'),
# so no quoting of ours can be broken by what it contains. psql does not interpolate
# variables in -c strings, hence the SQL comes on stdin.
(
  set -eu

  PGUSER="${PGUSER:-${POSTGRES_USER:-postgres}}"
  PGDATABASE="${PGDATABASE:-${POSTGRES_DB:-$PGUSER}}"
  export PGUSER PGDATABASE

  # psql's arguments are collected in "$@": one `-v <role>=<password>` per role.
  set --
  missing=""
  for schema in pm context webhooks deploy logs federation; do
    key=$(echo "$schema" | tr 'a-z' 'A-Z')
    for role in "fluke_$schema" "fluke_${schema}_owner"; do
      case $role in
        *_owner) var="FLUKE_DB_${key}_OWNER_PASSWORD" ;;
        *) var="FLUKE_DB_${key}_PASSWORD" ;;
      esac
      # $var is one of the fixed names above, never outside input, so eval reads just that variable.
      eval "password=\${$var:-}"
      if [ -z "$password" ]; then
        missing="$missing $var"
      else
        set -- "$@" -v "$role=$password"
      fi
    done
  done
  if [ -n "$missing" ]; then
    echo "set-passwords: missing or empty:$missing (each role needs its own password; nothing was changed)" >&2
    exit 1
  fi

  # One transaction: either every role gets its new password or none does.
  psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet "$@" <<'SQL'
BEGIN;
ALTER ROLE fluke_pm               PASSWORD :'fluke_pm';
ALTER ROLE fluke_pm_owner         PASSWORD :'fluke_pm_owner';
ALTER ROLE fluke_context          PASSWORD :'fluke_context';
ALTER ROLE fluke_context_owner    PASSWORD :'fluke_context_owner';
ALTER ROLE fluke_webhooks         PASSWORD :'fluke_webhooks';
ALTER ROLE fluke_webhooks_owner   PASSWORD :'fluke_webhooks_owner';
ALTER ROLE fluke_deploy           PASSWORD :'fluke_deploy';
ALTER ROLE fluke_deploy_owner     PASSWORD :'fluke_deploy_owner';
ALTER ROLE fluke_logs             PASSWORD :'fluke_logs';
ALTER ROLE fluke_logs_owner       PASSWORD :'fluke_logs_owner';
ALTER ROLE fluke_federation       PASSWORD :'fluke_federation';
ALTER ROLE fluke_federation_owner PASSWORD :'fluke_federation_owner';
COMMIT;
SQL

  echo "set-passwords: passwords set for 12 fleet roles in database $PGDATABASE"
)
