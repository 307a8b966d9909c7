#!/usr/bin/env python3
"""The process executor tests' app: serves its version on `/` and `/health` on 127.0.0.1:$PORT.

The version comes from `version.txt` in the working directory (written by the release's build
command), else `APP_VERSION`. `APP_MODE` (from the release environment) makes it misbehave:
`exit` leaves at start, `unhealthy` answers 503 on /health, `error` answers 500 on `/` while
/health stays fine (a canary that only nginx's access log can catch).
"""
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODE = os.environ.get("APP_MODE", "")
try:
    with open("version.txt") as f:
        VERSION = f.read().strip()
except OSError:
    VERSION = os.environ.get("APP_VERSION", "unknown")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body in one segment: otherwise Nagle and delayed ACKs add 40 ms per request.
    disable_nagle_algorithm = True
    wbufsize = -1

    def do_GET(self):
        if self.path.startswith("/health"):
            status = 503 if MODE == "unhealthy" else 200
        else:
            status = 500 if MODE == "error" else 200
        body = (VERSION + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass  # one line per request would flood the replica's log under wrk


if MODE == "exit":
    print("exiting at start, as told", flush=True)
    sys.exit(3)

server = ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler)
server.daemon_threads = True
print(f"{VERSION} listening on {os.environ['PORT']}", flush=True)
server.serve_forever()
