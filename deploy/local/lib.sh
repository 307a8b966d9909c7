# Shared shell helpers for `make run`, `make test` and `make bench`: install what is missing,
# start a throwaway Postgres cluster and nats-server, and stop them again.
# Sourced, not executed. Everything lives under the directory given to each function.

# Debian packages the fleet needs to build, test and run.
FLEET_PACKAGES="postgresql nats-server libnats-dev libpq-dev libssl-dev python3-venv wrk nginx"
# What only `make test` needs besides: the dashboard's browser tests (headless Chromium, driven
# by selenium through chromedriver).
FLEET_TEST_PACKAGES="chromium chromium-driver"

# fleet_install_deps [EXTRA PACKAGES...]
fleet_install_deps() {
  local missing=()
  for p in $FLEET_PACKAGES "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ]; then
    echo "missing Debian packages: ${missing[*]} (run as root, or install them)" >&2
    return 1
  fi
  echo "installing: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

fleet_pg_bin() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$d" ] || { echo "postgresql binaries not found" >&2; return 1; }
  echo "$d"
}

# A free TCP port on 127.0.0.1.
fleet_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# fleet_pg_start DIR PORT: a new cluster in DIR listening on 127.0.0.1:PORT, trust auth, database
# `fluke` with the fleet's roles and schemas (deploy/postgres/init.sql). FLEET_PG_MAX_CONNECTIONS
# (default 300) sizes it: `make test` needs more.
fleet_pg_start() {
  local dir=$1 port=$2 bin owner=()
  bin=$(fleet_pg_bin) || return 1
  # Postgres refuses to run as root: the cluster belongs to the postgres user when we are root.
  if [ "$(id -u)" = 0 ]; then
    mkdir -p "$dir"
    chown postgres "$dir"
    owner=(runuser -u postgres --)
  fi
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    "${owner[@]}" "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; return 1; }
  fi
  "${owner[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 30 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c unix_socket_permissions=0700 -c fsync=off -c max_connections=${FLEET_PG_MAX_CONNECTIONS:-300} -c shared_buffers=256MB" \
    start >/dev/null || { tail -20 "$dir/postgres.log" >&2; return 1; }
  "$bin/psql" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = 'fluke'" | grep -q 1 \
    || "$bin/psql" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -c "CREATE DATABASE fluke" >/dev/null
  PGOPTIONS="-c client_min_messages=warning" "$bin/psql" -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d fluke \
    -f "$(dirname "${BASH_SOURCE[0]}")/../postgres/init.sql" >/dev/null
}

# fleet_pg_secure DIR PORT: passwords for the cluster fleet_pg_start made (make run's; the test
# clusters stay on trust): the superuser's from POSTGRES_PASSWORD, every fleet role's from its own
# FLUKE_DB_<KEY>[_OWNER]_PASSWORD (deploy/postgres/set-passwords.sh), then scram-sha-256 for every
# TCP connection. The Unix socket, in DIR and open to its owner only, stays trusted for the
# postgres OS user. Idempotent; on a cluster already secured, PGPASSWORD must be the superuser's.
fleet_pg_secure() {
  local dir=$1 port=$2 bin owner=()
  bin=$(fleet_pg_bin) || return 1
  [ "$(id -u)" = 0 ] && owner=(runuser -u postgres --)
  PGHOST=127.0.0.1 PGPORT=$port PGUSER=postgres PGDATABASE=fluke PGPASSWORD=${PGPASSWORD:-} \
    sh "$(dirname "${BASH_SOURCE[0]}")/../postgres/set-passwords.sh" >/dev/null || return 1
  PGPASSWORD=${PGPASSWORD:-} "$bin/psql" -q -v ON_ERROR_STOP=1 -v pw="$POSTGRES_PASSWORD" -h 127.0.0.1 -p "$port" \
    -U postgres -d postgres <<'SQL' >/dev/null || return 1
ALTER ROLE postgres PASSWORD :'pw';
SQL
  cat >"$dir/data/pg_hba.conf.new" <<'HBA'
# Written by deploy/local/lib.sh (fleet_pg_secure): passwords over TCP, the socket for its owner.
local all postgres             trust
host  all all      127.0.0.1/32 scram-sha-256
host  all all      ::1/128      scram-sha-256
HBA
  mv "$dir/data/pg_hba.conf.new" "$dir/data/pg_hba.conf"
  [ "$(id -u)" = 0 ] && chown postgres "$dir/data/pg_hba.conf"
  "${owner[@]}" "$bin/pg_ctl" -D "$dir/data" reload >/dev/null
}

fleet_pg_stop() {
  local dir=$1 bin owner=()
  bin=$(fleet_pg_bin) || return 0
  [ "$(id -u)" = 0 ] && owner=(runuser -u postgres --)
  [ -f "$dir/data/postmaster.pid" ] && "${owner[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1
  return 0
}

