#!/usr/bin/env bash
# `make bench`: figures, not tests. Starts its own Postgres and NATS on free ports, builds in
# release mode, and prints each figure beside its baseline measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
source deploy/local/lib.sh
fleet_install_deps

PROJECTS=${BENCH_PROJECTS:-10000}
HEARTBEATS=${BENCH_HEARTBEATS:-300000}
PUBLISHES=${BENCH_PUBLISHES:-1000000}
# BENCH_ONLY=webhooks,context (say): only those sections (nats, postgres, federation, pm, context,
# webhooks, deploy, logs); project-manager always starts, the later sections need it.
want() { [ -z "${BENCH_ONLY:-}" ] || [[ ",$BENCH_ONLY," == *",$1,"* ]]; }

work=$(mktemp -d /tmp/fluke-bench.XXXXXX)
chmod 755 "$work"
fed_pid= pm_pid= ctx_pid= wh_pid= rcv_pid= dt_pid= nginx_conf= logs_pid= bb_pid= cl_pid=
cleanup() {
  # Every step is tried: a process that dies of the signal makes `wait` return 143.
  set +e
  [ -n "$cl_pid" ] && kill "$cl_pid" 2>/dev/null && wait "$cl_pid" 2>/dev/null
  [ -n "$bb_pid" ] && kill "$bb_pid" 2>/dev/null && wait "$bb_pid" 2>/dev/null
  [ -n "$logs_pid" ] && kill "$logs_pid" 2>/dev/null && wait "$logs_pid" 2>/dev/null
  [ -n "$wh_pid" ] && kill "$wh_pid" 2>/dev/null && wait "$wh_pid" 2>/dev/null
  [ -n "$dt_pid" ] && kill "$dt_pid" 2>/dev/null && wait "$dt_pid" 2>/dev/null
  fleet_stop_deployed_apps "$work/deploy/process"
  [ -n "$rcv_pid" ] && kill "$rcv_pid" 2>/dev/null && wait "$rcv_pid" 2>/dev/null
  [ -n "$ctx_pid" ] && kill "$ctx_pid" 2>/dev/null && wait "$ctx_pid" 2>/dev/null
  [ -n "$nginx_conf" ] && nginx -c "$nginx_conf" -p "$work/nginx" -s stop 2>/dev/null
  [ -n "$fed_pid" ] && kill "$fed_pid" 2>/dev/null && wait "$fed_pid" 2>/dev/null
  [ -n "$pm_pid" ] && kill "$pm_pid" 2>/dev/null && wait "$pm_pid" 2>/dev/null
  fleet_nats_stop "$work/nats"
  fleet_pg_stop "$work/pg"
  rm -rf "$work"
}
# On a signal: exit (the EXIT trap cleans up); a handler that only cleaned up let the script go on.
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "building (release)…"
swift build -c release --product federation >/dev/null
swift build -c release --product project-manager >/dev/null
swift build -c release --product context-api >/dev/null
swift build -c release --product webhook-dispatcher >/dev/null
swift build -c release --product deploy-tracker >/dev/null
swift build -c release --product log-streamer >/dev/null
swift build -c release --product fleet-bench >/dev/null
swift build -c release --product fluke >/dev/null
bin=$(swift build -c release --show-bin-path)
cc -O2 -o "$work/bare_nats" bench/bare_nats.c $(pkg-config --cflags --libs libnats) -lpthread

pg_port=$(fleet_free_port); nats_port=$(fleet_free_port); http_port=$(fleet_free_port)
fleet_pg_start "$work/pg" "$pg_port"
fleet_nats_passwords   # nats-server runs with the fleet's users, as in production
fleet_nats_start "$work/nats" "$nats_port"
# The bench's own clients are admin; each service connects as its own user (creds() below).
nats_url="nats://admin:$FLUKE_NATS_ADMIN_PASSWORD@127.0.0.1:$nats_port"
svc_nats="nats://127.0.0.1:$nats_port"
creds() { fleet_nats_credentials "$1" | tr '\n' ' '; }
pg_bin=$(fleet_pg_bin)
# Each schema is migrated by its owner, as make run does; the services log in as their own roles.
for svc in federation:federation project-manager:pm context-api:context webhook-dispatcher:webhooks deploy-tracker:deploy \
           log-streamer:logs; do
  DATABASE_URL="postgres://fluke_${svc#*:}_owner@127.0.0.1:$pg_port/fluke" "$bin/${svc%%:*}" migrate >/dev/null
