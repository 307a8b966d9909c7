#!/usr/bin/env bash
# `make test`: validate the deploy files, start a private Postgres and NATS on free ports, run
# `swift test` against them, and stop them whatever happens.
set -euo pipefail
cd "$(dirname "$0")/../.."
source deploy/local/lib.sh

fleet_install_deps $FLEET_TEST_PACKAGES
deploy/validate.sh
# The reference Standard Webhooks verifier the webhook tests check signatures with, in the venv
# validate.sh keeps.
if ! .venv/bin/python -c 'import standardwebhooks' 2>/dev/null; then
  .venv/bin/python -m pip install -q --disable-pip-version-check --no-input "standardwebhooks==1.0.0"
fi
# The WebSocket client the live-tail tests drive (log-streamer).
if ! .venv/bin/python -c 'import websockets' 2>/dev/null; then
  .venv/bin/python -m pip install -q --disable-pip-version-check --no-input "websockets==17.4"
fi
# OpenTelemetry's Python SDK and OTLP/HTTP exporter, the real client the OTLP intake tests send
# logs with (Tests/LogStreamerTests/Fixtures/otel_export.py).
if ! .venv/bin/python -c 'import opentelemetry.sdk, opentelemetry.exporter.otlp.proto.http' 2>/dev/null; then
  .venv/bin/python -m pip install -q --disable-pip-version-check --no-input \
    "opentelemetry-sdk==1.45.2" "opentelemetry-exporter-otlp-proto-http==1.45.2"
fi
# The MCP Python SDK, the agent side of the `fluke mcp` tests (Tests/FlukeCLITests/Fixtures).
if ! .venv/bin/python -c 'import mcp.client.stdio' 2>/dev/null; then
  .venv/bin/python -m pip install -q --disable-pip-version-check --no-input "mcp>=1.24,<2"
fi
# PyJWT (with the cryptography package), the independent RS256 implementation GitHub App JWTs
# are checked against (Tests/FlukeRuntimeTests/CryptoTests.swift).
if ! .venv/bin/python -c 'import jwt, cryptography' 2>/dev/null; then
  .venv/bin/python -m pip install -q --disable-pip-version-check --no-input "pyjwt[crypto]==2.10.1"
fi
# selenium, which drives headless Chromium in the dashboard's browser tests (Tests/DashboardTests).
if ! .venv/bin/python -c 'import selenium' 2>/dev/null; then
  .venv/bin/python -m pip install -q --disable-pip-version-check --no-input "selenium==4.50.0"
fi
export FLUKE_TEST_PYTHON="$PWD/.venv/bin/python"

work=$(mktemp -d /tmp/fluke-test.XXXXXX)
chmod 755 "$work"
# Apps the process executor started (and their nginx) run in sessions of their own, by design:
# whatever a test left under the work directory stops with the run.
stop_workdir_processes() {
  local pid cwd cmd
  for pid in $(ls /proc | grep -E '^[0-9]+$'); do
    [ "$pid" = $$ ] && continue
    cwd=$(readlink "/proc/$pid/cwd" 2>/dev/null) || continue
    cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || continue
    # nats-server and Postgres are stopped properly below.
    case "$(basename "$(readlink "/proc/$pid/exe" 2>/dev/null)")" in nats-server|postgres) continue ;; esac
    # An nginx master (the process executor's) leads its own process group: its workers, whose
    # command line no longer names the work directory, go with it instead of outliving the run.
    case "$cwd $cmd" in *"$work/"*) kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true ;; esac
  done
}
cleanup() {
  stop_workdir_processes
  fleet_nats_stop "$work/nats"
  fleet_pg_stop "$work/pg"
  rm -rf "$work"
}
# On a signal: exit (the EXIT trap cleans up); a handler that only cleaned up let the script go on.
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# nats-server runs with the fleet's users (deploy/nats/auth.conf); the tests read the same
# passwords to connect as each service, and as admin for what tests themselves publish.
fleet_nats_passwords

# Every test starts its services with their own pools (DATABASE_POOL_SIZE, 10 by default), and
# the suites start together: the whole run peaked at 298 connections, past 300 less the three
# slots kept for superusers, so services and tests were refused ("remaining connection slots are
# reserved"). The cluster is the tests' own; slots are cheap.
export FLEET_PG_MAX_CONNECTIONS=1000
pg_port=$(fleet_free_port)
nats_port=$(fleet_free_port)
fleet_pg_start "$work/pg" "$pg_port"
fleet_nats_start "$work/nats" "$nats_port"

export FLUKE_TEST_ADMIN_DATABASE_URL="postgres://postgres@127.0.0.1:$pg_port/fluke"
export FLUKE_TEST_NATS_URL="nats://127.0.0.1:$nats_port"
export FLUKE_TEST_PG_BIN="$(fleet_pg_bin)"
export FLUKE_TEST_WORKDIR="$work"

# Executables are built too: tests run them as real processes (exit codes, SIGTERM, replicas).
swift build --build-tests
export FLUKE_BIN_DIR="$(swift build --show-bin-path)"
# Two passes. First everything else, in parallel. Then, one test at a time, the suites that
# start apps, nginx, wrk and tracker processes (DeployTrackerTests, DeployExecutorTests) and those
# that measure time (idle timeouts, heartbeat TTLs across a nats-server restart, a documentation
# server's total timeout, a status following events within 2 s, 200 logins at once, SIGTERM within
# 10 s, `make run` itself, the context fast path's hit counts, log paging while entries arrive, the
# dashboard's first load and frame rate in Chromium),
# and log-streamer's bulk ones (tens of MB through NATS and WebSocket
# clients, kills and restarts): on a loaded 2-core machine they failed beside the rest, or made
# others fail, never alone.
# With arguments (`--filter X`), one run as asked.
if [ $# -gt 0 ]; then
  swift test --skip-build "$@"
else
  alone='DeployTrackerTests|DeployExecutorTests|HTTPConventionTests|FederationTests.ResilienceTests|FederationTests.HeartbeatStatusTests|ProviderRegistryTests|LogStreamerTests.ResilienceTests|LogStreamerTests.ResumeTests|FlukeCLITests.DeployCLITests|ProjectManagerTests.StatusOverviewTests|ProjectManagerTests.LoginLockoutTests|FederationTests.ProcessTests|FlukeRuntimeTests.MakeRunTests|ContextAPITests.ContextFastPathTests|LogStreamerTests.QueryTests|DashboardTests'
  status=0
  swift test --skip-build --skip "$alone" || status=$?
  swift test --skip-build --no-parallel --filter "$alone" || status=$?
  exit $status
fi
