#!/usr/bin/env bash
# `make run`: the whole fleet on this machine. Installs what is missing (as root on Debian),
# starts Postgres and NATS under .run/, builds, starts every service that has been built, writes
# .run/fleet.env (present only while the fleet runs) and waits. Ctrl-C (or SIGTERM) stops the services, then NATS and Postgres.
#
# The script's environment is passed on to every service, so any setting can be overridden:
#   FEDERATION_HEARTBEAT_TTL=5 make run
#   LOG_LEVEL=debug LOG_FORMAT=json make run
# Its own settings:
#   FLUKE_PG_PORT     Postgres port (default 5432; a free port is picked if 5432 is busy)
#   FLUKE_NATS_PORT   NATS port (default 4222; likewise)
#   FLUKE_BUILD       debug (default) or release
#   FLUKE_SKIP_BUILD  1: do not run `swift build`, use what is in .build/<debug|release>
#   FLUKE_RUN_DIR     the state directory (default .run)
#   PM_JWT_PRIVATE_KEYS  project-manager's access-token signing keys, <kid>:<base64 of a 32-byte Ed25519 seed>
#                     (default: generated once into .run/secrets.env); the others fetch the public keys
#                     from project-manager's /.well-known/jwks.json (FLUKE_JWKS_URL)
#   FLUKE_ENCRYPTION_KEY  context-api's keyring, <id>:<base64 of 32 bytes> (default: generated once, likewise)
#   FLUKE_WEBHOOKS_ENCRYPTION_KEY  webhook-dispatcher's keyring, a different one (likewise)
# Per service, DATABASE_URL (its own role), NATS_URL, NATS_USER/NATS_PASSWORD (its own NATS user) and
# HTTP_PORT are set by this script.
# webhook-dispatcher runs with WEBHOOK_ALLOW_HTTP=true and WEBHOOK_ALLOWED_HOSTS=127.0.0.1,localhost
# (receivers on this machine) unless they are set.
# project-manager runs with PM_SIGNUP_ENABLED=true, and `project-manager bootstrap` creates the
# admin (tenant FlukeBase) whose e-mail, password and fbk_ token are printed and put in .run/fleet.env.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
LIB="$ROOT/deploy/local/lib.sh"
source "$LIB"

# ---- the fleet: one line per service --------------------------------------------------------
# name                port  schema (role fluke_<schema>); the executable has the service's name.
SERVICES=(
  "project-manager    8000  pm"
  "federation         8001  federation"
  "context-api        8080  context"
  "webhook-dispatcher 8082  webhooks"
  "deploy-tracker     3000  deploy"
  "log-streamer       8767  logs"
)