done
# The expression is parenthesised: awk would read a bare `>` in it as "print to a file" (a stray
# file named 120 once came from `calc "... > 120"`).
calc() { awk "BEGIN { print ($1) }"; }
# http URL [METHOD]: the answer's body (python3: no curl on a fresh Debian).
http() {
  python3 -c 'import sys, urllib.request as u; print(u.urlopen(u.Request(sys.argv[1], method=sys.argv[2]), timeout=5).read().decode().strip())' \
    "$1" "${2:-GET}"
}
wait_ready() {
  for _ in $(seq 1 120); do http "http://127.0.0.1:$1/ready" >/dev/null 2>&1 && return 0; sleep 0.5; done
  echo "port $1 never became ready" >&2; return 1
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
# p99 of a wrk --latency output, in milliseconds (wrk prints us, ms or s).
p99_ms() {
  awk '/ 99%/ {print $2}' "$1" | awk '/ms$/ {sub("ms","");print;next} /us$/ {sub("us","");print $1/1000;next} /s$/ {sub("s","");print $1*1000}'
}
# wrk_report OUT LABEL P99FILE: one line of rate, p50 and p99 (and any non-2xx answers); the p99
# goes to P99FILE for the median.
wrk_report() {
  grep -q "Non-2xx" "$1" && { echo "non-2xx responses:"; cat "$1"; }
  printf "  %s: %8s req/s  p50 %8s  p99 %8s\n" "$2" "$(awk '/Requests\/sec/ {print $2}' "$1")" \
    "$(awk '/ 50%/ {print $2}' "$1")" "$(awk '/ 99%/ {print $2}' "$1")"
  p99_ms "$1" >>"$3"
}

# paced_get URL PATH TOKEN NAME: 3 rounds of wrk paced to ~1000 req/s (10 connections pausing
# 8 ms) on PATH, each after /health paced alike (the floor in the same round: neither Postgres nor
# the token); prints each round and the median p99s.
paced_get() {
  local url=$1 path=$2 token=$3 name=$4 i
  : >"$work/${name}_p99.txt"; : >"$work/${name}_health_p99.txt"
  for i in 1 2 3; do
    BENCH_TOKEN=$token BENCH_PATH="/health" BENCH_DELAY_MS=8 \
      wrk -t1 -c10 -d10s --latency -s bench/paced_pm.lua "$url" >"$work/${name}_health$i.out"
    p99_ms "$work/${name}_health$i.out" >>"$work/${name}_health_p99.txt"
    BENCH_TOKEN=$token BENCH_PATH="$path" BENCH_DELAY_MS=8 \
      wrk -t1 -c10 -d15s --latency -s bench/paced_pm.lua "$url" >"$work/${name}$i.out"
    wrk_report "$work/${name}$i.out" "run $i" "$work/${name}_p99.txt"
  done
  printf "  median p99 of 3 runs: %.2fms (GET /health paced alike in the same rounds: p99 %.2fms)\n" \
    "$(median <"$work/${name}_p99.txt")" "$(median <"$work/${name}_health_p99.txt")"
}

if want nats; then
echo
echo "== NATS publish (32-byte messages, $PUBLISHES per run, medians of 7 interleaved runs) =="
# Interleaved so that both sides see the same machine noise.
: >"$work/bare.txt"; : >"$work/batched.txt"; : >"$work/single.txt"
for i in 1 2 3 4 5 6 7; do
  "$work/bare_nats" publish "$nats_url" "$PUBLISHES" bench.pub >>"$work/bare.txt"
  "$bin/fleet-bench" nats-publish "$nats_url" "$PUBLISHES" bench.pub 1000 >>"$work/batched.txt"
  "$bin/fleet-bench" nats-publish "$nats_url" $((PUBLISHES / 4)) bench.pub 1 >>"$work/single.txt"
done
bare=$(median <"$work/bare.txt"); batched=$(median <"$work/batched.txt"); single=$(median <"$work/single.txt")
printf "bare libnats              %10.0f msg/s\n" "$bare"
printf "NATSClient.publish(batch:) %9.0f msg/s  (%.0f%% of bare)\n" "$batched" "$(calc "$batched*100/$bare")"
printf "NATSClient.publish (1/hop) %9.0f msg/s  (%.0f%% of bare)\n" "$single" "$(calc "$single*100/$bare")"
fi

if want postgres; then
echo
echo "== Postgres simple query (pgbench -S's SELECT, 8 clients, 10 s) =="
"$pg_bin/pgbench" -i -s 10 -q -h 127.0.0.1 -p "$pg_port" -U postgres fluke >/dev/null 2>&1
pgb=$("$pg_bin/pgbench" -S -n -c 8 -j 2 -T 10 -h 127.0.0.1 -p "$pg_port" -U postgres fluke 2>/dev/null \
  | awk '/^tps/ {print $3; exit}')
pool=$("$bin/fleet-bench" pg-select "postgres://postgres@127.0.0.1:$pg_port/fluke" 8 10)
printf "pgbench -S                %10.0f queries/s\n" "$pgb"
printf "PostgresClient pool       %10.0f queries/s  (%.0f%% of pgbench)\n" "$pool" "$(calc "$pool*100/$pgb")"
fi

if want federation; then
echo
echo "== federation, $PROJECTS catalogued projects, $HEARTBEATS heartbeats a round, medians of 3 rounds =="
python3 - "$work/catalog.yaml" "$PROJECTS" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("projects:\n")
    for i in range(int(sys.argv[2])):
        f.write(f"  - slug: p-{i:05d}\n    name: Project {i}\n    tags: [t{i % 10}]\n")
PY
key=bench-key-0123456789
env DATABASE_URL="postgres://fluke_federation@127.0.0.1:$pg_port/fluke" NATS_URL="$svc_nats" $(creds federation) HTTP_PORT=$http_port \
  FEDERATION_CATALOG="$work/catalog.yaml" FEDERATION_API_KEYS=$key LOG_LEVEL=warning \
  "$bin/federation" 2>"$work/federation.log" &
fed_pid=$!
for _ in $(seq 1 120); do
  python3 -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$http_port/ready', timeout=1)" 2>/dev/null && break
  sleep 0.5
done
: >"$work/fed_rates.txt"; : >"$work/pub_rates.txt"; : >"$work/bare_rates.txt"
for round in 1 2 3; do
  # One poller process (not one per poll, which would steal CPU from federation) notes when the
  # last heartbeat was counted (CLOCK_MONOTONIC, like the C programs; 5 ms resolution).
  python3 - "$http_port" "$HEARTBEATS" >"$work/poll.out" <<'PY' &
import sys, time, urllib.request
port, n = sys.argv[1], int(sys.argv[2])
def received():
    t = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read().decode()
    return int(float(next(l.split()[1] for l in t.splitlines() if l.startswith("federation_heartbeats_received_total "))))
before = received()
print("ready", flush=True)
deadline = time.monotonic() + 90
last_count, last_change = 0, time.monotonic()
while time.monotonic() < deadline:
    got = received() - before
    if got != last_count:
        last_count, last_change = got, time.monotonic()
    if got >= n:
        break
    time.sleep(0.005)
print(last_count, f"{last_change:.6f}", flush=True)
PY
  poll_pid=$!
  # The bare libnats subscriber takes the same heartbeats in the same round, beside federation.
  "$work/bare_nats" subscribe "$nats_url" "$HEARTBEATS" 'fluke.federation.heartbeat.>' >"$work/bare_sub.out" &
  sub_pid=$!
  for _ in $(seq 1 50); do grep -q ready "$work/poll.out" 2>/dev/null && grep -q ready "$work/bare_sub.out" 2>/dev/null && break; sleep 0.1; done
  read -r pub_rate t0 < <("$work/bare_nats" heartbeats "$nats_url" "$HEARTBEATS" "$PROJECTS")
  wait "$poll_pid" "$sub_pid"
  read -r got fed_last < <(tail -1 "$work/poll.out")
  read -r _ bare_got bare_last < <(tail -1 "$work/bare_sub.out")
  # Both timed alike: from the first heartbeat sent to the last one taken in.
  calc "$got / ($fed_last - $t0)" >>"$work/fed_rates.txt"
  calc "$bare_got / ($bare_last - $t0)" >>"$work/bare_rates.txt"
  echo "$pub_rate" >>"$work/pub_rates.txt"
  sleep 2
done
fed_rate=$(median <"$work/fed_rates.txt"); pub_rate=$(median <"$work/pub_rates.txt")
bare_sub=$(median <"$work/bare_rates.txt")
printf "heartbeat publisher       %10.0f msg/s\n" "$pub_rate"
printf "bare libnats subscriber   %10.0f msg/s (%d of %d)\n" "$bare_sub" "$bare_got" "$HEARTBEATS"
printf "federation processed      %10.0f heartbeats/s (last round %d of %d; %.0f%% of bare)\n" "$fed_rate" "$got" "$HEARTBEATS" \
  "$(calc "$fed_rate*100/$bare_sub")"
rss=$(awk '/VmHWM/ {print $2}' "/proc/$fed_pid/status")
printf "federation peak RSS       %10.1f MiB\n" "$(calc "$rss/1024")"

echo
echo "== GET /api/fed/projects/{slug}, paced to ~1000 req/s (wrk, 10 connections pausing 8 ms, 3 x 15 s) =="
# Steady state first: the burst's last flush lands, the read model has caught up with it, and
# Postgres' statistics have too.
sleep 8
"$pg_bin/psql" -q -h 127.0.0.1 -p "$pg_port" -U postgres -d fluke -c "VACUUM ANALYZE" >/dev/null
for i in 1 2 3; do
  BENCH_API_KEY=$key BENCH_DELAY_MS=8 BENCH_PROJECTS=$PROJECTS \
    wrk -t1 -c10 -d15s --latency -s bench/paced.lua "http://127.0.0.1:$http_port" >"$work/wrk$i.out"
  wrk_report "$work/wrk$i.out" "run $i" "$work/p99.txt"
done
printf "  median p99 of 3 runs: %.2fms\n" "$(median <"$work/p99.txt")"

# federation has had its turn; its checkers would otherwise share the 2 cores with what follows.
kill "$fed_pid" 2>/dev/null && wait "$fed_pid" 2>/dev/null || true
fed_pid=
fi

echo
echo "== project-manager (production scrypt cost: N = 2^15, r = 8, p = 1) =="
pm_port=$(fleet_free_port)
jwt_keys="k1:$(head -c 32 /dev/urandom | base64 | tr -d '\n')"   # project-manager signs; the others fetch its JWKS
pm_env=(DATABASE_URL="postgres://fluke_pm@127.0.0.1:$pg_port/fluke" NATS_URL="$svc_nats" $(creds project-manager) HTTP_PORT=$pm_port
        PM_JWT_PRIVATE_KEYS=$jwt_keys LOG_LEVEL=warning PM_LOGIN_MAX_FAILURES=1000)
boot=$(env "${pm_env[@]}" "$bin/project-manager" bootstrap --email bench@example.com --password bench-password \
  --tenant Bench --token-name bench 2>/dev/null)
token=$(python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["token"])' <<<"$boot")
env "${pm_env[@]}" "$bin/project-manager" 2>"$work/pm.log" &
pm_pid=$!
for _ in $(seq 1 120); do
  python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$pm_port/ready', timeout=1)" 2>/dev/null && break
  sleep 0.5
done
# Login cost, sequential (one client), and a JWT plus a project for the GET below.
read -r login_ms jwt project < <(python3 - "$pm_port" <<'PY'
import json, statistics, sys, time, urllib.request
base = f"http://127.0.0.1:{sys.argv[1]}"
def post(path, body, token=None):
    headers = {"Content-Type": "application/json"}
    if token: headers["Authorization"] = "Bearer " + token
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), headers=headers)
    with urllib.request.urlopen(req) as r: return json.loads(r.read())
