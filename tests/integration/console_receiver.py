#!/usr/bin/env python3
"""Listens on a unix socket like conmon does, receives the pty master fd (SCM_RIGHTS) and
copies what the container writes to its terminal to stdout until EOF or a timeout."""
import os, select, socket, sys

path, timeout = sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 10
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
srv.listen(1)
open(path + ".ready", "w").close()
conn, _ = srv.accept()
msg, fds, _, _ = socket.recv_fds(conn, 4096, 1)
if not fds:
    print("NO-FD"); sys.exit(1)
master = fds[0]
out = b""
while True:
    r, _, _ = select.select([master], [], [], timeout)
    if not r:
        break
    try:
        chunk = os.read(master, 4096)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
sys.stdout.write(out.decode(errors="replace"))