# Settings a service needs beyond the common ones, as KEY=value lines. The caller's environment
# already reaches every service, so defaults here are only applied when the variable is unset.
service_env() {
  case $1 in
    project-manager)
      echo "PM_SIGNUP_ENABLED=${PM_SIGNUP_ENABLED:-true}"
      echo "PM_JWT_PRIVATE_KEYS=$JWT_KEYS"
      # Its own keyring, for the connections' credentials.
      echo "FLUKE_ENCRYPTION_KEY=${FLUKE_PM_ENCRYPTION_KEY_OVERRIDE:-$FLUKE_PM_ENCRYPTION_KEY}"
      ;;
    context-api|webhook-dispatcher|deploy-tracker|log-streamer)
      # Fetched when the first access token arrives, so no service waits for project-manager.
      echo "FLUKE_JWKS_URL=${FLUKE_JWKS_URL:-http://127.0.0.1:8000/.well-known/jwks.json}"
      ;;
  esac
  case $1 in
    context-api)
      echo "FLUKE_ENCRYPTION_KEY=${FLUKE_ENCRYPTION_KEY_OVERRIDE:-$FLUKE_ENCRYPTION_KEY}"
      ;;
    webhook-dispatcher)
      # Its own keyring: a leak of one service's key opens nothing of the other's.
      echo "FLUKE_ENCRYPTION_KEY=${FLUKE_WEBHOOKS_ENCRYPTION_KEY_OVERRIDE:-$FLUKE_WEBHOOKS_ENCRYPTION_KEY}"
      # Local development posts to receivers on this machine.
      echo "WEBHOOK_ALLOW_HTTP=${WEBHOOK_ALLOW_HTTP:-true}"
      echo "WEBHOOK_ALLOWED_HOSTS=${WEBHOOK_ALLOWED_HOSTS:-127.0.0.1,localhost}"
      ;;
    deploy-tracker)
      # Builds, releases and the process executor's nginx and replicas live under .run/deploy;
      # nginx and the apps keep serving across a restart of deploy-tracker.
      echo "DEPLOY_DATA_DIR=${DEPLOY_DATA_DIR:-$RUN/deploy}"
      echo "DEPLOY_EXECUTORS=${DEPLOY_EXECUTORS:-process,swarm,kubernetes}"
      ;;
    log-streamer)
      # Days of entries kept (whole day partitions are dropped beyond it).
      echo "LOGS_RETENTION_DAYS=${LOGS_RETENTION_DAYS:-14}"
      ;;
    federation)
      echo "FEDERATION_CATALOG=${FEDERATION_CATALOG:-$ROOT/deploy/catalog/federation.yaml}"
      echo "FEDERATION_API_KEYS=${FEDERATION_API_KEYS:-$FEDERATION_API_KEY}"
      ;;
  esac
}

# Defaults for every service that the caller may override.
: "${LOG_FORMAT:=text}"
# The dashboard (project-manager's /ui/) calls every service from the browser.
: "${FLUKE_CORS_ORIGINS:=http://127.0.0.1:8000,http://localhost:8000}"
export LOG_FORMAT FLUKE_CORS_ORIGINS