times = []
for _ in range(15):
    t = time.monotonic(); jwt = post("/auth/login", {"email": "bench@example.com", "password": "bench-password"})["access_token"]
    times.append((time.monotonic() - t) * 1000)
project = post("/api/v1/projects", {"name": "Bench", "stage": "mvp"}, jwt)["id"]
print(f"{statistics.median(times):.0f}", jwt, project)
PY
)
printf "POST /auth/login          %10s ms median of 15 sequential logins (scrypt on a 2-thread pool)\n" "$login_ms"
if want pm; then
"$bin/fleet-bench" verify "$nats_url" "$token" 1 1 >/dev/null   # warm the cache
# The floor: a bare libnats responder in C answering the same clients with a canned reply, in the
# same rounds. Clients: bare libnats, closed loop (6 threads each waiting for its reply) and open
# loop (paced at 10,000/s, replies on one inbox); then the fleet's own NATSClient.request paced.
reply='{"expires_at":null,"scopes":["context:read"],"tenant_id":"00000000-0000-0000-0000-000000000000","user_id":"00000000-0000-0000-0000-000000000000","valid":true}'
"$work/bare_nats" respond "$nats_url" 600 bench.verify.bare "$reply" & bare_pid=$!
sleep 0.5
payload="{\"token\":\"$token\"}"
for f in bare_closed pm_closed bare_paced pm_paced swift_paced; do : >"$work/v_$f.txt"; done
for i in 1 2 3; do
  "$work/bare_nats" request "$nats_url" 5 bench.verify.bare "$payload" 6 >>"$work/v_bare_closed.txt"
  "$work/bare_nats" request "$nats_url" 5 fluke.rpc.identity.verify "$payload" 6 >>"$work/v_pm_closed.txt"
  "$work/bare_nats" paced "$nats_url" 5 bench.verify.bare "$payload" 10000 >>"$work/v_bare_paced.txt"
  "$work/bare_nats" paced "$nats_url" 5 fluke.rpc.identity.verify "$payload" 10000 >>"$work/v_pm_paced.txt"
  "$bin/fleet-bench" verify-paced "$nats_url" "$token" 10000 5 >>"$work/v_swift_paced.txt"
done
kill "$bare_pid" 2>/dev/null; wait "$bare_pid" 2>/dev/null || true
col() { awk -v c="$1" '{print $c}' "$2" | median; }
echo "fluke.rpc.identity.verify, cached fbk_ token (medians of 3 x 5 s, interleaved):"
printf "  %-44s %8s %9s %9s\n" "" "req/s" "p50 ms" "p99 ms"
for row in "bare C responder, 6 in flight:bare_closed" "project-manager, 6 in flight:pm_closed" \
           "bare C responder, paced 10,000/s:bare_paced" "project-manager, paced 10,000/s:pm_paced" \
           "project-manager, NATSClient.request paced:swift_paced"; do
  label=${row%%:*}; f="$work/v_${row##*:}.txt"
  printf "  %-44s %8.0f %9.3f %9.3f\n" "$label" "$(col 1 "$f")" "$(col 2 "$f")" "$(col 3 "$f")"
done
printf "  project-manager / bare responder, 6 in flight: %.0f%% of the rate\n" \
  "$(calc "$(col 1 "$work/v_pm_closed.txt")*100/$(col 1 "$work/v_bare_closed.txt")")"

echo
echo "== GET /api/v1/projects/{id} with a JWT, paced to ~1000 req/s (wrk, 10 connections pausing 8 ms, 3 x 15 s) =="
paced_get "http://127.0.0.1:$pm_port" "/api/v1/projects/$project" "$jwt" pm
rss=$(awk '/VmHWM/ {print $2}' "/proc/$pm_pid/status")
printf "project-manager peak RSS  %10.1f MiB\n" "$(calc "$rss/1024")"
fi

if want context; then
echo
echo "== context-api: GET /api/v1/flukebase_connect/context with an fbk_ token, beside nginx serving the same JSON =="
command -v nginx >/dev/null || { echo "installing nginx (bench only)…"; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null; }
ctx_port=$(fleet_free_port); nginx_port=$(fleet_free_port)
env DATABASE_URL="postgres://fluke_context@127.0.0.1:$pg_port/fluke" NATS_URL="$svc_nats" $(creds context-api) HTTP_PORT=$ctx_port \
  FLUKE_JWKS_URL="http://127.0.0.1:$pm_port/.well-known/jwks.json" FLUKE_ENCRYPTION_KEY="k1:$(head -c 32 /dev/urandom | base64 | tr -d '\n')" LOG_LEVEL=warning \
  "$bin/context-api" 2>"$work/context.log" &
ctx_pid=$!
read -r ctx_token < <(python3 - "$pm_port" "$ctx_port" "$jwt" "$project" <<'PY'
import json, sys, time, urllib.request, urllib.error
pm, ctx, jwt, project = f"http://127.0.0.1:{sys.argv[1]}", f"http://127.0.0.1:{sys.argv[2]}", sys.argv[3], sys.argv[4]
def call(base, method, path, body=None, token=jwt):
    headers = {"Authorization": "Bearer " + token}
    if body is not None: headers["Content-Type"] = "application/json"
    req = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode() if body is not None else None, headers=headers)
    with urllib.request.urlopen(req) as r: return json.loads(r.read() or b"{}")
token = call(pm, "POST", "/api/v1/tokens", {"name": "bench", "scopes": ["context:read", "secrets:read", "memories:write"], "project_id": project})["token"]
for i in range(3): call(pm, "POST", f"/api/v1/projects/{project}/milestones", {"title": f"Milestone {i}", "status": "in_progress"})
deadline = time.time() + 60
while time.time() < deadline:
    try:
        call(ctx, "GET", "/api/v1/flukebase_connect/context", token=token); break
    except Exception: time.sleep(0.5)
