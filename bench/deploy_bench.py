#!/usr/bin/env python3
"""deploy-tracker's figures for `make bench` (bench/run.sh starts the services and reads the output).

  deploy_bench.py token PM_URL EMAIL PASSWORD PROJECT
      logs in and prints an fbk_ token bound to PROJECT with deploy:write.
  deploy_bench.py overhead DT_URL TOKEN REPO ROUNDS
      ROUNDS deployments of one app (one replica of the fixture app, git source), each beside the
      same app work done directly (build command, start, first healthy answer): one line per
      round "tracker_ms direct_ms", then "deployment <id>" (a finished deployment for the GET bench).
  deploy_bench.py steps DT_URL TOKEN DEPLOYMENT
      the deployment's log, each step with its milliseconds since the deployment was queued.
  deploy_bench.py fleet DT_URL TOKEN REPO APPS
      APPS apps created, then all deployed at once; prints "ok failed wall_s".
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

TERMINAL = {"success", "failed", "rolled_back", "cancelled"}
BUILD = "printf '%s' \"$RELEASE\" > version.txt"
START = ["/usr/bin/python3", "app.py"]


def call(base, method, path, token, body=None):
    headers = {"Authorization": "Bearer " + token}
    data = None
    if body is not None:
        headers["Content-Type"] = "application/json"
        data = json.dumps(body).encode()
    request = urllib.request.Request(base + path, method=method, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def spec(release):
    # A start period with frequent polls (the tracker's own rule), so the first healthy answer is
    # seen as soon as the app gives it; one replica, rolling.
    return {"replicas": 1, "health_check": {"path": "/health", "interval": 1, "timeout": 2, "retries": 3, "start_period": 10},
            "strategy": {"type": "rolling"}, "deploy_timeout": 120, "build_command": BUILD,
            "start_command": "exec /usr/bin/python3 app.py", "env": {"RELEASE": release}}


def create_app(base, token, name):
    status, body = call(base, "POST", "/api/v1/apps", token, {"name": name, "executor": "process", "spec": spec("r0")})
    if status != 201:
        sys.exit(f"creating {name}: {status} {body}")


def deploy(base, token, name, repo, release, poll=0.005):
    """Deploys `name` at `release`; returns (wall ms as the client saw it, the finished record)."""
    status, body = call(base, "PATCH", f"/api/v1/apps/{name}", token, {"spec": spec(release)})
    if status != 200:
        sys.exit(f"patching {name}: {status} {body}")
    started = time.monotonic()
    status, body = call(base, "POST", "/api/v1/deploy", token, {"app_name": name, "source": {"git": "file://" + repo}})
    if status != 202:
        sys.exit(f"deploying {name}: {status} {body}")
    deployment = body["deployment_id"]
    while True:
        status, record = call(base, "GET", f"/api/v1/deployments/{deployment}", token)
        if status != 200:
            sys.exit(f"reading deployment {deployment}: {status} {record}")
        if record.get("status") in TERMINAL:
            return (time.monotonic() - started) * 1000, record
        time.sleep(poll)


def parse_time(text):
    from datetime import datetime
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def direct(repo, release):
    """The app's own work, done by hand: its build command in a copy of the source, its start,
    and polls of /health every 2 ms until the first 200. Returns milliseconds."""
    work = tempfile.mkdtemp(prefix="fluke-bench-direct-")
    try:
        shutil.copy(os.path.join(repo, "app.py"), work)
        started = time.monotonic()
        subprocess.run(["/bin/sh", "-c", BUILD], cwd=work, check=True, env={**os.environ, "RELEASE": release})
        port = free_port()
        app = subprocess.Popen(START, cwd=work, env={**os.environ, "PORT": str(port)},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
                        if response.status == 200:
                            break
                except (urllib.error.URLError, ConnectionError):
                    time.sleep(0.002)
            return (time.monotonic() - started) * 1000
        finally:
            app.terminate()
            app.wait()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    mode = sys.argv[1]
    if mode == "token":
        pm, email, password, project = sys.argv[2:6]
        req = urllib.request.Request(pm + "/auth/login", data=json.dumps({"email": email, "password": password}).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req) as response:
            jwt = json.loads(response.read())["access_token"]
        status, body = call(pm, "POST", "/api/v1/tokens", jwt,
                            {"name": "bench-deploy", "scopes": ["deploy:write", "context:read"], "project_id": project})
        if status != 201:
            sys.exit(f"minting a token: {status} {body}")
        print(body["token"])
    elif mode == "overhead":
        base, token, repo, rounds = sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
        create_app(base, token, "bench-overhead")
        deploy(base, token, "bench-overhead", repo, "warm-up")   # v1: the app and its nginx exist
        last = None
        for i in range(rounds):
            wall, record = deploy(base, token, "bench-overhead", repo, f"round-{i}")
            if record["status"] != "success":
                sys.exit(f"round {i}: {record}")
            print(f"{wall:.1f} {direct(repo, f'direct-{i}'):.1f}", flush=True)
            last = record["id"]
        print("deployment", last)
    elif mode == "steps":
        base, token, deployment = sys.argv[2], sys.argv[3], sys.argv[4]
        _, record = call(base, "GET", f"/api/v1/deployments/{deployment}", token)
        _, logs = call(base, "GET", f"/api/v1/deployments/{deployment}/logs", token)
        queued = parse_time(record["created_at"])
        print(f"  {0:7.1f} ms  queued")
        for entry in logs["entries"]:
            print(f"  {(parse_time(entry['timestamp']) - queued) * 1000:7.1f} ms  {entry['message'][:100]}")
    elif mode == "fleet":
        base, token, repo, count = sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
        names = [f"bench-fleet-{i:02d}" for i in range(count)]
        for name in names:
            create_app(base, token, name)
        results = {}
        def one(name):
            try:
                results[name] = deploy(base, token, name, repo, "fleet", poll=0.5)[1].get("status")
            except BaseException as error:  # a thread's failure is a failed deploy, not a lost figure
                results[name] = f"error: {error}"
        threads = [threading.Thread(target=one, args=(name,)) for name in names]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.monotonic() - started
        failed = [f"{name}: {status}" for name, status in sorted(results.items()) if status != "success"]
        for line in failed:
            print(line, file=sys.stderr)
        print(count - len(failed), len(failed), f"{wall:.1f}")
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