# The NATS users of deploy/nats/auth.conf, each with the variable holding its password:
# FLUKE_NATS_<KEY>_PASSWORD. Services' keys are their schema names.
FLEET_NATS_USERS="project-manager:PM context-api:CONTEXT webhook-dispatcher:WEBHOOKS federation:FEDERATION deploy-tracker:DEPLOY log-streamer:LOGS heartbeat:HEARTBEAT admin:ADMIN"
FLEET_NATS_AUTH_CONF="$(cd "$(dirname "${BASH_SOURCE[0]}")/../nats" && pwd)/auth.conf"

# Exports a random FLUKE_NATS_<KEY>_PASSWORD for every NATS user that has none yet.
fleet_nats_passwords() {
  local entry var
  for entry in $FLEET_NATS_USERS; do
    var="FLUKE_NATS_${entry#*:}_PASSWORD"
    [ -n "${!var:-}" ] || export "$var=p$(od -An -N18 -tx1 /dev/urandom | tr -d ' \n')"
  done
}

# fleet_nats_credentials USER: NATS_USER=… and NATS_PASSWORD=… lines for that user.
fleet_nats_credentials() {
  local entry var
  for entry in $FLEET_NATS_USERS; do
    [ "${entry%%:*}" = "$1" ] || continue
    var="FLUKE_NATS_${entry#*:}_PASSWORD"
    echo "NATS_USER=$1"
    echo "NATS_PASSWORD=${!var}"
    return 0
  done
  echo "no NATS user $1 in deploy/nats/auth.conf" >&2
  return 1
}

# fleet_nats_start DIR PORT [ARG...]: nats-server with JetStream on 127.0.0.1:PORT, storage in DIR,
# with the fleet's users and permissions (deploy/nats/auth.conf; the FLUKE_NATS_*_PASSWORD variables
# must be set, see fleet_nats_passwords). FLEET_NATS_AUTH=off starts it without (make bench). ARGs
# go to nats-server as they are (a cluster node's --server_name, --cluster and --routes, in tests).
fleet_nats_start() {
  local dir=$1 port=$2 auth=()
  shift 2
  mkdir -p "$dir/js"
  : >"$dir/nats.log"
  [ "${FLEET_NATS_AUTH:-on}" = off ] || auth=(-c "$FLEET_NATS_AUTH_CONF")
  nats-server "${auth[@]}" -js -a 127.0.0.1 -p "$port" -sd "$dir/js" -l "$dir/nats.log" -P "$dir/nats.pid" "$@" &
  local pid=$!
  # Ready means this server says so: an open port could belong to someone else.
  for _ in $(seq 1 100); do
    grep -q "Server is ready" "$dir/nats.log" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "nats-server did not start; see $dir/nats.log" >&2
  return 1
}

# fleet_nats_stop DIR: stops the nats-server started in DIR and waits for it to exit. A pid file
# left by a crash or a reboot may name a process that is gone, or someone else's: only a
# nats-server is signalled.
fleet_nats_stop() {
  local dir=$1 pid
  pid=$(cat "$dir/nats.pid" 2>/dev/null) || return 0
  if [ -n "$pid" ] && [ "$(basename "$(readlink "/proc/$pid/exe" 2>/dev/null)")" = nats-server ]; then
    kill -TERM "$pid" 2>/dev/null || true
    # Gone, or a zombie (no exe link) waiting for its parent: either way it has stopped.
    for _ in $(seq 1 100); do readlink "/proc/$pid/exe" >/dev/null 2>&1 || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$dir/nats.pid"
  return 0
}

# fleet_stop_deployed_apps DIR: stops the replicas and the nginx of a process executor whose
# state is DIR (DEPLOY_DATA_DIR/process). They live in sessions of their own, so that they keep
# serving while deploy-tracker restarts; the fleet's Ctrl-C (and the bench's end) stops them too.
# The next `make run` brings them back: deploy-tracker adopts its records and restarts the replicas.
fleet_stop_deployed_apps() {
  local dir=$1 f pid
  for f in "$dir"/apps/*/*/replicas/*.json; do
    [ -f "$f" ] || continue
    pid=$(python3 -c 'import json, sys; print(int(json.load(open(sys.argv[1]))["pid"]))' "$f" 2>/dev/null) || continue
    [ "$pid" -gt 1 ] 2>/dev/null || continue
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  done
  pid=$(cat "$dir/nginx/nginx.pid" 2>/dev/null) || return 0
  [ "$(basename "$(readlink "/proc/$pid/exe" 2>/dev/null)")" = nginx ] && kill -QUIT "$pid" 2>/dev/null
  return 0
}
