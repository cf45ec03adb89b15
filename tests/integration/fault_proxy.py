#!/usr/bin/env python3
"""A registry front that misbehaves on purpose, for the tests only.

usage: fault_proxy.py PORT UPSTREAM_PORT MODE [N]
Listens on 127.0.0.1:PORT and passes every request (any method, with its body) to the registry
on 127.0.0.1:UPSTREAM_PORT, except requests under /blobs/ (downloads and uploads), which MODE
decides:
  flaky N   every other one (the 1st, 3rd, ...) is answered 503 or 429 (Retry-After: 0, in turn)
            until N have been, so each request fails once and its retry goes through
  down      every one is answered 503
  truncate  a blob GET sends its full Content-Length but only half of the bytes, then closes
  overlap   every blob GET after the first waits (5 s at most) until another is in flight too,
            and prints "inflight N" with the number of blob GETs in flight when it goes on
  hold FILE a blob GET of more than 100 KiB sends its first half, prints "held GET PATH SIZE",
            waits (30 s at most) until FILE exists, then sends the rest
  hold-tamper FILE  the same, but the rest comes with its first byte changed
  hold-cut FILE     the same, but the rest never comes: the connection closes
Each fault answered is counted on a line of stdout ("fault 503 PATCH /v2/...").
"""
import http.server
import os
import sys
import time
import threading
import urllib.error
import urllib.request

port, upstream, mode = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
hold = mode.startswith("hold")
release = sys.argv[4] if hold else None
budget = [int(sys.argv[4]) if len(sys.argv) > 4 and not hold else 0]
seen = [0]
inflight = [0]
gets = [0]
cond = threading.Condition()
lock = threading.Lock()
PASSED = ("content-type", "docker-content-digest", "location", "range", "docker-upload-uuid", "www-authenticate")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args):
        return None


opener = urllib.request.build_opener(NoRedirect)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, code, body=b"", headers=None):
        self.send_response(code)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def fault(self):
        if "/blobs/" not in self.path:
            return None
        if mode == "down":
            return 503
        if mode == "flaky":
            with lock:
                seen[0] += 1
                if budget[0] <= 0 or seen[0] % 2 == 0:
                    return None
                budget[0] -= 1
                return 503 if budget[0] % 2 else 429
        return None

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        code = self.fault()
        if code:
            print(f"fault {code} {self.command} {self.path}", flush=True)
            return self.reply(code, b'{"errors":[{"code":"UNAVAILABLE","message":"injected"}]}',
                              {"Content-Type": "application/json", "Retry-After": "0"})
        overlapping = mode == "overlap" and self.command == "GET" and "/blobs/" in self.path
        if overlapping:
            with cond:
                gets[0] += 1
                inflight[0] += 1
                cond.notify_all()
                if gets[0] > 1:
                    cond.wait_for(lambda: inflight[0] >= 2, timeout=5)
                print(f"inflight {inflight[0]}", flush=True)
        try:
            self.forward(body)
        finally:
            if overlapping:
                with cond:
                    inflight[0] -= 1

    def forward(self, body):
        # The registry builds upload Locations from Host: keep ours so they point back here.
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("content-length", "connection")}
        req = urllib.request.Request(f"http://127.0.0.1:{upstream}{self.path}", data=body, headers=headers,
                                     method=self.command)
        try:
            with opener.open(req, timeout=30) as r:
                status, data, rh = r.status, r.read(), r.headers
        except urllib.error.HTTPError as e:
            status, data, rh = e.code, e.read(), e.headers
        out = {k: v for k, v in rh.items() if k.lower() in PASSED}
        if mode == "truncate" and self.command == "GET" and "/blobs/" in self.path and status == 200 and len(data) > 1:
            print(f"fault truncate GET {self.path}", flush=True)
            self.send_response(200)
            for k, v in out.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if hold and self.command == "GET" and "/blobs/" in self.path and status == 200 and len(data) > 100 << 10:
            return self.send_held(data, out)
        if self.command == "HEAD":
            out["Content-Length"] = rh.get("Content-Length", "0")
            self.send_response(status)
            for k, v in out.items():
                self.send_header(k, v)
            self.end_headers()
            return
        self.reply(status, data, out)

    def send_held(self, data, headers):
        self.send_response(200)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        half = len(data) // 2
        self.wfile.write(data[:half])
        self.wfile.flush()
        print(f"held GET {self.path} {len(data)}", flush=True)
        for _ in range(300):
            if os.path.exists(release):
                break
            time.sleep(0.1)
        rest = data[half:]
        if mode == "hold-cut":
            print(f"fault cut GET {self.path}", flush=True)
            self.close_connection = True
            return
        if mode == "hold-tamper":
            print(f"fault tamper GET {self.path}", flush=True)
            rest = bytes([rest[0] ^ 0xFF]) + rest[1:]
        self.wfile.write(rest)
        self.wfile.flush()

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any


http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