for i in range(10): call(ctx, "PUT", f"/api/v1/projects/{project}/env/VAR_{i}", {"value": f"value-{i}", "environment": "development"})
print(token)
PY
)
mkdir -p "$work/nginx/www" "$work/nginx/logs"
python3 - "$ctx_port" "$ctx_token" >"$work/nginx/www/context.json" <<'PY'
import sys, urllib.request
req = urllib.request.Request(f"http://127.0.0.1:{sys.argv[1]}/api/v1/flukebase_connect/context", headers={"Authorization": "Bearer " + sys.argv[2]})
sys.stdout.write(urllib.request.urlopen(req).read().decode())
PY
nginx_conf="$work/nginx/nginx.conf"
cat >"$nginx_conf" <<CONF
worker_processes auto;
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  default_type application/json;
  server { listen 127.0.0.1:$nginx_port; root $work/nginx/www; etag on; }
}
CONF
nginx -c "$nginx_conf" -p "$work/nginx"
# The framework's own ceiling in the same rounds: a bare Hummingbird server sending the same bytes.
hb_port=$(fleet_free_port)
"$bin/fleet-bench" hummingbird "$hb_port" "$work/nginx/www/context.json" 2>/dev/null & hb_pid=$!
sleep 0.5
printf "context body: %d bytes (10 env vars, 3 milestones)\n" "$(wc -c <"$work/nginx/www/context.json")"
: >"$work/ctx_peak.txt"; : >"$work/nginx_peak.txt"; : >"$work/hb_peak.txt"
for i in 1 2 3; do
  BENCH_TOKEN=x BENCH_PATH=/file BENCH_DELAY_MS=0 \
    wrk -t2 -c32 -d10s -s bench/paced_pm.lua "http://127.0.0.1:$hb_port" | awk '/Requests\/sec/ {print $2}' >>"$work/hb_peak.txt"
  BENCH_TOKEN=$ctx_token BENCH_PATH=/api/v1/flukebase_connect/context BENCH_DELAY_MS=0 \
    wrk -t2 -c32 -d10s -s bench/paced_pm.lua "http://127.0.0.1:$ctx_port" | awk '/Requests\/sec/ {print $2}' >>"$work/ctx_peak.txt"
  BENCH_TOKEN=$ctx_token BENCH_PATH=/context.json BENCH_DELAY_MS=0 \
    wrk -t2 -c32 -d10s -s bench/paced_pm.lua "http://127.0.0.1:$nginx_port" | awk '/Requests\/sec/ {print $2}' >>"$work/nginx_peak.txt"
done
kill "$hb_pid" 2>/dev/null; wait "$hb_pid" 2>/dev/null || true
ctx_peak=$(median <"$work/ctx_peak.txt"); nginx_peak=$(median <"$work/nginx_peak.txt"); hb_peak=$(median <"$work/hb_peak.txt")
echo "peak, wrk 2 threads x 32 connections (medians of 3 x 10 s, interleaved):"
printf "  nginx, static file            %8.0f req/s\n" "$nginx_peak"
printf "  bare Hummingbird, same bytes  %8.0f req/s  (%.0f%% of nginx)\n" "$hb_peak" "$(calc "$hb_peak*100/$nginx_peak")"
printf "  context-api (fbk_ token)      %8.0f req/s  (%.0f%% of nginx, %.0f%% of bare Hummingbird)\n" "$ctx_peak" \
  "$(calc "$ctx_peak*100/$nginx_peak")" "$(calc "$ctx_peak*100/$hb_peak")"
: >"$work/ctx_p99.txt"
for i in 1 2 3; do
  BENCH_TOKEN=$ctx_token BENCH_PATH=/api/v1/flukebase_connect/context BENCH_DELAY_MS=8 \
    wrk -t1 -c10 -d15s --latency -s bench/paced_pm.lua "http://127.0.0.1:$ctx_port" >"$work/ctxwrk$i.out"
  wrk_report "$work/ctxwrk$i.out" "paced ~1000 req/s, run $i" "$work/ctx_p99.txt"
done
printf "  median p99 of 3 runs: %.2fms\n" "$(median <"$work/ctx_p99.txt")"
echo "memory write → its memory.synced event on NATS (500 writes at 50/s, 3 rounds):"
: >"$work/sync_p99.txt"
for i in 1 2 3; do
  read -r p50 p99 got < <("$bin/fleet-bench" memory-sync "$nats_url" "http://127.0.0.1:$ctx_port" "$ctx_token" 500 50)
  printf "  round %d: p50 %6.2fms  p99 %6.2fms  (%d of 500 events)\n" "$i" "$p50" "$p99" "$got"
  echo "$p99" >>"$work/sync_p99.txt"
done
printf "  median p99 of 3 rounds: %.2fms\n" "$(median <"$work/sync_p99.txt")"
rss=$(awk '/VmHWM/ {print $2}' "/proc/$ctx_pid/status")
printf "context-api peak RSS      %10.1f MiB\n" "$(calc "$rss/1024")"

echo
echo "== fluke (release): start-up, and get_project_context through fluke mcp --http beside context-api itself =="
read -r help_ms true_ms < <(python3 bench/fluke_bench.py help "$bin/fluke" 30)
printf "  fluke --help                  %6.1f ms (median of 30; target < 100 ms)  /bin/true %.1f ms\n" "$help_ms" "$true_ms"
mcp_port=$(fleet_free_port)
FLUKE_CONTEXT_API_URL="http://127.0.0.1:$ctx_port" FLUKE_PROJECT_MANAGER_URL="http://127.0.0.1:$pm_port" \
  "$bin/fluke" mcp --http "127.0.0.1:$mcp_port" 2>"$work/fluke-mcp.log" & mcp_pid=$!
python3 - "$mcp_port" <<'PY'
import sys, time, urllib.request
for _ in range(100):
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/health", timeout=1); break
    except OSError:
        time.sleep(0.1)
PY
echo "  get_project_context, one keep-alive connection each, calls alternating (3 rounds of 300):"
: >"$work/mcp_extra.txt"
for i in 1 2 3; do
  read -r mcp_p50 direct_p50 mcp_p99 direct_p99 ping_p50 < <(python3 bench/fluke_bench.py mcp "$mcp_port" "$ctx_port" "$ctx_token" 300)
  printf "    round %d: fluke mcp --http p50 %6.2f ms (p99 %6.2f)   context-api p50 %6.2f ms (p99 %6.2f)   +%.2f ms   (MCP ping alone p50 %.2f ms)\n" \
    "$i" "$mcp_p50" "$mcp_p99" "$direct_p50" "$direct_p99" "$(calc "$mcp_p50 - $direct_p50")" "$ping_p50"
  calc "$mcp_p50 - $direct_p50" >>"$work/mcp_extra.txt"
done
printf "  median added p50: %.2f ms (target ≤ 2 ms)\n" "$(median <"$work/mcp_extra.txt")"
kill "$mcp_pid" 2>/dev/null; wait "$mcp_pid" 2>/dev/null || true
fi

if want webhooks; then
echo
echo "== webhook-dispatcher: signed deliveries to a local receiver (release build, defaults but plain http to 127.0.0.1) =="
rcv_port=$(fleet_free_port); wh_port=$(fleet_free_port)
"$bin/fleet-bench" webhook-receiver "$rcv_port" 2>"$work/receiver.log" & rcv_pid=$!
tenant=$(python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["tenant_id"])' <<<"$boot")
wh_env=(DATABASE_URL="postgres://fluke_webhooks@127.0.0.1:$pg_port/fluke" NATS_URL="$svc_nats" $(creds webhook-dispatcher) HTTP_PORT=$wh_port
        FLUKE_JWKS_URL="http://127.0.0.1:$pm_port/.well-known/jwks.json" FLUKE_ENCRYPTION_KEY="k1:$(head -c 32 /dev/urandom | base64 | tr -d '\n')"
        LOG_LEVEL=warning WEBHOOK_ALLOW_HTTP=true WEBHOOK_ALLOWED_HOSTS=127.0.0.1)
