#!/usr/bin/env python3
"""A registry front that demands Bearer tokens, as Docker Hub and GHCR do, for the tests only.

usage: bearer_proxy.py PORT UPSTREAM_PORT USER PASSWORD TOKEN
Listens on 127.0.0.1:PORT. /token gives TOKEN to a Basic USER:PASSWORD (and to no one else);
/v2/... without "Authorization: Bearer TOKEN" is answered 401 with a Bearer challenge naming
/token; with it, the request (any method, with its body) is passed to the registry on
127.0.0.1:UPSTREAM_PORT. Every token handed out is logged on stdout with the scope asked for.
"""
import base64
import http.server
import sys
import urllib.error
import urllib.parse
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
            scope = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query).get("scope", [""])[0]
            print(f"token for {scope}", flush=True)
            return self.reply(200, ('{"token":"%s"}' % token).encode(), {"Content-Type": "application/json"})
        if auth != "Bearer " + token:
            challenge = f'Bearer realm="http://127.0.0.1:{port}/token",service="kiln-test"'
            return self.reply(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}', {"WWW-Authenticate": challenge})
        length = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(length) if length else None
        # Host is kept so that the registry's upload Locations point back here.
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("authorization", "content-length", "connection")}
        req = urllib.request.Request(f"http://127.0.0.1:{upstream}{self.path}", data=data, headers=headers, method=self.command)
        passed = ("content-type", "docker-content-digest", "location", "range", "docker-upload-uuid")
        try:
            with opener.open(req, timeout=10) as r:
                body, status, rh = r.read(), r.status, r.headers
        except urllib.error.HTTPError as e:
            body, status, rh = e.read(), e.code, e.headers
        out = {k: v for k, v in rh.items() if k.lower() in passed}
        if self.command == "HEAD":
            self.send_response(status)
            for k, v in out.items():
                self.send_header(k, v)
            self.send_header("Content-Length", rh.get("Content-Length", "0"))
            self.end_headers()
            return
        self.reply(status, body, out)

    do_HEAD = do_POST = do_PUT = do_PATCH = do_GET


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args):
        return None


opener = urllib.request.build_opener(NoRedirect)
http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
