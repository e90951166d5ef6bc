"""Alerting end to end: events ingested over HTTP raise an alert that shows in GET /alerts
and on the SSE stream (with Last-Event-ID resume), is mailed to an SMTP sink (STARTTLS and
login) and posted to a webhook receiver with a valid signature and to a Slack-style one;
analysts acknowledge and close; rules are managed over the API with audit entries; a rule
with a YAML error is refused with its line; a dead channel never slows ingest. Every server
here is a thread of this test on 127.0.0.1."""

import base64
import hashlib
import hmac
import http.client
import http.server
import json
import os
import shutil
import socketserver
import ssl
import subprocess
import threading
import time
import unittest

from helpers import SSE, free_port, metrics
from hub import HubCase, event_uuid, wait_for

RULE_ID = "0e2e0000-0000-4000-8000-000000000001"
RULE_YAML = """title: E2E sudo escalation
id: %s
status: test
description: end-to-end test rule
author: E2E Author (ACME)
level: high
logsource:
    product: minisiem
detection:
    selection:
        event_type: E2E_SUDO
    condition: selection
""" % RULE_ID

API_RULE_ID = "0e2e0000-0000-4000-8000-0000000000a1"
API_RULE_YAML = """title: E2E account created
id: %s
author: E2E API
level: medium
logsource:
    product: minisiem
detection:
    selection:
        event_type: E2E_ACCOUNT
    condition: selection
""" % API_RULE_ID

SMTP_USER, SMTP_PASS = "alerts", "sink-password"
WEBHOOK_SECRET = "e2e-webhook-secret"


# ---- an SMTP sink: EHLO, STARTTLS, AUTH PLAIN, MAIL, RCPT, DATA ----

class SMTPSink(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, tls_ctx=None):
        super().__init__(("127.0.0.1", 0), SMTPHandler)
        self.tls_ctx = tls_ctx
        self.lock = threading.Lock()
        self.messages = []  # dicts: mail_from, rcpt, data, auth, tls

    @property
    def port(self):
        return self.server_address[1]


class SMTPHandler(socketserver.BaseRequestHandler):
    def handle(self):
        self.sock = self.request
        self.sock.settimeout(10)
        self.buf = b""
        self.tls = False
        msg = {"rcpt": [], "auth": None}
        self.send("220 e2e-sink ESMTP")
        while True:
            line = self.line()
            if line is None:
                return
            cmd = line.upper()
            if cmd.startswith("EHLO") or cmd.startswith("HELO"):
                ext = ["250-e2e-sink"]
                if self.server.tls_ctx and not self.tls:
                    ext.append("250-STARTTLS")
                ext.append("250-AUTH PLAIN")
                ext.append("250 8BITMIME")
                self.send("\r\n".join(ext))
            elif cmd == "STARTTLS" and self.server.tls_ctx:
                self.send("220 go ahead")
                self.sock = self.server.tls_ctx.wrap_socket(self.sock, server_side=True)
                self.tls = True
                self.buf = b""
            elif cmd.startswith("AUTH PLAIN"):
                arg = line[10:].strip()
                if not arg:
                    self.send("334 ")
                    arg = (self.line() or "").strip()
                msg["auth"] = base64.b64decode(arg).decode()
                self.send("235 ok")
            elif cmd.startswith("MAIL FROM:"):
                msg["mail_from"] = line[10:].strip()
                self.send("250 ok")
            elif cmd.startswith("RCPT TO:"):
                msg["rcpt"].append(line[8:].strip())
                self.send("250 ok")
            elif cmd == "DATA":
                self.send("354 end with .")
                data = []
                while True:
                    d = self.line()
                    if d is None or d == ".":
                        break
                    data.append(d[1:] if d.startswith(".") else d)  # RFC 5321 4.5.2
                msg["data"] = "\r\n".join(data)
                msg["tls"] = self.tls
                with self.server.lock:
                    self.server.messages.append(msg)
                msg = {"rcpt": [], "auth": None}
                self.send("250 queued")
            elif cmd == "QUIT":
                self.send("221 bye")
                return
            else:
                self.send("250 ok")

    def send(self, text):
        self.sock.sendall(text.encode() + b"\r\n")

    def line(self):
        while b"\r\n" not in self.buf:
            try:
                chunk = self.sock.recv(4096)
            except OSError:
                return None
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")


# ---- an HTTP receiver for webhooks ----