start_wh() { env "${wh_env[@]}" "$bin/webhook-dispatcher" 2>>"$work/webhooks.log" & wh_pid=$!; wait_ready "$wh_port"; }
stop_wh() { kill "$wh_pid" && wait "$wh_pid" || true; wh_pid=; }
start_wh
# Four subscriptions on the bench project (throughput), one on a second project (latency).
read -r project2 < <(python3 - "$pm_port" "$wh_port" "$rcv_port" "$jwt" "$project" <<'PY'
import json, sys, urllib.request
pm, wh, rcv, jwt, project = f"http://127.0.0.1:{sys.argv[1]}", f"http://127.0.0.1:{sys.argv[2]}", sys.argv[3], sys.argv[4], sys.argv[5]
def post(base, path, body):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(),
                                 headers={"Authorization": "Bearer " + jwt, "Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r: return json.loads(r.read())
for i in range(4):
    post(wh, "/api/v1/webhooks/subscriptions", {"project_id": project, "events": ["task.*"],
                                                 "callback_url": f"http://127.0.0.1:{rcv}/hook/s{i}"})
project2 = post(pm, "/api/v1/projects", {"name": "Bench latency", "stage": "mvp"})["id"]
post(wh, "/api/v1/webhooks/subscriptions", {"project_id": project2, "events": ["task.*"],
                                             "callback_url": f"http://127.0.0.1:{rcv}/hook/latency"})
print(project2)
PY
)
WH_EVENTS=${BENCH_WEBHOOK_EVENTS:-5000}
deliveries=$((WH_EVENTS * 4))
# Throughput: the events wait in JetStream while the dispatcher is stopped; it is then started and
# timed from the first delivery received to the last. The floor in the same round: the same number
# of webhook-sized POSTs through a bare AsyncHTTPClient, with the dispatcher's in-flight count (4
# subscriptions x 16) and its connection limit per host (WEBHOOK_CONCURRENCY, 256), to the same
# receiver.
: >"$work/wh_rate.txt"; : >"$work/ahc_rate.txt"
for i in 1 2 3; do
  stop_wh
  http "http://127.0.0.1:$rcv_port/stats" DELETE >/dev/null
  "$bin/fleet-bench" webhook-publish "$nats_url" "$tenant" "$project" "$WH_EVENTS" 0
  start_wh
  for _ in $(seq 1 600); do
    read -r got first last _ < <(http "http://127.0.0.1:$rcv_port/stats")
    [ "$got" -ge "$deliveries" ] && break
    sleep 0.2
  done
  [ "$got" -ge "$deliveries" ] || { echo "only $got of $deliveries deliveries arrived"; tail -20 "$work/webhooks.log"; exit 1; }
  calc "$got / (($last - $first) / 1e9)" >>"$work/wh_rate.txt"
  http "http://127.0.0.1:$rcv_port/stats" DELETE >/dev/null
  "$bin/fleet-bench" webhook-bare "http://127.0.0.1:$rcv_port/hook/bare" "$deliveries" 64 256 >>"$work/ahc_rate.txt"
done
wh_rate=$(median <"$work/wh_rate.txt"); ahc_rate=$(median <"$work/ahc_rate.txt")
echo "throughput, $deliveries deliveries a round (medians of 3 interleaved rounds):"
printf "  bare AsyncHTTPClient POST loop  %8.0f req/s\n" "$ahc_rate"
printf "  webhook-dispatcher              %8.0f deliveries/s  (%.0f%% of the bare loop; signed, each attempt logged in Postgres)\n" \
  "$wh_rate" "$(calc "$wh_rate*100/$ahc_rate")"
# Latency: events published at 200/s (open loop), each timed from just before its JetStream
# publish to its arrival at the receiver (CLOCK_REALTIME in both processes).
echo "event → delivery at 200 events/s (3 rounds of 3,000 events, one subscription):"
: >"$work/wh_p99.txt"
for i in 1 2 3; do
  http "http://127.0.0.1:$rcv_port/stats" DELETE >/dev/null
  "$bin/fleet-bench" webhook-publish "$nats_url" "$tenant" "$project2" 3000 200
  for _ in $(seq 1 50); do
    read -r got _ _ p50 p99 < <(http "http://127.0.0.1:$rcv_port/stats")
    [ "$got" -ge 3000 ] && break
    sleep 0.2
  done
  printf "  round %d: p50 %6.2fms  p99 %6.2fms  (%d of 3000 delivered)\n" "$i" "$p50" "$p99" "$got"
  echo "$p99" >>"$work/wh_p99.txt"
done
printf "  median p99 of 3 rounds: %.2fms\n" "$(median <"$work/wh_p99.txt")"
rss=$(awk '/VmHWM/ {print $2}' "/proc/$wh_pid/status")
printf "webhook-dispatcher peak RSS (since its last start) %6.1f MiB\n" "$(calc "$rss/1024")"
fi

if want deploy; then
echo
echo "== deploy-tracker: the process executor behind nginx, the fixture app (Tests/DeployExecutorTests/Fixtures/app.py) from git =="
command -v nginx >/dev/null || { echo "installing nginx (bench only)…"; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null; }
dt_port=$(fleet_free_port)
env DATABASE_URL="postgres://fluke_deploy@127.0.0.1:$pg_port/fluke" NATS_URL="$svc_nats" $(creds deploy-tracker) HTTP_PORT=$dt_port \
  FLUKE_JWKS_URL="http://127.0.0.1:$pm_port/.well-known/jwks.json" LOG_LEVEL=warning DEPLOY_DATA_DIR="$work/deploy" \
  DEPLOY_EXECUTORS=process DEPLOY_APP_PORTS=24000-24199 DEPLOY_REPLICA_PORTS=24200-24999 \
  "$bin/deploy-tracker" 2>"$work/deploy.log" &
dt_pid=$!
wait_ready "$dt_port"
dt="http://127.0.0.1:$dt_port"
# The app's source: a git repository of the fixture app, as the tests deploy it.
repo="$work/app-src"
mkdir -p "$repo" && cp Tests/DeployExecutorTests/Fixtures/app.py "$repo/"
git -C "$repo" init -q -b main && git -C "$repo" add . && git -C "$repo" -c user.email=b@example.com -c user.name=bench commit -q -m app
dt_token=$(python3 bench/deploy_bench.py token "http://127.0.0.1:$pm_port" bench@example.com bench-password "$project")

DEPLOY_ROUNDS=${BENCH_DEPLOY_ROUNDS:-11}
echo "tracker overhead per deploy: one replica, rolling, $DEPLOY_ROUNDS rounds; each beside the same build, start and"
echo "first healthy answer done directly (a script polling /health every 2 ms), interleaved:"
python3 bench/deploy_bench.py overhead "$dt" "$dt_token" "$repo" "$DEPLOY_ROUNDS" >"$work/overhead.txt"
deployment=$(awk '/^deployment/ {print $2}' "$work/overhead.txt")
grep -v '^deployment' "$work/overhead.txt" | awk '{print $1}' >"$work/dt_wall.txt"
grep -v '^deployment' "$work/overhead.txt" | awk '{print $2}' >"$work/dt_direct.txt"
grep -v '^deployment' "$work/overhead.txt" | awk '{print $1 - $2}' >"$work/dt_over.txt"
printf "  deploy through deploy-tracker (POST /api/v1/deploy to status success)  median %7.1f ms\n" "$(median <"$work/dt_wall.txt")"
printf "  the same build, start and first healthy answer, directly                median %7.1f ms\n" "$(median <"$work/dt_direct.txt")"
printf "  tracker overhead (per round, the difference)                            median %7.1f ms (min %.1f, max %.1f)\n" \
  "$(median <"$work/dt_over.txt")" "$(sort -n "$work/dt_over.txt" | head -1)" "$(sort -n "$work/dt_over.txt" | tail -1)"
echo "  the last round's steps, as its log records them:"
python3 bench/deploy_bench.py steps "$dt" "$dt_token" "$deployment"

echo "GET /api/v1/deployments/{id} with an fbk_ token, paced to ~1000 req/s (wrk, 10 connections pausing 8 ms, 3 x 15 s):"
paced_get "$dt" "/api/v1/deployments/$deployment" "$dt_token" deploy

DEPLOY_APPS=${BENCH_DEPLOY_APPS:-50}
echo "$DEPLOY_APPS apps deploying at once (one replica each, process executor, one nginx):"
read -r ok failed wall < <(python3 bench/deploy_bench.py fleet "$dt" "$dt_token" "$repo" "$DEPLOY_APPS" 2>"$work/fleet.err")
printf "  %d succeeded, %d failed, all finished in %.1f s\n" "$ok" "$failed" "$wall"
[ "$failed" -eq 0 ] || { echo "  failed deploys:"; sed 's/^/    /' "$work/fleet.err"; }
rss=$(awk '/VmHWM/ {print $2}' "/proc/$dt_pid/status")
printf "deploy-tracker peak RSS   %10.1f MiB\n" "$(calc "$rss/1024")"
fi

if want logs; then
echo
echo "== log-streamer (release, LOGS_MAX_TAILS_PER_TENANT=2000, every other setting its default) =="
logs_port=$(fleet_free_port)
tenant=$(python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["tenant_id"])' <<<"$boot")
# A tenant-wide fbk_ token that may read logs (the tails and the queries).
logs_token=$(python3 - "$pm_port" "$jwt" <<'PY'
import json, sys, urllib.request
req = urllib.request.Request(f"http://127.0.0.1:{sys.argv[1]}/api/v1/tokens", data=json.dumps({"name": "bench-logs", "scopes": ["logs:read"]}).encode(),
                             headers={"Authorization": "Bearer " + sys.argv[2], "Content-Type": "application/json"})
print(json.loads(urllib.request.urlopen(req).read())["token"])
PY
)
logs_env=(DATABASE_URL="postgres://fluke_logs@127.0.0.1:$pg_port/fluke" NATS_URL="$svc_nats" $(creds log-streamer) HTTP_PORT=$logs_port
          FLUKE_JWKS_URL="http://127.0.0.1:$pm_port/.well-known/jwks.json" LOG_LEVEL=warning LOGS_MAX_TAILS_PER_TENANT=2000)
start_logs() { env "${logs_env[@]}" "$bin/log-streamer" 2>>"$work/logs.log" & logs_pid=$!; }
stop_logs() { kill "$logs_pid" 2>/dev/null && wait "$logs_pid" 2>/dev/null || true; logs_pid=; }
psql_c() { "$pg_bin/psql" -qAtX -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$pg_port" -U postgres -d fluke -c "$1"; }
# metric PORT NAME: a counter or gauge of log-streamer's /metrics (0 when absent, -1 when
# /metrics does not answer within 10 s: a busy log-streamer may not).
metric() {
  python3 - "$1" "$2" <<'PY'
import sys, urllib.request
try:
    t = urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/metrics", timeout=10).read().decode()
    print(next((int(float(l.split()[-1])) for l in t.splitlines() if l.split(" ")[0] == sys.argv[2]), 0))
except Exception:
    print(-1)
PY
}
# wait_line FILE PID: until FILE has a "ready" line (fails if PID exits first, or after 60 s).
wait_line() {
  for _ in $(seq 1 600); do
    grep -q '^ready' "$1" 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || { echo "process $2 ended before it was ready:"; cat "$1" "$1.err" 2>/dev/null; return 1; }
    sleep 0.1
  done
  echo "process $2 was not ready after 60 s"; return 1
}
vmrss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
clk_tck=$(getconf CLK_TCK)
# utime + stime of a process, in clock ticks (the command name holds no spaces here).
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# The whole machine's clock ticks (every CPU): busy (all but idle and iowait), and all.
machine_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9; exit}' /proc/stat; }
# Postgres' CPU ticks: the postmaster of this run and its children.
pg_ticks() {
  local pm t=0 p
  pm=$(head -1 "$work/pg/data/postmaster.pid")
  for p in "$pm" $(pgrep -P "$pm"); do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done
  echo "$t"
}
# The first start makes stream FLUKE_LOGS and the durable consumer log_streamer; from then on
# entries published while log-streamer is stopped wait for it in the stream.
start_logs; wait_ready "$logs_port"; stop_logs

LOG_INGEST=${BENCH_LOG_INGEST:-200000}
echo "ingest: $LOG_INGEST entries published onto fluke.logs.<tenant>.<app> (50 apps) while log-streamer is stopped, then"
echo "timed from its start until logs_entries_stored_total says all are stored; beside it, COPY of the same rows"
echo "(same partitions and indexes, table truncated first); 3 rounds, interleaved:"
: >"$work/ingest_rate.txt"; : >"$work/copy_rate.txt"
for i in 1 2 3; do
  psql_c "TRUNCATE logs.entries"
  "$bin/fleet-bench" logs-publish "$nats_url" "$tenant" "$project" "$LOG_INGEST" 0 "ingest$i" "$work/ingest.copy" >/dev/null
  python3 - "$logs_port" "$LOG_INGEST" >"$work/ingest_poll.out" <<'PY' &
import sys, time, urllib.request
port, n = sys.argv[1], int(sys.argv[2])
ready, got, deadline = None, 0, time.time() + 300
while time.time() < deadline:
    try:
        t = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read().decode()
        ready = ready or time.time()
        got = next((int(float(l.split()[-1])) for l in t.splitlines() if l.split(" ")[0] == "logs_entries_stored_total"), 0)
        if got >= n:
            break
    except OSError:
        pass
    time.sleep(0.02)
print(f"{ready or 0:.6f} {time.time():.6f} {got}")
PY
  poll_pid=$!
  pg0=$(pg_ticks)
  t0=$(date +%s.%N)
  start_logs
  wait "$poll_pid"
  ls_cpu=$(cpu_ticks "$logs_pid"); pg1=$(pg_ticks)
  stop_logs
  read -r t_ready t_done stored <"$work/ingest_poll.out"
  [ "$stored" -ge "$LOG_INGEST" ] || { echo "log-streamer stored only $stored of $LOG_INGEST"; tail -20 "$work/logs.log"; exit 1; }
  rows=$(psql_c "SELECT count(*) FROM logs.entries")
  digest="SELECT md5(string_agg(concat_ws('|', tenant_id, ts, seq, id, project_id, app_name, level, entry::text), ',' ORDER BY seq)) FROM logs.entries"
  [ "$i" = 1 ] && stored_md5=$(psql_c "$digest")
  psql_c "TRUNCATE logs.entries"
  c0=$(date +%s.%N)
  psql_c "COPY logs.entries FROM '$work/ingest.copy'"
  c1=$(date +%s.%N)
  [ "$i" = 1 ] && { copied_md5=$(psql_c "$digest"); copied=$(psql_c "SELECT count(*) FROM logs.entries"); }
  psql_c "TRUNCATE logs.entries"
  rate=$(calc "$LOG_INGEST / ($t_done - $t0)"); copy_rate=$(calc "$LOG_INGEST / ($c1 - $c0)")
  echo "$rate" >>"$work/ingest_rate.txt"; echo "$copy_rate" >>"$work/copy_rate.txt"
  printf "  round %d: log-streamer %7.0f rows/s (%d rows in %.2f s, %.2f s of it until /metrics answered; CPU s: log-streamer %.1f, Postgres %.1f)  COPY %7.0f rows/s\n" \
    "$i" "$rate" "$rows" "$(calc "$t_done - $t0")" "$(calc "$t_ready - $t0")" "$(calc "$ls_cpu / $clk_tck")" \
    "$(calc "($pg1 - $pg0) / $clk_tck")" "$copy_rate"
done
ingest=$(median <"$work/ingest_rate.txt"); copy=$(median <"$work/copy_rate.txt")
printf "  COPY into logs.entries        %8.0f rows/s (median)\n" "$copy"
printf "  log-streamer from FLUKE_LOGS  %8.0f rows/s (median; %.0f%% of COPY; target 50%%)\n" "$ingest" "$(calc "$ingest*100/$copy")"
if [ "$stored_md5" = "$copied_md5" ] && [ "$copied" = "$LOG_INGEST" ]; then
  echo "  (round 1: the rows log-streamer stored and the rows COPY loaded are identical, md5 over every column but the nulls)"
else
  echo "  (round 1: the rows log-streamer stored DIFFER from the COPY's: $stored_md5 vs $copied_md5, $copied copied)"
fi

LOG_RATE=${BENCH_LOG_RATE:-5000}; LOG_SECONDS=${BENCH_LOG_SECONDS:-20}; LOG_CLIENTS=100
LOG_LOW_RATE=${BENCH_LOG_LOW_RATE:-500}
echo "live tail: $LOG_CLIENTS WebSocket clients (fleet-bench, NIOWebSocket) on one log-streamer, entries published on core"
echo "NATS at $LOG_RATE/s for $LOG_SECONDS s, each stamped with its CLOCK_REALTIME send time; publish → client latency over every"
echo "entry of every client. Beside it the bare broadcaster (fleet-bench ws-broadcaster: NIOWebSocket, a core subscription"
echo "on fluke.logs.>, no JetStream), same clients, log-streamer stopped meanwhile; before each log-streamer run it has"
echo "stored everything published so far. CPU s = utime+stime over the publishing. 3 rounds, interleaved; then one of"
echo "log-streamer with the stage probe (below); then one at $LOG_LOW_RATE/s, probe on:"
# tail_run SIDE RATE SECONDS TAG [probe]: one run of the clients against log-streamer (streamer) or
# the bare broadcaster (bare); appends its p99 (and, with the probe, the stages' p99s) to files
# named by TAG's part before its first '-', and prints one line. The probe (a core NATS subscriber
# and an ordered JetStream consumer in the clients' process, timing the stages before the tail)
# costs the machine CPU of its own, so the measured rounds run without it.
published=0
tail_run() {
  local side=$1 rate=$2 secs=$3 tag=$4 probe=${5:-} url server label n probe_url=()
  n=$((rate * secs))
  [ -n "$probe" ] && probe_url=("$nats_url")
  if [ "$side" = streamer ]; then
    url="ws://127.0.0.1:$logs_port/?access_token=$logs_token"; server=$logs_pid; label="log-streamer"
  else
    url="ws://127.0.0.1:$bb_port/"; server=$bb_pid; label="bare broadcaster"
  fi
  "$bin/fleet-bench" ws-clients "$url" "$LOG_CLIENTS" "$n" $((secs + 30)) "${probe_url[@]}" \
    >"$work/clients.out" 2>"$work/clients.out.err" & cl_pid=$!
  wait_line "$work/clients.out" "$cl_pid"
  if [ "$side" = streamer ]; then
    for _ in $(seq 1 100); do [ "$(metric "$logs_port" logs_tails)" -ge "$LOG_CLIENTS" ] && break; sleep 0.1; done
  fi
  sleep 0.5
  local s0 c0 s1 c1 n0 n1 g0 g1 m0 m1 t0 t1 o0=0 o1=0
  [ "$side" = streamer ] && o0=$(metric "$logs_port" logs_tail_entries_offered_total)
  s0=$(cpu_ticks "$server"); c0=$(cpu_ticks "$cl_pid"); n0=$(cpu_ticks "$(cat "$work/nats/nats.pid")"); g0=$(pg_ticks); read -r m0 t0 < <(machine_ticks)
  "$bin/fleet-bench" logs-publish "$nats_url" "$tenant" "$project" "$n" "$rate" "$tag" >/dev/null
  s1=$(cpu_ticks "$server"); c1=$(cpu_ticks "$cl_pid"); n1=$(cpu_ticks "$(cat "$work/nats/nats.pid")"); g1=$(pg_ticks); read -r m1 t1 < <(machine_ticks)
  # How far log-streamer's broadcaster had got (entries queued to the tails) when the last was published.
  [ "$side" = streamer ] && o1=$(metric "$logs_port" logs_tail_entries_offered_total)
  published=$((published + n))
  wait "$cl_pid" || { echo "the clients failed:"; cat "$work/clients.out.err"; exit 1; }
  cl_pid=
  local min_got max_got drop_msgs drop_entries closed p50 p99 p999 pmax core_p99 js_p99
  read -r _ min_got max_got drop_msgs drop_entries _ closed p50 p99 p999 pmax < <(sed -n 2p "$work/clients.out")
  echo "$p99" >>"$work/tail_${tag%%-*}_${side}_p99.txt"
  if [ "$side" = streamer ] && [ -n "$probe" ]; then
    read -r _ _ core_p99 _ _ < <(grep '^core' "$work/clients.out")
    read -r _ _ js_p99 _ _ < <(grep '^jetstream' "$work/clients.out")
    echo "$core_p99" >>"$work/tail_${tag%%-*}_core_p99.txt"; echo "$js_p99" >>"$work/tail_${tag%%-*}_jetstream_p99.txt"
  fi
  printf "  %-22s %-16s p50 %8.2fms  p99 %8.2fms  p99.9 %8.2fms  max %8.2fms  CPU s: server %5.1f, clients %5.1f  (entries per client %d-%d of %d" \
    "$tag" "$label" "$p50" "$p99" "$p999" "$pmax" "$(calc "($s1 - $s0) / $clk_tck")" "$(calc "($c1 - $c0) / $clk_tck")" "$min_got" "$max_got" "$n"
  printf "; nats-server %.1f, Postgres %.1f, machine %.0f%% busy" "$(calc "($n1 - $n0) / $clk_tck")" "$(calc "($g1 - $g0) / $clk_tck")" \
    "$(calc "($m1 - $m0) * 100 / ($t1 - $t0)")"
  [ "$drop_msgs" -gt 0 ] && printf "; %d dropped, in %d dropped messages" "$drop_entries" "$drop_msgs"
  [ "$closed" -gt 0 ] && printf "; %d clients closed" "$closed"
  if [ "$side" = streamer ]; then
    if [ "$o0" -ge 0 ] && [ "$o1" -ge 0 ]; then
      printf "; %.0f%% queued to the tails when publishing ended" "$(calc "($o1 - $o0) * 100 / ($n * $LOG_CLIENTS)")"
    else
      printf "; /metrics did not answer within 10 s when publishing ended"
    fi
  fi
  printf ")\n"
}
# Until log-streamer has stored every entry published so far (its intake lags while tails are busy).
wait_stored() {
  for _ in $(seq 1 1200); do
    [ "$(psql_c "SELECT count(*) FROM logs.entries")" -ge "$published" ] && return 0
    sleep 0.1
  done
  echo "log-streamer did not store the $published entries published"; exit 1
}
bb_port=$(fleet_free_port)
"$bin/fleet-bench" ws-broadcaster "$bb_port" "$nats_url" >"$work/bb.out" 2>"$work/bb.out.err" & bb_pid=$!
wait_line "$work/bb.out" "$bb_pid"
start_logs; wait_ready "$logs_port"
for f in hi probe lo; do for g in streamer bare core jetstream; do : >"$work/tail_${f}_${g}_p99.txt"; done; done
tail_drops=0
for i in 1 2 3 probe low; do
  probe=
  case $i in
    low) rate=$LOG_LOW_RATE secs=10 tag="lo-$LOG_LOW_RATE/s" probe=probe ;;
    probe) rate=$LOG_RATE secs=$LOG_SECONDS tag="probe-$LOG_RATE/s" probe=probe ;;
    *) rate=$LOG_RATE secs=$LOG_SECONDS tag="hi-round$i" ;;
  esac
  tail_run streamer "$rate" "$secs" "$tag" $probe
  drops=$(metric "$logs_port" logs_tail_dropped_total)
  [ "$drops" -ge 0 ] && tail_drops=$((tail_drops + drops))
  [ "$i" = probe ] && continue
  stop_logs
  tail_run bare "$rate" "$secs" "$tag" $probe
  start_logs; wait_ready "$logs_port"; wait_stored
