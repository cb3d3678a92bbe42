#!/usr/bin/env python3
"""The shop's app, as the local sandbox runs it for each instance launched from its image.

It answers GET /health with 200 once the database its instance's user data names
(`DATABASE_URL=postgres://USER@HOST:PORT/NAME`) answers PostgreSQL's startup handshake, and
503 with the reason until then. The sandbox gives it FIREDRILL_PRIVATE_IP (the instance's
own loopback address), FIREDRILL_PORT and FIREDRILL_USER_DATA (a file with the user data).
Only Python's standard library: the sandbox runs it with the system's python3.
"""

import json
import os
import re
import socket
import struct
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def database():
    """(user, host, port, name) from the user data, or None."""
    try:
        with open(os.environ["FIREDRILL_USER_DATA"], encoding="utf-8") as f:
            text = f.read()
    except (KeyError, OSError):
        return None
    m = re.search(r"postgres://(?:([^@/\s:]+)@)?([^:/\s]+):(\d+)/(\w+)", text)
    if not m:
        return None
    return (m.group(1) or "postgres", m.group(2), int(m.group(3)), m.group(4))


def database_answers(user, host, port, name):
    """Whether the server asks us to authenticate (it answers), and what it said."""
    params = b"user\0" + user.encode() + b"\0database\0" + name.encode() + b"\0\0"
    startup = struct.pack("!II", 8 + len(params), 196608) + params
    try:
        with socket.create_connection((host, port), timeout=2) as s:
            s.sendall(startup)
            reply = s.recv(4096)
    except OSError as e:
        return False, f"database at {host}:{port} does not answer: {e}"
    if reply[:1] == b"R":
        return True, f"database at {host}:{port} answers"
    fields = reply[5:].split(b"\0")
    said = next((f[1:].decode(errors="replace") for f in fields if f[:1] == b"M"), "no reason")
    return False, f"database at {host}:{port} refused: {said}"


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path != "/health":
            self.reply(200, {"app": "shop"})
            return
        found = database()
        if found is None:
            self.reply(503, {"status": "no DATABASE_URL in the user data"})
            return
        ok, why = database_answers(*found)
        self.reply(200 if ok else 503, {"status": "ok" if ok else "unhealthy", "database": why})

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


if __name__ == "__main__":
    address = (os.environ.get("FIREDRILL_PRIVATE_IP", "127.0.0.1"), int(os.environ.get("FIREDRILL_PORT", "8080")))
    ThreadingHTTPServer(address, Handler).serve_forever()