# FLUKE_RUN_DIR moves the state directory (the tests run a whole fleet without touching yours).
RUN="${FLUKE_RUN_DIR:-$ROOT/.run}"
say() { echo "run: $*"; }
die() { echo "run: $*" >&2; exit 1; }

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A process that exists and is not a zombie (our exited children stay zombies until reaped).
alive() {
  local s
  s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  s=${s##*) }
  [ "${s%% *}" != Z ]
}

# HTTP status of a GET (000 when nothing answers). python3 is always there after
# fleet_install_deps (python3-venv); curl may not be.
http_status() {
  python3 - "$@" <<'PY'
import sys, urllib.request, urllib.error
req = urllib.request.Request(sys.argv[1], headers=dict(h.split(": ", 1) for h in sys.argv[2:]))
try:
    with urllib.request.urlopen(req, timeout=2) as r:
        print(r.status)
except urllib.error.HTTPError as e:
    print(e.code)
except Exception:
    print("000")
PY
}

# Runs a lib.sh function in a new session, so that Ctrl-C in the terminal does not reach the
# servers it starts: they must outlive the services' graceful shutdown.
detached() {
  if command -v setsid >/dev/null; then
    setsid bash -c 'source "$0"; "$@"' "$LIB" "$@"
  else
    "$@"
  fi
}

# ---- one fleet at a time ------------------------------------------------------------------------
# A second `make run` would stop the first one's servers and reuse its ports: refuse instead,
# before any trap can touch what is running. The pid file names this script's process; after a
# crash or a reboot it names a process that is gone (or another program), and is ignored.
mkdir -p "$RUN"
if [ -f "$RUN/run.pid" ]; then
  read -r other_pid other_ports <"$RUN/run.pid" || true
  if [ -n "${other_pid:-}" ] && [ "$other_pid" != $$ ] && alive "$other_pid" &&
     tr '\0' ' ' <"/proc/$other_pid/cmdline" 2>/dev/null | grep -q "deploy/local/run.sh"; then
    echo "run: the fleet is already running (make run, pid $other_pid${other_ports:+; $other_ports}); stop it with Ctrl-C or kill $other_pid" >&2
    exit 1
  fi
fi
echo "$$" >"$RUN/run.pid"

# ---- cleanup, on Ctrl-C, SIGTERM, a failed start or a service that dies -----------------------
names=() pids=() cleaned=0 infra=0
declare -A reaped=()   # pids already waited for and reported
cleanup() {
  [ "$cleaned" = 1 ] && return 0
  cleaned=1
  trap '' INT TERM
  local i waited=0 any status
  if [ ${#pids[@]} -gt 0 ]; then
    say "stopping ${names[*]}"
    for i in "${!pids[@]}"; do kill -TERM "${pids[$i]}" 2>/dev/null || true; done
    while :; do
      any=0
      for i in "${!pids[@]}"; do alive "${pids[$i]}" && any=1; done
      [ "$any" = 0 ] && break
      if [ "$waited" -ge 150 ]; then
        for i in "${!pids[@]}"; do
          alive "${pids[$i]}" && { say "${names[$i]} did not stop within 15 s; killing it"; kill -KILL "${pids[$i]}" 2>/dev/null || true; }
        done
        break
      fi
      sleep 0.1
      waited=$((waited + 1))
    done
    for i in "${!pids[@]}"; do
      rm -f "$RUN/${names[$i]}.pid"
      [ -n "${reaped[${pids[$i]}]:-}" ] && continue
      status=0
      wait "${pids[$i]}" 2>/dev/null || status=$?
      [ "$status" = 0 ] || say "${names[$i]} exited with status $status"
    done
  fi
  rm -f "$RUN/fleet.env"
  fleet_stop_deployed_apps "$RUN/deploy/process"
  # Whatever this script started in the foreground (a build, a bootstrap) goes too.
  pkill -TERM -P $$ 2>/dev/null || true
  if [ "$infra" = 1 ]; then
    say "stopping NATS and Postgres"
    fleet_nats_stop "$RUN/nats"
    fleet_pg_stop "$RUN/pg"
  fi
  rm -f "$RUN/run.pid"
  say "stopped"
}
trap 'rc=$?; cleanup; exit $rc' EXIT
trap 'cleanup; exit 0' INT TERM

# ---- dependencies and state directory ---------------------------------------------------------
fleet_install_deps
mkdir -p "$RUN/logs" "$RUN/nats"
chmod 755 "$RUN"   # the postgres user must reach .run/pg when we are root

# Leftovers of a run that was killed without cleaning up.
for f in "$RUN"/*.pid; do
  [ -e "$f" ] || continue
  pid=$(cat "$f"); svc=$(basename "$f" .pid)
  if alive "$pid" && [ "$(basename "$(readlink "/proc/$pid/exe" 2>/dev/null)")" = "$svc" ]; then
    say "stopping $svc left over from a previous run (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 150); do alive "$pid" || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
done
fleet_nats_stop "$RUN/nats"
fleet_pg_stop "$RUN/pg"
rm -f "$RUN/fleet.env"

# ---- ports ------------------------------------------------------------------------------------
pick_port() { # pick_port WHAT VARIABLE DEFAULT
  local what=$1 var=$2 def=$3 port
  if [ -n "${!var:-}" ]; then
    port=${!var}
    port_busy "$port" && die "$var=$port: port $port is already in use"
  else
    port=$def
    if port_busy "$port"; then
      port=$(fleet_free_port)
      say "port $def is busy; $what uses port $port instead (set $var to choose)" >&2
    fi
  fi
  echo "$port"
}
PG_PORT=$(pick_port Postgres FLUKE_PG_PORT 5432)
NATS_PORT=$(pick_port NATS FLUKE_NATS_PORT 4222)

# ---- build ------------------------------------------------------------------------------------
build_flags=()
case ${FLUKE_BUILD:-debug} in
  debug) build_dir=debug ;;
  release) build_dir=release; build_flags=(-c release) ;;
  *) die "FLUKE_BUILD must be debug or release (got ${FLUKE_BUILD})" ;;
esac
if [ "${FLUKE_SKIP_BUILD:-0}" = 1 ]; then
  BIN="$ROOT/.build/$build_dir"
  say "FLUKE_SKIP_BUILD=1: not building; using $BIN"
else
  command -v swift >/dev/null || die "swift not found: install a Swift 6 toolchain (https://swift.org/install)"
  say "building (${FLUKE_BUILD:-debug})"
  swift build "${build_flags[@]}"
  BIN=$(swift build "${build_flags[@]}" --show-bin-path)
fi

enabled=()
for line in "${SERVICES[@]}"; do
  read -r name port schema <<<"$line"
  [ -x "$BIN/$name" ] || continue
  port_busy "$port" && die "port $port, which $name listens on, is already in use"
  enabled+=("$line")
done
[ ${#enabled[@]} -gt 0 ] || die "no service executable in $BIN (build first, or unset FLUKE_SKIP_BUILD)"
http_ports=$(for line in "${enabled[@]}"; do read -r _ port _ <<<"$line"; printf ' %s' "$port"; done)
echo "$$ ports: Postgres $PG_PORT, NATS $NATS_PORT, HTTP$http_ports" >"$RUN/run.pid"

# ---- credentials, generated once --------------------------------------------------------------
SECRETS="$RUN/secrets.env"
CALLER_JWT_KEYS=${PM_JWT_PRIVATE_KEYS:-}
FLUKE_ENCRYPTION_KEY_OVERRIDE=${FLUKE_ENCRYPTION_KEY:-}
FLUKE_WEBHOOKS_ENCRYPTION_KEY_OVERRIDE=${FLUKE_WEBHOOKS_ENCRYPTION_KEY:-}
FLUKE_PM_ENCRYPTION_KEY_OVERRIDE=${FLUKE_PM_ENCRYPTION_KEY:-}
random_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }
(umask 077; touch "$SECRETS")
chmod 600 "$SECRETS"
# Each credential is generated once and kept, so .run/pg and the secrets stay consistent.
add_secret() { grep -q "^$1=" "$SECRETS" || echo "$1=$2" >>"$SECRETS"; }
add_secret FEDERATION_API_KEY "$(random_hex 24)"
add_secret PM_JWT_PRIVATE_KEYS "k1:$(head -c 32 /dev/urandom | base64 | tr -d '\n')"
add_secret FLUKE_ADMIN_EMAIL "admin@flukebase.local"
add_secret FLUKE_ADMIN_PASSWORD "$(random_hex 12)"
add_secret FLUKE_ENCRYPTION_KEY "k1:$(head -c 32 /dev/urandom | base64 | tr -d '\n')"
add_secret FLUKE_WEBHOOKS_ENCRYPTION_KEY "w1:$(head -c 32 /dev/urandom | base64 | tr -d '\n')"
add_secret FLUKE_PM_ENCRYPTION_KEY "p1:$(head -c 32 /dev/urandom | base64 | tr -d '\n')"
# One NATS password per user of deploy/nats/auth.conf (FLUKE_NATS_<KEY>_PASSWORD).
for entry in $FLEET_NATS_USERS; do add_secret "FLUKE_NATS_${entry#*:}_PASSWORD" "p$(random_hex 18)"; done
# Postgres: the superuser's password and one per fleet role (service and owner), hex so that they
# go into URLs as they are.
add_secret POSTGRES_PASSWORD "$(random_hex 18)"
for key in PM CONTEXT WEBHOOKS DEPLOY LOGS FEDERATION; do
  add_secret "FLUKE_DB_${key}_PASSWORD" "$(random_hex 18)"
  add_secret "FLUKE_DB_${key}_OWNER_PASSWORD" "$(random_hex 18)"
done
source "$SECRETS"   # not exported: each service gets only the credentials it needs
# The caller may choose project-manager's signing keys; the other services learn the public halves
# from its key set.
JWT_KEYS=${CALLER_JWT_KEYS:-$PM_JWT_PRIVATE_KEYS}

# ---- Postgres and NATS ------------------------------------------------------------------------
infra=1
say "starting Postgres on 127.0.0.1:$PG_PORT (data in .run/pg)"
PGPASSWORD="$POSTGRES_PASSWORD" PGOPTIONS="-c client_min_messages=warning" detached fleet_pg_start "$RUN/pg" "$PG_PORT" \
  || die "Postgres did not start; see $RUN/pg/postgres.log"
db_passwords=(POSTGRES_PASSWORD="$POSTGRES_PASSWORD" PGPASSWORD="$POSTGRES_PASSWORD")
for key in PM CONTEXT WEBHOOKS DEPLOY LOGS FEDERATION; do
  var="FLUKE_DB_${key}_PASSWORD"; db_passwords+=("$var=${!var}")
  var="FLUKE_DB_${key}_OWNER_PASSWORD"; db_passwords+=("$var=${!var}")
done
env "${db_passwords[@]}" bash -c 'source "$0"; fleet_pg_secure "$1" "$2"' "$LIB" "$RUN/pg" "$PG_PORT" \
  || die "could not set the Postgres passwords (if .run/secrets.env no longer matches .run/pg, remove .run to start over)"
# A role's URL, with its password: db_url ROLE
db_url() {
  local key var
  key=${1#fluke_}; key=${key%_owner}; key=$(echo "$key" | tr 'a-z' 'A-Z')
  case $1 in *_owner) var="FLUKE_DB_${key}_OWNER_PASSWORD" ;; *) var="FLUKE_DB_${key}_PASSWORD" ;; esac
  echo "postgres://$1:${!var}@127.0.0.1:$PG_PORT/fluke"
}
say "starting NATS on 127.0.0.1:$NATS_PORT (JetStream in .run/nats)"
# nats-server alone reads every user's password (deploy/nats/auth.conf takes them from its environment).
nats_passwords=()
for entry in $FLEET_NATS_USERS; do var="FLUKE_NATS_${entry#*:}_PASSWORD"; nats_passwords+=("$var=${!var}"); done
env "${nats_passwords[@]}" setsid bash -c 'source "$0"; "$@"' "$LIB" fleet_nats_start "$RUN/nats" "$NATS_PORT" \
  || die "NATS did not start; see $RUN/nats/nats.log"
NATS_URL_LOCAL="nats://127.0.0.1:$NATS_PORT"

# ---- migrations: each schema's owner applies them; the services' own roles cannot --------------
for line in "${enabled[@]}"; do
  read -r name _ schema <<<"$line"
  DATABASE_URL="$(db_url "fluke_${schema}_owner")" LOG_FORMAT=text \
    "$BIN/$name" migrate >/dev/null 2>>"$RUN/logs/migrate.log" ||
    die "$name migrate failed; see $RUN/logs/migrate.log"
done

# ---- the admin: a tenant, its owner and an fbk_ token with every scope ------------------------
ADMIN_TOKEN=""
if [ -x "$BIN/project-manager" ]; then
  say "bootstrapping the admin ($FLUKE_ADMIN_EMAIL)"
  boot=$(DATABASE_URL="$(db_url fluke_pm)" PM_JWT_PRIVATE_KEYS="$JWT_KEYS" \
    PM_BOOTSTRAP_PASSWORD="$FLUKE_ADMIN_PASSWORD" \
    "$BIN/project-manager" bootstrap --email "$FLUKE_ADMIN_EMAIL" \
    --tenant "FlukeBase" --name "Administrator" --token-name "make run $(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    2>>"$RUN/logs/bootstrap.log") ||
    die "bootstrap failed; see $RUN/logs/bootstrap.log (if .run/secrets.env no longer matches .run/pg, remove .run to start over)"
  ADMIN_TOKEN=$(python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["token"])' <<<"$boot")
fi

# ---- services ---------------------------------------------------------------------------------
fail_service() { # fail_service NAME LOG WHY
  echo "run: $1 $3; last lines of $2:" >&2
  tail -n 30 "$2" | sed 's/^/  | /' >&2
  exit 1
}

for line in "${enabled[@]}"; do
  read -r name port schema <<<"$line"
  log="$RUN/logs/$name.log"
  extra=()
  while IFS= read -r kv; do [ -n "$kv" ] && extra+=("$kv"); done < <(service_env "$name")
  say "starting $name on 127.0.0.1:$port (log: .run/logs/$name.log)"
  [ -f "$log" ] && mv "$log" "$log.1"   # this run's log starts empty; the previous one is kept
  while IFS= read -r kv; do extra+=("$kv"); done < <(fleet_nats_credentials "$name")
  setsid env \
    DATABASE_URL="$(db_url "fluke_$schema")" \
    NATS_URL="$NATS_URL_LOCAL" \
    HTTP_PORT="$port" \
    "${extra[@]}" \
    "$BIN/$name" >>"$log" 2>&1 </dev/null &
  names+=("$name"); pids+=($!)
  echo "$!" >"$RUN/$name.pid"
done

for i in "${!names[@]}"; do
  read -r name port _ <<<"${enabled[$i]}"
  log="$RUN/logs/$name.log"
  start=$SECONDS
  while :; do
    if ! alive "${pids[$i]}"; then
      wait "${pids[$i]}" && rc=0 || rc=$?
      reaped[${pids[$i]}]=1
      fail_service "$name" "$log" "exited during startup (status $rc)"
    fi
    [ "$(http_status "http://127.0.0.1:$port/ready")" = 200 ] && break
    [ $((SECONDS - start)) -ge 60 ] && fail_service "$name" "$log" "was not ready within 60 s"
    sleep 0.25
  done
  say "$name is ready ($((SECONDS - start)) s)"
done

# ---- .run/fleet.env and the banner ------------------------------------------------------------
ADMIN_URL="postgres://postgres:$POSTGRES_PASSWORD@127.0.0.1:$PG_PORT/fluke"
{
  echo "NATS_URL=$NATS_URL_LOCAL"
  echo "DATABASE_URL=$ADMIN_URL"
  for line in "${enabled[@]}"; do
    read -r name port _ <<<"$line"
    var=$(echo "$name" | tr 'a-z-' 'A-Z_')
    echo "FLUKE_${var}_URL=http://127.0.0.1:$port"
  done
  # log-streamer's live tail (WebSocket) and its OpenTelemetry intake, on its HTTP port.
  echo "FLUKE_LOG_STREAMER_WS_URL=ws://127.0.0.1:8767/"
  echo "FLUKE_OTLP_LOGS_ENDPOINT=http://127.0.0.1:8767/v1/logs"
  # The key federation accepts: the caller's first one if FEDERATION_API_KEYS was given.
  fed_keys=${FEDERATION_API_KEYS:-$FEDERATION_API_KEY}
  echo "FEDERATION_API_KEY=${fed_keys%%,*}"
  echo "FLUKE_NATS_HEARTBEAT_USER=heartbeat"
  echo "FLUKE_NATS_HEARTBEAT_PASSWORD=$FLUKE_NATS_HEARTBEAT_PASSWORD"
  if [ -n "$ADMIN_TOKEN" ]; then
    echo "FLUKE_ADMIN_EMAIL=$FLUKE_ADMIN_EMAIL"
    echo "FLUKE_ADMIN_PASSWORD=$FLUKE_ADMIN_PASSWORD"
    echo "FLUKE_ADMIN_TOKEN=$ADMIN_TOKEN"
  fi
} >"$RUN/fleet.env.tmp"
chmod 600 "$RUN/fleet.env.tmp"
mv "$RUN/fleet.env.tmp" "$RUN/fleet.env"
KEY=$(sed -n 's/^FEDERATION_API_KEY=//p' "$RUN/fleet.env")

echo
echo "FlukeBase Fleet is running. Ctrl-C stops everything."
echo
if [ -n "${enabled[*]}" ] && printf '%s\n' "${enabled[@]}" | grep -q '^project-manager '; then
  printf '  %-20s %s\n' "Dashboard" "http://127.0.0.1:8000/ui/  (sign in as FLUKE_ADMIN_EMAIL below)"
  echo
fi
for line in "${enabled[@]}"; do
  read -r name port _ <<<"$line"
  printf '  %-20s http://127.0.0.1:%s   (log: .run/logs/%s.log)\n' "$name" "$port" "$name"
done
printf '  %-20s %s\n' "NATS" "$NATS_URL_LOCAL" "DATABASE_URL" "$ADMIN_URL" "FEDERATION_API_KEY" "$KEY" \
  "NATS heartbeat user" "heartbeat / $FLUKE_NATS_HEARTBEAT_PASSWORD"
if [ -n "$ADMIN_TOKEN" ]; then
  printf '  %-20s %s\n' "FLUKE_ADMIN_EMAIL" "$FLUKE_ADMIN_EMAIL" "FLUKE_ADMIN_PASSWORD" "$FLUKE_ADMIN_PASSWORD" \
    "FLUKE_ADMIN_TOKEN" "$ADMIN_TOKEN"
fi
echo
echo "  Written to $RUN/fleet.env (source it: set -a; . .run/fleet.env; set +a)"
echo
echo "  Try (fluke reads .run/fleet.env: no setup inside this repository):"
echo "    $BIN/fluke projects"
echo "    $BIN/fluke context --project <id>        # what an AI agent gets"
echo "    $BIN/fluke memories add \"Deploys go through staging\" --project <id>"
echo "    $BIN/fluke logs <app> --level error"
echo "    $BIN/fluke catalog"
echo "    $BIN/fluke mcp                           # an MCP server on stdio for your agent"
echo "  or with curl:"
if [ -n "$ADMIN_TOKEN" ]; then
  echo "    curl -H \"Authorization: Bearer $ADMIN_TOKEN\" http://127.0.0.1:8000/api/v1/projects"
fi
echo "    curl -H \"X-API-Key: $KEY\" http://127.0.0.1:8001/api/fed/projects"
echo "  Live logs: any WebSocket client on ws://127.0.0.1:8767/?app_name=<app>&access_token=<token> (logs:read)"
echo "  A heartbeat: publish JSON on fluke.federation.heartbeat.<slug>, e.g. fluke.federation.heartbeat.flukebase,"
echo "  as NATS user heartbeat (FLUKE_NATS_HEARTBEAT_USER / FLUKE_NATS_HEARTBEAT_PASSWORD in .run/fleet.env)"
echo "    {\"slug\":\"flukebase\",\"instance_id\":\"dev-1\",\"version\":\"1.0.0\",\"timestamp\":\"<RFC 3339>\",\"metadata\":{}}"
echo "  for instance, with nothing but python3:"
cat <<EOF
    python3 -c 'import socket,json,datetime as d;s=socket.create_connection(("127.0.0.1",$NATS_PORT));s.recv(4096);p=json.dumps({"slug":"flukebase","instance_id":"dev-1","version":"1.0.0","timestamp":d.datetime.now(d.timezone.utc).isoformat()}).encode();s.sendall(b"CONNECT {\"verbose\":false,\"user\":\"heartbeat\",\"pass\":\"$FLUKE_NATS_HEARTBEAT_PASSWORD\"}\r\nPUB fluke.federation.heartbeat.flukebase %d\r\n%s\r\nPING\r\n"%(len(p),p));print(s.recv(64))'
EOF
echo

# ---- wait: until Ctrl-C / SIGTERM (handled by the trap) or a service exits ---------------------
rc=0
wait -n -p done_pid "${pids[@]}" || rc=$?
reaped[${done_pid:-0}]=1
for i in "${!pids[@]}"; do
  if [ "${pids[$i]}" = "${done_pid:-}" ]; then
    fail_service "${names[$i]}" "$RUN/logs/${names[$i]}.log" "exited unexpectedly (status $rc)"
  fi
done
exit 1