done
streamer_p99=$(median <"$work/tail_hi_streamer_p99.txt"); bare_p99=$(median <"$work/tail_hi_bare_p99.txt")
printf "  %d/s, median p99 of 3: log-streamer %.2fms, bare broadcaster %.2fms (%.1fx the bare; target ≤ 10 ms)\n" "$LOG_RATE" \
  "$streamer_p99" "$bare_p99" "$(calc "$streamer_p99/$bare_p99")"
printf "  %d/s, p99: log-streamer %.2fms, bare broadcaster %.2fms\n" "$LOG_LOW_RATE" \
  "$(cat "$work/tail_lo_streamer_p99.txt")" "$(cat "$work/tail_lo_bare_p99.txt")"
printf "  on the way, in the log-streamer runs with the probe, p99 publish → core NATS subscriber / → ordered JetStream\n"
printf "  consumer (in the clients' process): %d/s %.2fms / %.2fms (log-streamer's p99 in that run %.2fms), %d/s %.2fms / %.2fms\n" \
  "$LOG_RATE" "$(cat "$work/tail_probe_core_p99.txt")" "$(cat "$work/tail_probe_jetstream_p99.txt")" \
  "$(cat "$work/tail_probe_streamer_p99.txt")" \
  "$LOG_LOW_RATE" "$(cat "$work/tail_lo_core_p99.txt")" "$(cat "$work/tail_lo_jetstream_p99.txt")"
