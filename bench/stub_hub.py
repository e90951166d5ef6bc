#!/usr/bin/env python3
# stub_hub.py — a stand-in for `minisiem` that only tests the bench tooling (run.sh, loadgen):
# same CLI lines and HTTP answers, no store. Its numbers mean nothing. STUB_503=0.05 adds 503s.
import json
import os
import random
import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

P503 = float(os.environ.get("STUB_503", "0"))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, obj, extra=()):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        data = self.rfile.read(n)
        if self.path.endswith("/auth/login"):
            return self.reply(200, {"access_token": "stub.token.x", "token_type": "bearer",
                                    "expires_in": 3600})
        if not self.path.endswith("/ingest"):
            return self.reply(404, {"error": "not found"})
        if self.headers.get("X-API-Key") != "benchkey-0123456789abcdef":
            return self.reply(401, {"error": "unauthenticated"})
        if P503 and random.random() < P503:
            return self.reply(503, {"error": "overloaded"}, [("Retry-After", "1")])
        if "ndjson" in self.headers.get("Content-Type", ""):
            events = [json.loads(x) for x in data.splitlines() if x.strip()]
        else:
            doc = json.loads(data)
            events = doc if isinstance(doc, list) else [doc]
        self.reply(200, {"accepted": len(events), "duplicates": 0, "rejected": []})

    def setup(self):
        super().setup()
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self):
        if self.path.endswith("/health"):
            return self.reply(200, {"status": "ok"})
        if not self.headers.get("Authorization", "").startswith("Bearer "):
            return self.reply(401, {"error": "unauthenticated"})
        self.reply(200, {"events": [{"event_id": "00000000-0000-4000-8000-000000000000"}] * 3,
                         "next_cursor": None})


def main():
    args = sys.argv[1:]
    if args[:1] == ["hash-password"]:
        sys.stdin.readline()
        print("$argon2id$v=19$m=65536,t=3,p=1$stub$stub")
        return
    if args[:1] != ["serve"]:
        sys.exit(2)
    host, port = "127.0.0.1", 0
    if "--listen" in args:
        host, port = args[args.index("--listen") + 1].rsplit(":", 1)
    srv = ThreadingHTTPServer((host, int(port)), Handler)
    if not os.environ.get("SIEM_ADMIN_PASSWORD_HASH"):
        print("minisiem: first run: admin password: stubpassword", flush=True)
    print(f"minisiem: listening on http://{host}:{srv.server_address[1]}/", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
