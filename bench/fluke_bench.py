"""`make bench`'s fluke section: `fluke --help` start-up, and get_project_context through
`fluke mcp --http` beside GET /api/v1/flukebase_connect/context on context-api itself.

Usage:
  fluke_bench.py help FLUKE_BINARY ROUNDS          -> "fluke_ms baseline_ms" (medians, wall clock)
  fluke_bench.py mcp MCP_PORT CONTEXT_PORT TOKEN N -> "mcp_p50 direct_p50 mcp_p99 direct_p99 ping_p50" (ms)
Both sides of the MCP comparison use one keep-alive HTTP/1.1 connection from this process and
take turns call by call, so the machine's noise falls on both alike.
"""
import http.client
import json
import statistics
import subprocess
import sys
import time


def help_startup(binary, rounds):
    def wall(argv):
        times = []
        for _ in range(rounds):
            start = time.perf_counter()
            subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
            times.append((time.perf_counter() - start) * 1000)
        return statistics.median(times)
    # Baseline: the cheapest process start there is, through the same subprocess call.
    print(f"{wall([binary, '--help']):.2f} {wall(['/bin/true']):.2f}")


def post(conn, session, token, body):
    headers = {"Authorization": "Bearer " + token, "Content-Type": "application/json",
               "Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-11-25"}
    if session:
        headers["MCP-Session-Id"] = session
    conn.request("POST", "/mcp", body=json.dumps(body), headers=headers)
    response = conn.getresponse()
    data = response.read().decode()
    # An SSE stream carrying the one answer, or plain JSON.
    payload = next((line[5:].strip() for line in data.splitlines() if line.startswith("data:") and line[5:].strip()), data)
    return response, (json.loads(payload) if payload.strip() else None)


def mcp(mcp_port, ctx_port, token, n):
    mcp_conn = http.client.HTTPConnection("127.0.0.1", mcp_port)
    ctx_conn = http.client.HTTPConnection("127.0.0.1", ctx_port)
    response, _ = post(mcp_conn, None, token, {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}})
    session = response.getheader("MCP-Session-Id")
    post(mcp_conn, session, token, {"jsonrpc": "2.0", "method": "notifications/initialized"})
    mcp_ms, direct_ms = [], []
    for i in range(n):
        start = time.perf_counter()
        _, answer = post(mcp_conn, session, token, {"jsonrpc": "2.0", "id": i + 1, "method": "tools/call",
                                                    "params": {"name": "get_project_context", "arguments": {}}})
        mcp_ms.append((time.perf_counter() - start) * 1000)
        if i == 0 and (answer or {}).get("result", {}).get("isError", True):
            sys.exit(f"get_project_context failed: {answer}")
        start = time.perf_counter()
        ctx_conn.request("GET", "/api/v1/flukebase_connect/context", headers={"Authorization": "Bearer " + token})
        r = ctx_conn.getresponse()
        r.read()
        direct_ms.append((time.perf_counter() - start) * 1000)
        if r.status != 200:
            sys.exit(f"context-api answered {r.status}")
    # Where the added time goes: MCP's own `ping` (transport and session only, no fleet call).
    ping_ms = []
    for i in range(n):
        start = time.perf_counter()
        post(mcp_conn, session, token, {"jsonrpc": "2.0", "id": n + i + 1, "method": "ping"})
        ping_ms.append((time.perf_counter() - start) * 1000)
    q = lambda xs, p: sorted(xs)[min(len(xs) - 1, int(len(xs) * p))]
    print(f"{statistics.median(mcp_ms):.3f} {statistics.median(direct_ms):.3f} {q(mcp_ms, 0.99):.3f} {q(direct_ms, 0.99):.3f} "
          f"{statistics.median(ping_ms):.3f}")


if sys.argv[1] == "help":
    help_startup(sys.argv[2], int(sys.argv[3]))
else:
    mcp(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5]))