printf "  log-streamer's logs_tail_dropped_total over its runs: %d\n" "$tail_drops"

echo "memory: 1,000 idle tails (fresh processes, one tail opened and closed first), VmRSS before and after:"
stop_logs; start_logs; wait_ready "$logs_port"
kill "$bb_pid" 2>/dev/null || true; wait "$bb_pid" 2>/dev/null || true
"$bin/fleet-bench" ws-broadcaster "$bb_port" "$nats_url" >"$work/bb.out" 2>"$work/bb.out.err" & bb_pid=$!
wait_line "$work/bb.out" "$bb_pid"
for side in streamer bare; do
  if [ "$side" = streamer ]; then url="ws://127.0.0.1:$logs_port/?access_token=$logs_token"; pid=$logs_pid
  else url="ws://127.0.0.1:$bb_port/"; pid=$bb_pid; fi
  "$bin/fleet-bench" ws-clients "$url" 1 0 1 >/dev/null 2>&1
  sleep 1
  before=$(vmrss "$pid")
  "$bin/fleet-bench" ws-clients "$url" 1000 0 12 >"$work/clients.out" 2>"$work/clients.out.err" & cl_pid=$!
  wait_line "$work/clients.out" "$cl_pid"
  if [ "$side" = streamer ]; then
    for _ in $(seq 1 100); do [ "$(metric "$logs_port" logs_tails)" -ge 1000 ] && break; sleep 0.1; done
    open=$(metric "$logs_port" logs_tails)
  else open=1000; fi
  sleep 2
  after=$(vmrss "$pid")
  wait "$cl_pid" || true; cl_pid=
  label=$([ "$side" = streamer ] && echo "log-streamer" || echo "bare broadcaster")
  printf "  %-16s %7.1f MiB → %7.1f MiB with %d tails open: %5.1f KiB per tail\n" "$label" "$(calc "$before/1024")" \
    "$(calc "$after/1024")" "$open" "$(calc "($after - $before) / 1000")"
