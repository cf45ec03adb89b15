#!/usr/bin/env python3
"""A registry front that demands Bearer tokens, as Docker Hub and GHCR do, for the tests only.

usage: bearer_proxy.py PORT UPSTREAM_PORT USER PASSWORD TOKEN
Listens on 127.0.0.1:PORT. /token gives TOKEN to a Basic USER:PASSWORD (and to no one else);
/v2/... without "Authorization: Bearer TOKEN" is answered 401 with a Bearer challenge naming
/token; with it, the request is passed to the registry on 127.0.0.1:UPSTREAM_PORT.
"""
import base64
import http.server
import sys
import urllib.request

port, upstream, user, password, token = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, code, body=b"", headers=None):
        self.send_response(code)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        auth = self.headers.get("Authorization", "")
        if self.path.startswith("/token"):
            want = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
            if auth != want:
                return self.reply(401, b'{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}')
            return self.reply(200, ('{"token":"%s"}' % token).encode(), {"Content-Type": "application/json"})
        if auth != "Bearer " + token:
            challenge = f'Bearer realm="http://127.0.0.1:{port}/token",service="kiln-test"'
            return self.reply(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}', {"WWW-Authenticate": challenge})
        req = urllib.request.Request(f"http://127.0.0.1:{upstream}{self.path}", headers={"Accept": self.headers.get("Accept", "*/*")})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                body = r.read()
                self.reply(r.status, body, {k: v for k, v in r.headers.items() if k.lower() in ("content-type", "docker-content-digest")})
        except urllib.error.HTTPError as e:
            self.reply(e.code, e.read(), {"Content-Type": "application/json"})


http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