class Receiver(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), ReceiverHandler)
        self.lock = threading.Lock()
        self.posts = []  # (path, headers dict, body bytes)

    @property
    def port(self):
        return self.server_address[1]


class ReceiverHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n)
        with self.server.lock:
            self.server.posts.append((self.path, dict(self.headers), body))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def serve(server):
    t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True)
    t.start()
    return server


def make_cert(tmpdir):
    """A self-signed certificate for 127.0.0.1, or None when this machine has no openssl
    command (the mail then goes without STARTTLS, and the test checks that instead)."""
    if not shutil.which("openssl"):
        return None
    key, cert = os.path.join(tmpdir, "sink.key"), os.path.join(tmpdir, "sink.pem")
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "2", "-subj", "/CN=127.0.0.1", "-addext",
                        "subjectAltName=IP:127.0.0.1"], capture_output=True, timeout=30)
    assert r.returncode == 0, "openssl req failed: %r" % r.stderr
    return cert, key


def analyst_token(hub, name="ana"):
    """A token of an analyst the hub's store knows (added with the CLI)."""
    hub.add_user(name, "analyst")
    return hub.make_token(name, "analyst")


class Alerts(HubCase):
    @classmethod
    def setUpClass(cls):
        import tempfile
        cls.tmp = tempfile.mkdtemp(prefix="minisiem-e2e-alerts-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        rules = os.path.join(cls.tmp, "rules")
        os.mkdir(rules)
        with open(os.path.join(rules, "e2e.yml"), "w") as f:
            f.write(RULE_YAML)
        cls.cert = make_cert(cls.tmp)
        tls_ctx = None
        if cls.cert:
            tls_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            tls_ctx.load_cert_chain(*cls.cert)
        cls.smtp = SMTPSink(tls_ctx)
        serve(cls.smtp)
        cls.addClassCleanup(cls.smtp.server_close)
        cls.addClassCleanup(cls.smtp.shutdown)
        cls.web = Receiver()
        serve(cls.web)
        cls.addClassCleanup(cls.web.server_close)
        cls.addClassCleanup(cls.web.shutdown)
        tls = ("starttls = required\nca_file = %s\n" % cls.cert[0]) if cls.cert else \
            "starttls = off\n"
        conf = os.path.join(cls.tmp, "channels.conf")
        with open(conf, "w") as f:
            f.write("[mail]\ntype = email\nurl = smtp://127.0.0.1:%d\n%s"
                    "user = %s\npassword = ${E2E_SMTP_PASSWORD}\nfrom = minisiem <alerts@example.com>\n"
                    "to = soc@example.com, oncall@example.org\nmin_level = high\n"
                    "retries = 2\nbackoff = 100ms\ntimeout = 10s\n\n"
                    "[hook]\ntype = webhook\nurl = http://127.0.0.1:%d/hook\nsecret = %s\n"
                    "min_level = medium\nretries = 2\nbackoff = 100ms\n\n"
                    "[slack]\ntype = slack\nurl = http://127.0.0.1:%d/slack/T0/B0/X\n"
                    "min_level = high\n"
                    % (cls.smtp.port, tls, SMTP_USER, cls.web.port, WEBHOOK_SECRET,
                       cls.web.port))
        cls.hub = cls.class_hub(
            env={"E2E_SMTP_PASSWORD": SMTP_PASS},
            args=["--rules-dir", rules, "--alert-cooldown", "10m", "--notify-config", conf])

    # ---- helpers ----

    def ingest_types(self, tag, *types, **fields):
        evs = [dict({"event_id": event_uuid("alerts", tag, i), "event_type": t,
                     "source_host": "web1", "user": "bob", "source_ip": "203.0.113.7",
                     "message": "e2e %s %d" % (tag, i)}, **fields)
               for i, t in enumerate(types)]
        self.hub.ingest_ok(evs)
        return [e["event_id"] for e in evs]

    def alerts(self, **params):
        status, _, body = self.hub.get("/alerts", params)
        self.assertEqual(status, 200, body)
        return body["alerts"]

    def wait_alert(self, pred, what, deadline=10.0):
        def find():
            for a in self.alerts(limit=1000):
                if pred(a):
                    return a
            return None
        return wait_for(find, deadline, what)

    def post(self, path, body=None, token=None, content_type=None):
        headers = {"Authorization": "Bearer " + (token or self.hub.login_token())}
        if isinstance(body, str):
            body = body.encode()
            headers["Content-Type"] = content_type or "application/yaml"
        return self.hub.request("POST", path, body, headers)

    def audit_actions(self):
        status, _, body = self.hub.get("/audit", {"limit": 500})
        self.assertEqual(status, 200, body)
        return [(a["action"], a["object"], a["actor"]) for a in body["audit"]]

    # ---- tests ----

    def test_alert_list_stream_email_and_webhooks(self):
        sse = SSE(self.hub, self.hub.login_token())
        self.addCleanup(sse.close)
        self.assertEqual(sse.status, 200)
        self.assertTrue(sse.content_type.startswith("text/event-stream"), sse.content_type)
        ids = self.ingest_types("first", "E2E_SUDO", "E2E_OTHER")
        a = self.wait_alert(lambda a: a["rule_id"] == RULE_ID, "the alert in GET /alerts")
        self.assertEqual(a["rule_title"], "E2E sudo escalation")
        self.assertEqual(a["rule_author"], "E2E Author (ACME)")  # kept, as the DRL asks
        self.assertEqual(a["rule_level"], "high")
        self.assertEqual(a["severity"], 4)
        self.assertEqual(a["status"], "open")
        self.assertIn(ids[0], a["event_ids"])
        self.assertNotIn(ids[1], a["event_ids"])
        sid, data = sse.next_alert(lambda d: d["id"] == a["id"])
        self.assertEqual(sid, "%d-%d" % (a["id"], data["version"]))
        self.assertEqual(data["rule_id"], RULE_ID)

        # GET /alerts/{id} carries the events behind it
        status, _, full = self.hub.get("/alerts/%d" % a["id"])
        self.assertEqual(status, 200, full)
        self.assertEqual([e["event_id"] for e in full["events"]], [ids[0]])
        self.assertEqual(full["events"][0]["event_type"], "E2E_SUDO")

        # email: STARTTLS, login, both recipients, the rule in the subject
        def mailed():
            with self.smtp.lock:
                return [m for m in self.smtp.messages if "E2E sudo escalation" in m["data"]]
        msgs = wait_for(mailed, 15, "the alert email at the SMTP sink")
        m = msgs[0]
        self.assertEqual(m["auth"], "\0%s\0%s" % (SMTP_USER, SMTP_PASS))
        if self.cert:
            self.assertTrue(m["tls"], "the mail was not sent over STARTTLS")
        else:  # no openssl here: the channel says starttls = off
            self.assertFalse(m["tls"], "the mail went over STARTTLS with starttls = off")
        self.assertEqual(m["mail_from"], "<alerts@example.com>")
        self.assertEqual(sorted(m["rcpt"]), ["<oncall@example.org>", "<soc@example.com>"])
        self.assertIn("Subject: [minisiem] HIGH: E2E sudo escalation", m["data"])
        self.assertIn("X-Minisiem-Alert: %d" % a["id"], m["data"])

        # webhook: the signature is the HMAC-SHA256 of the body under the secret
        def posted(path):
            with self.web.lock:
                return [p for p in self.web.posts if p[0].startswith(path)
                        and json.loads(p[2]).get("alert", {}).get("id", a["id"]) == a["id"]]
        hooks = wait_for(lambda: posted("/hook"), 15, "the webhook POST")
        _, headers, body = hooks[0]
        want = "sha256=" + hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
        self.assertEqual(headers.get("X-Minisiem-Signature"), want)
        self.assertEqual(headers.get("Content-Type"), "application/json")
        payload = json.loads(body)
        self.assertEqual(payload["type"], "alert")
        self.assertEqual(payload["alert"]["rule_author"], "E2E Author (ACME)")
        slack = wait_for(lambda: posted("/slack"), 15, "the Slack POST")
        text = json.loads(slack[0][2])["text"]
        self.assertIn("[HIGH] E2E sudo escalation", text)

        def channels():
            status, _, ch = self.hub.get("/alerts/channels")
            self.assertEqual(status, 200, ch)
            by = {c["name"]: c for c in ch["channels"]}
            return by if all(c["sent"] >= 1 for c in by.values()) else None
        by = wait_for(channels, 15, "every channel to count its delivery")
        self.assertEqual(sorted(by), ["hook", "mail", "slack"])
        self.assertNotIn("/slack", by["slack"]["url"])  # the secret part of the URL is hidden

    def test_stream_keepalive_comments(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.hub.port, timeout=10)
        self.addCleanup(conn.close)
        conn.request("GET", "/alerts/stream?keepalive=1",
                     headers={"Authorization": "Bearer " + self.hub.login_token()})
        resp = conn.getresponse()
        self.assertEqual(resp.status, 200)
        t0 = time.monotonic()
        lines = []
        while ": keep-alive" not in lines:
            lines.append(resp.readline().decode().rstrip("\r\n"))
            self.assertLess(time.monotonic() - t0, 5, lines)
        self.assertGreaterEqual(time.monotonic() - t0, 0.9)  # after a second of silence
        self.assertEqual(lines[0], "retry: 3000")

    def test_suppression_ack_close_and_roles(self):
        # start from a fresh alert: close what other tests left open
        for old in self.alerts(rule=RULE_ID, status="open,acknowledged"):
            self.assertEqual(self.post("/alerts/%d/close" % old["id"])[0], 200)
        self.ingest_types("supp1", "E2E_SUDO")
        a = self.wait_alert(lambda a: a["rule_id"] == RULE_ID and a["status"] == "open",
                            "an open alert")
        before = a["count"]
        self.ingest_types("supp2", "E2E_SUDO", "E2E_SUDO")
        a2 = self.wait_alert(lambda x: x["id"] == a["id"] and x["count"] == before + 2,
                             "the repeats counted on the same alert")
        self.assertEqual(a2["suppressed"], a2["count"] - 1)
        ana = analyst_token(self.hub, "ana")
        status, _, body = self.post("/alerts/%d/ack" % a["id"], token=ana)
        self.assertEqual(status, 200, body)
        self.assertEqual(body["status"], "acknowledged")
        self.assertEqual(body["acknowledged_by"], "ana")
        self.assertTrue(body["acknowledged_at"])
        status, _, body = self.post("/alerts/%d/close" % a["id"], token=analyst_token(self.hub, "carl"))
        self.assertEqual(status, 200, body)
        self.assertEqual(body["status"], "closed")
        self.assertEqual(body["closed_by"], "carl")
        self.assertEqual(body["acknowledged_by"], "ana")
        status, _, body = self.post("/alerts/%d/ack" % a["id"], token=ana)
        self.assertEqual(status, 409, body)
        status, _, body = self.post("/alerts/999999/ack", token=ana)
        self.assertEqual(status, 404, body)
        status, _, body = self.hub.request("POST", "/alerts/%d/ack" % a["id"])
        self.assertEqual(status, 401, body)
        # closed: the next hit opens a new alert
        self.ingest_types("supp3", "E2E_SUDO")
        self.wait_alert(lambda x: x["rule_id"] == RULE_ID and x["id"] > a["id"], "a new alert")
        closed = self.alerts(status="closed", rule=RULE_ID)
        self.assertIn(a["id"], [x["id"] for x in closed])
        self.assertTrue(all(x["status"] == "closed" for x in closed))
        acts = self.audit_actions()
        self.assertIn(("alert.ack", "alert:%d" % a["id"], "ana"), acts)
        self.assertIn(("alert.close", "alert:%d" % a["id"], "carl"), acts)
        # analysts read rules but do not change them
        status, _, _ = self.hub.get("/rules", token=ana)
        self.assertEqual(status, 200)
        status, _, _ = self.post("/rules", API_RULE_YAML, token=ana)
        self.assertEqual(status, 403)

    def test_stream_resume_with_last_event_id(self):
        self.ingest_types("resume1", "E2E_SUDO")
        a = self.wait_alert(lambda a: a["rule_id"] == RULE_ID and a["status"] != "closed",
                            "an open alert")
        # everything after an older version comes back, at its newest version
        sse = SSE(self.hub, self.hub.login_token(), last_event_id="%d-%d" % (a["id"], 0))
        self.addCleanup(sse.close)
        sid, data = sse.next_alert(lambda d: d["id"] == a["id"])
        self.assertGreaterEqual(data["version"], a["version"])
        sse.close()
        # from the newest id on: nothing old, then the live change
        status, _, now = self.hub.get("/alerts/%d" % a["id"])
        sse = SSE(self.hub, self.hub.login_token(), last_event_id="%d-%d" % (a["id"], now["version"]))
        self.addCleanup(sse.close)
        self.post("/alerts/%d/ack" % a["id"])
        sid, data = sse.next_alert(lambda d: d["id"] == a["id"])
        self.assertGreater(data["version"], now["version"])
        self.assertEqual(sid, "%d-%d" % (a["id"], data["version"]))
        status, _, body = self.hub.get("/alerts/stream", headers={"Last-Event-ID": "junk"})
        self.assertEqual(status, 400, body)

    def test_rules_crud_with_audit(self):
        status, _, body = self.hub.get("/rules")
        self.assertEqual(status, 200, body)
        builtin = {r["id"]: r for r in body["rules"]}[RULE_ID]
        self.assertTrue(builtin["builtin"] and builtin["enabled"])
        self.assertTrue(builtin["origin"].startswith("builtin:"))

        status, _, body = self.post("/rules", API_RULE_YAML)
        self.assertEqual(status, 201, body)
        self.assertEqual(body["rules"][0]["id"], API_RULE_ID)
        self.assertEqual(body["rules"][0]["origin"], "api")
        status, _, body = self.post("/rules", API_RULE_YAML)
        self.assertEqual(status, 409, body)

        # in effect at once
        self.ingest_types("crud1", "E2E_ACCOUNT")
        a = self.wait_alert(lambda a: a["rule_id"] == API_RULE_ID, "the API rule's alert")
        self.assertEqual(a["rule_author"], "E2E API")
        status, _, r = self.hub.get("/rules/" + API_RULE_ID)
        self.assertEqual(status, 200, r)
        self.assertIn("E2E_ACCOUNT", r["yaml"])
        self.assertGreaterEqual(r["hits"], 1)

        # disabled: no more hits; enabled again: hits
        status, _, r = self.post("/rules/%s/disable" % API_RULE_ID)
        self.assertEqual(status, 200, r)
        self.assertFalse(r["enabled"])
        self.ingest_types("crud2", "E2E_ACCOUNT")
        status, _, r = self.hub.request("PUT", "/rules/" + API_RULE_ID, {"enabled": True},
                                        {"Authorization": "Bearer " + self.hub.login_token()})
        self.assertEqual(status, 200, r)
        self.assertTrue(r["enabled"])
        self.ingest_types("crud3", "E2E_ACCOUNT")
        a2 = self.wait_alert(lambda x: x["id"] == a["id"] and x["count"] >= 2, "the hit after enable")
        self.assertEqual(a2["count"], 2)  # the event sent while disabled did not count

        # update the text
        status, _, r = self.hub.request(
            "PUT", "/rules/" + API_RULE_ID,
            API_RULE_YAML.replace("E2E account created", "E2E account created v2").encode(),
            {"Authorization": "Bearer " + self.hub.login_token(),
             "Content-Type": "application/yaml"})
        self.assertEqual(status, 200, r)
        self.assertEqual(r["title"], "E2E account created v2")
        # built-in rules: not deletable, not editable, but can be disabled (and it lasts)
        status, _, r = self.hub.request("DELETE", "/rules/" + RULE_ID, None,
                                        {"Authorization": "Bearer " + self.hub.login_token()})
        self.assertEqual(status, 409, r)
        status, _, r = self.post("/rules/%s/disable" % RULE_ID)
        self.assertEqual(status, 200, r)
        self.addCleanup(self.post, "/rules/%s/enable" % RULE_ID)
        status, _, r = self.hub.request("DELETE", "/rules/" + API_RULE_ID, None,
                                        {"Authorization": "Bearer " + self.hub.login_token()})
        self.assertEqual(status, 200, r)
        status, _, r = self.hub.get("/rules/" + API_RULE_ID)
        self.assertEqual(status, 404, r)

        acts = [(x[0], x[1]) for x in self.audit_actions()]
        obj = "rule:" + API_RULE_ID
        for action in ("rule.create", "rule.disable", "rule.enable", "rule.update", "rule.delete"):
            self.assertIn((action, obj), acts)
        self.assertIn(("rule.disable", "rule:" + RULE_ID), acts)

    def test_rule_yaml_error_is_422_with_line(self):
        bad = "title: broken\nid: x-broken\nlogsource:\n    product: minisiem\ndetection:\n" \
              "    selection:\n        event_type: [A, B\n    condition: selection\n"
        status, _, body = self.post("/rules", bad)
        self.assertEqual(status, 422, body)
        self.assertIn("line", body["detail"])
        self.assertIsInstance(body.get("line"), int)
        self.assertGreaterEqual(body["line"], 7)
        status, _, body = self.hub.get("/rules/x-broken")
        self.assertEqual(status, 404, body)

    def test_rules_test_is_bounded(self):
        ids = self.ingest_types("rt", "E2E_RT", "E2E_RT", "E2E_RT_NOT", "E2E_RT")
        rule = API_RULE_YAML.replace(API_RULE_ID, "0e2e0000-0000-4000-8000-0000000000b1") \
                            .replace("E2E_ACCOUNT", "E2E_RT")
        body = json.dumps({"rule": rule, "from": "2000-01-01T00:00:00Z"})
        status, _, r = self.post("/rules/test", body, content_type="application/json")
        self.assertEqual(status, 200, r)
        got = sorted(e["event_id"] for e in r["matches"])
        self.assertEqual(got, sorted([ids[0], ids[1], ids[3]]))
        self.assertTrue(r["complete"])
        self.assertEqual(r["matched"], 3)
        # at most max_events scanned, and the answer says so
        body = json.dumps({"rule": rule, "from": "2000-01-01T00:00:00Z", "max_events": 2})
        status, _, r = self.post("/rules/test", body, content_type="application/json")
        self.assertEqual(status, 200, r)
        self.assertEqual(r["scanned"], 2)
        self.assertFalse(r["complete"])
        self.assertTrue(r["next_cursor"])
        first = [e["event_id"] for e in r["matches"]]
        body = json.dumps({"rule": rule, "from": "2000-01-01T00:00:00Z", "max_events": 100000,
                           "cursor": r["next_cursor"]})
        status, _, r = self.post("/rules/test", body, content_type="application/json")
        self.assertEqual(status, 200, r)
        self.assertTrue(r["complete"])
        rest = [e["event_id"] for e in r["matches"]]
        self.assertEqual(sorted(first + rest), sorted([ids[0], ids[1], ids[3]]))
        # nothing was raised or stored by a test
        status, _, rules = self.hub.get("/rules")
        self.assertNotIn("0e2e0000-0000-4000-8000-0000000000b1", [x["id"] for x in rules["rules"]])


class StreamShutdown(HubCase):
    def test_sigterm_with_an_open_stream(self):
        hub = self.own_hub()
        sse = SSE(hub, hub.login_token())
        self.addCleanup(sse.close)
        self.assertEqual(sse.status, 200)
        t0 = time.monotonic()
        hub.stop()  # exit code 0, no sanitizer report
        self.assertLess(time.monotonic() - t0, 10.0)
        sse.wait_end(10)  # the stream ended with the hub


class DeadChannel(HubCase):
    def test_refused_channel_does_not_slow_ingest(self):
        import tempfile
        tmp = tempfile.mkdtemp(prefix="minisiem-e2e-dead-")
        self.addCleanup(shutil.rmtree, tmp, True)
        rules = os.path.join(tmp, "rules")
        os.mkdir(rules)
        with open(os.path.join(rules, "e2e.yml"), "w") as f:
            f.write(RULE_YAML)
        port = free_port()  # nothing listens there: connection refused
        conf = os.path.join(tmp, "channels.conf")
        with open(conf, "w") as f:
            f.write("[dead]\ntype = webhook\nurl = http://127.0.0.1:%d/\nretries = 3\n"
                    "backoff = 200ms\nqueue = 2\n" % port)
        hub = self.own_hub(args=["--rules-dir", rules, "--alert-cooldown", "0",
                                 "--notify-config", conf])
        worst = 0.0
        for i in range(30):
            t0 = time.monotonic()
            hub.ingest_ok([{"event_id": event_uuid("dead", i), "event_type": "E2E_SUDO",
                            "message": "dead %d" % i}])
            worst = max(worst, time.monotonic() - t0)
        # each alert's delivery would take 3 retries and 1.4 s of backoff if it blocked
        self.assertLess(worst, 1.0)

        def counted():
            _, _, ch = hub.get("/alerts/channels")
            c = ch["channels"][0]
            return c if c["failed"] + c["dropped"] == 30 else None
        # each of the 30 alerts is either given up after its retries or dropped from the
        # full queue (2 places): none is lost without a count
        c = wait_for(counted, 30, "every alert counted as failed or dropped")
        self.assertGreaterEqual(c["failed"], 1, c)
        self.assertGreaterEqual(c["dropped"], 1, c)
        self.assertEqual(c["sent"], 0)
        self.assertTrue(c["last_error"], c)
        m = metrics(hub)
        self.assertEqual(m['minisiem_notify_failed_total{channel="dead"}'], c["failed"])
        self.assertEqual(m['minisiem_notify_dropped_total{channel="dead"}'], c["dropped"])
        self.assertEqual(len(hub.get("/alerts", {"limit": 1000})[2]["alerts"]), 30)


if __name__ == "__main__":
    unittest.main()