done
kill "$bb_pid" 2>/dev/null || true; wait "$bb_pid" 2>/dev/null || true; bb_pid=

LOG_ROWS=${BENCH_LOG_ROWS:-5000000}
echo "query: $LOG_ROWS entries loaded with COPY (7 days, 4 tenants, 50 apps, debug/info/warn/error 70/20/8/2 %),"
echo "GET /api/v1/logs with a tenant-wide fbk_ token, wrk paced to ~1000 req/s (10 connections pausing 8 ms), 3 rounds"
echo "of /health 10 s, then each query 15 s:"
stop_logs
psql_c "TRUNCATE logs.entries"
tenants="$tenant:$project"
for _ in 1 2 3; do tenants="$tenants,$(cat /proc/sys/kernel/random/uuid):$(cat /proc/sys/kernel/random/uuid)"; done
l0=$(date +%s.%N)
for part in 0 1; do
  "$bin/fleet-bench" logs-rows "$LOG_ROWS" 7 "$tenants" "$part" 2 | psql_c "COPY logs.entries FROM STDIN" &
  eval "load_pid$part=\$!"
done
wait "$load_pid0" && wait "$load_pid1" || { echo "loading the entries failed"; exit 1; }
l1=$(date +%s.%N)
psql_c "VACUUM ANALYZE logs.entries"
l2=$(date +%s.%N)
printf "  loaded in %.0f s (2 COPY streams; %.0f rows/s), VACUUM ANALYZE %.0f s; logs.entries is %s\n" "$(calc "$l1 - $l0")" \
  "$(calc "$LOG_ROWS / ($l1 - $l0)")" "$(calc "$l2 - $l1")" "$(psql_c "SELECT pg_size_pretty(sum(pg_total_relation_size(inhrelid))) FROM pg_inherits WHERE inhparent = 'logs.entries'::regclass")"
start_logs; wait_ready "$logs_port"
q_hour="/api/v1/logs?app_name=app-07&level=error&limit=100"
q_week="/api/v1/logs?app_name=app-07&level=error&limit=100&since_minutes=10080"
items() {
  python3 - "$logs_port" "$1" "$logs_token" <<'PY'
import json, sys, urllib.request
req = urllib.request.Request(f"http://127.0.0.1:{sys.argv[1]}{sys.argv[2]}", headers={"Authorization": "Bearer " + sys.argv[3]})
print(len(json.loads(urllib.request.urlopen(req, timeout=10).read())["items"]))
PY
}
printf "  %s lists %d entries (the default window, since_minutes=60); with since_minutes=10080 (7 days) %d\n" \
  "$q_hour" "$(items "$q_hour")" "$(items "$q_week")"
: >"$work/q_health_p99.txt"; : >"$work/q_hour_p99.txt"; : >"$work/q_week_p99.txt"
for i in 1 2 3; do
  BENCH_TOKEN=$logs_token BENCH_PATH="/health" BENCH_DELAY_MS=8 \
    wrk -t1 -c10 -d10s --latency -s bench/paced_pm.lua "http://127.0.0.1:$logs_port" >"$work/q_health$i.out"
  wrk_report "$work/q_health$i.out" "round $i, GET /health            " "$work/q_health_p99.txt"
  BENCH_TOKEN=$logs_token BENCH_PATH="$q_hour" BENCH_DELAY_MS=8 \
    wrk -t1 -c10 -d15s --latency -s bench/paced_pm.lua "http://127.0.0.1:$logs_port" >"$work/q_hour$i.out"
  wrk_report "$work/q_hour$i.out" "round $i, app+error, last hour     " "$work/q_hour_p99.txt"
  BENCH_TOKEN=$logs_token BENCH_PATH="$q_week" BENCH_DELAY_MS=8 \
    wrk -t1 -c10 -d15s --latency -s bench/paced_pm.lua "http://127.0.0.1:$logs_port" >"$work/q_week$i.out"
  wrk_report "$work/q_week$i.out" "round $i, app+error, last 7 days   " "$work/q_week_p99.txt"
done
printf "  median p99: app+error last hour %.2fms, last 7 days %.2fms (target ≤ 50 ms); GET /health %.2fms\n" \
  "$(median <"$work/q_hour_p99.txt")" "$(median <"$work/q_week_p99.txt")" "$(median <"$work/q_health_p99.txt")"
rss=$(awk '/VmHWM/ {print $2}' "/proc/$logs_pid/status")
printf "log-streamer peak RSS (since its last start) %6.1f MiB\n" "$(calc "$rss/1024")"
stop_logs
fi
