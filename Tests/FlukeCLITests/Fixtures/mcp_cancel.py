"""Cancels a tool call in flight on `fluke mcp` (stdio), with MCP's own JSON-RPC messages.

Usage: mcp_cancel.py FLUKE_BINARY DEPLOYMENT_ID. Calls deploy_logs with follow (past the end of
the log, so it waits) three times: id 2 waits 8 s and is cancelled after 0.5 s with
notifications/cancelled; id 3 is a ping; id 4 waits 2 s and is not cancelled. Reads answers for
10 s and prints {"answered": {id: seconds after sending}} as JSON.
"""
import base64
import json
import os
import queue
import subprocess
import sys
import threading
import time

binary, deployment = sys.argv[1:3]
process = subprocess.Popen([binary, "mcp"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, env=dict(os.environ), text=True, bufsize=1)
lines = queue.Queue()
threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()


def send(message):
    process.stdin.write(json.dumps(message) + "\n")
    process.stdin.flush()


def answer(expected_id, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            message = json.loads(lines.get(timeout=max(0.01, deadline - time.monotonic())))
        except queue.Empty:
            break
        if message.get("id") == expected_id:
            return message
    sys.exit(f"no answer to {expected_id}")


send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "cancel-test", "version": "1"}}})
answer(1, 30)
send({"jsonrpc": "2.0", "method": "notifications/initialized"})
past_end = base64.b64encode(b"dl:500000").decode()


def follow(request_id, wait):
    return {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": {"name": "deploy_logs", "arguments": {
        "deployment_id": deployment, "cursor": past_end, "follow": True, "wait_seconds": wait}}}


start = time.monotonic()
send(follow(2, 8))
time.sleep(0.5)
send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 2, "reason": "the agent moved on"}})
send({"jsonrpc": "2.0", "id": 3, "method": "ping"})
send(follow(4, 2))
answered = {}
deadline = start + 10
while time.monotonic() < deadline:
    try:
        message = json.loads(lines.get(timeout=max(0.01, deadline - time.monotonic())))
    except queue.Empty:
        break
    if "id" in message:
        answered[str(message["id"])] = round(time.monotonic() - start, 2)
process.stdin.close()
process.terminate()
print(json.dumps({"answered": answered}))
