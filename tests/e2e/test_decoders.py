"""test_decoders.py — user-defined decoder files, black-box: a decoder in --decoders-dir
types syslog lines before the built-in ones (which still decode the rest), SIGHUP reads the
folder again and a broken file keeps the decoders in force, a broken file at start is refused
naming file and line, and `minisiem logtest --decoders` shows what a folder does."""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import uuid

from helpers import metric, metrics_text
from hub import BIN, HubCase, base_env, cli, read_text, wait_for
from test_syslog import syslog_ports

DEADLINE = 20.0
SSH_SCANNING = "3975ef6b-3521-40f1-8e02-b7227f45952f"  # rules/ssh_scanning.yml

MYAPP = """\
patterns:
  KV_USER: 'user=%{USERNAME:user}'
decoders:
  - name: myapp
    programs: [PROGRAM]
    generic: MYAPP
    patterns:
      - name: login_failed
        match: 'login failed %{KV_USER} from %{IP:source_ip} port %{INT:data.port:int}'
        type: APP_LOGIN_FAIL
        severity: 4
        data: {reason: bad_password}
  - name: sshd_root
    programs: [sshd]
    patterns:
      - name: root_password
        match: 'Failed password for root from %{IP:source_ip}'
        type: ROOT_LOGIN_FAIL
        severity: 5
        user: root
"""

RELOAD = """\
decoders:
  - name: reload
    programs: [PROGRAM]
    patterns:
      - name: ping
        match: 'ping %{WORD:data.word}'
        type: TYPE
"""


def rfc3164(app, msg):
    return ("<38>Mar 15 12:34:56 web1 %s[77]: %s\n" % (app, msg)).encode()


class Decoders(HubCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="minisiem-decoders-")
        cls.addClassCleanup(shutil.rmtree, cls.dir, True)
        cls.app = "myapp" + uuid.uuid4().hex[:8]
        cls.reload_app = "reload" + uuid.uuid4().hex[:8]
        cls.put("10-myapp.yml", MYAPP.replace("PROGRAM", cls.app))
        cls.put("20-reload.yml",
                RELOAD.replace("TYPE", "PING_ONE").replace("PROGRAM", cls.reload_app))
        cls.hub = cls.class_hub(args=["--syslog-udp", "127.0.0.1:0",
                                      "--syslog-tcp", "127.0.0.1:0",
                                      "--decoders-dir", cls.dir])
        cls.ports = syslog_ports(cls.hub)

    @classmethod
    def put(cls, name, text):
        path = os.path.join(cls.dir, name)
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(path + ".tmp", path)

    def tcp(self, *lines):
        with socket.create_connection(self.ports["tcp"], timeout=30) as s:
            s.sendall(b"".join(lines))

    def wait_events(self, params, n):
        def enough():
            ev = self.hub.all_events(params)
            return ev if len(ev) >= n else None
        return wait_for(enough, DEADLINE, "%d events of %r" % (n, params))

    def test_user_decoder_before_builtin(self):
        ip = "198.51.100.%d" % (uuid.uuid4().int % 200 + 1)
        self.tcp(rfc3164(self.app, "login failed user=bob from 2001:db8::5 port 0443"),
                 rfc3164(self.app, "something else"),
                 rfc3164("sshd", "Failed password for root from %s port 22 ssh2" % ip),
                 rfc3164("sshd", "Failed password for alice from %s port 23 ssh2" % ip))
        ev = {e["message"]: e for e in self.wait_events({"app": self.app}, 2)}
        e = ev["login failed user=bob from 2001:db8::5 port 0443"]
        self.assertEqual(e["event_type"], "APP_LOGIN_FAIL")
        self.assertEqual(e["severity"], 4)
        self.assertEqual(e["user"], "bob")
        self.assertEqual(e["source_ip"], "2001:db8::5")
        full = self.assertStatus(self.hub.get_event(e["event_id"]), 200)
        self.assertEqual(full["data"]["port"], 443)
        self.assertEqual(full["data"]["reason"], "bad_password")
        self.assertEqual(ev["something else"]["event_type"], "MYAPP")
        # The user's sshd decoder first; what it leaves goes to the built-in one.
        got = {e["user"]: e for e in self.wait_events({"source_ip": ip}, 2)}
        self.assertEqual(got["root"]["event_type"], "ROOT_LOGIN_FAIL")
        self.assertEqual(got["root"]["severity"], 5)
        self.assertEqual(got["alice"]["event_type"], "LOGIN_FAIL")
        # Queried by the new type like any other.
        self.assertTrue(self.hub.all_events({"event_type": "APP_LOGIN_FAIL", "app": self.app}))

    def test_builtin_firewall_and_web(self):
        host = "fw" + uuid.uuid4().hex[:8]

        def line(app, msg):
            return ("<38>Mar 15 12:34:56 %s %s: %s\n" % (host, app, msg)).encode()
        self.tcp(line("kernel", "[ 8.123456] [UFW BLOCK] IN=eth0 OUT= MAC= SRC=203.0.113.60 "
                                "DST=192.0.2.10 LEN=60 PROTO=TCP SPT=40000 DPT=23"),
                 line("kernel", "[UFW ALLOW] IN=eth0 OUT= SRC=198.51.100.60 DST=192.0.2.10 "
                                "PROTO=TCP SPT=40001 DPT=443"),
                 line("nginx", '203.0.113.61 - - [15/Mar/2024:12:34:56 +0000] "GET /.env '
                               'HTTP/1.1" 404 162 "-" "zgrab/0.x" 0.002'))
        ev = {e["event_type"]: e for e in self.wait_events({"source_host": host}, 3)}
        self.assertEqual(sorted(ev), ["FIREWALL_ALLOW", "FIREWALL_BLOCK", "http_request"])
        self.assertEqual(ev["FIREWALL_BLOCK"]["source_ip"], "203.0.113.60")
        full = self.assertStatus(self.hub.get_event(ev["FIREWALL_BLOCK"]["event_id"]), 200)
        self.assertEqual(full["data"]["destination_port"], 23)
        self.assertEqual(full["data"]["protocol"], "TCP")
        # The HTTP fields are the event's own: the API filters on them.
        got = self.hub.all_events({"source_host": host, "http_status": "404"})
        self.assertEqual([e["event_type"] for e in got], ["http_request"])
        self.assertEqual(got[0]["http_path"], "/.env")
        self.assertEqual(got[0]["http_method"], "GET")
        self.assertEqual(got[0]["user_agent"], "zgrab/0.x")
        self.assertEqual(got[0]["latency_ms"], 2.0)

    def test_ssh_scanning_alert(self):
        # Ten pre-authentication probes from one address, as sshd logs them now: the
        # built-in ssh_scanning rule raises one alert for it.
        ip = "198.51.100.%d" % (uuid.uuid4().int % 200 + 20)
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        msgs = ["Did not receive identification string from %s port 4%03d" % (ip, i)
                for i in range(5)]
        msgs += ["Connection closed by %s port 5%03d [preauth]" % (ip, i) for i in range(5)]
        self.tcp(*[("<38>1 %s bastion sshd 1 - - %s\n" % (now, m)).encode() for m in msgs])

        def alert():
            status, _, body = self.hub.get("/alerts", {"rule": SSH_SCANNING, "limit": 100})
            self.assertEqual(status, 200, body)
            return next((a for a in body["alerts"] if ip in a["group_key"]), None)
        a = wait_for(alert, DEADLINE, "the SSH scanning alert for " + ip)
        self.assertEqual(a["group_key"], "source_ip=" + ip)
        self.assertIn("SSH scanning: 10 probes from " + ip, a["summary"])

    def test_sighup_reload(self):
        app = self.reload_app
        self.tcp(rfc3164(app, "ping one"))
        self.assertEqual(self.wait_events({"app": app}, 1)[0]["event_type"], "PING_ONE")

        self.put("20-reload.yml", RELOAD.replace("TYPE", "PING_TWO").replace("PROGRAM", app))
        self.hub.signal(signal.SIGHUP)
        wait_for(lambda: "decoders reloaded from" in read_text(self.hub.stderr_path),
                 DEADLINE, "the reload's log line")
        self.tcp(rfc3164(app, "ping two"))
        ev = {e["message"]: e["event_type"] for e in self.wait_events({"app": app}, 2)}
        self.assertEqual(ev, {"ping one": "PING_ONE", "ping two": "PING_TWO"})

        # A broken file: logged with file and line, the decoders in force kept.
        self.put("30-broken.yml", "decoders:\n  - name: b\n    patterns:\n"
                                  "      - {name: p, match: '%{NOPE}', type: X}\n")
        self.addCleanup(os.unlink, os.path.join(self.dir, "30-broken.yml"))
        self.hub.signal(signal.SIGHUP)
        wait_for(lambda: "decoders not reloaded" in read_text(self.hub.stderr_path),
                 DEADLINE, "the refused reload's log line")
        self.assertIn("30-broken.yml:4: decoder 'b' pattern 'p': unknown pattern 'NOPE'",
                      read_text(self.hub.stderr_path))
        self.tcp(rfc3164(app, "ping three"))
        ev = {e["message"]: e["event_type"] for e in self.wait_events({"app": app}, 3)}
        self.assertEqual(ev["ping three"], "PING_TWO")
        self.assertTrue(self.hub.running())
        text = metrics_text(self.hub)
        self.assertGreaterEqual(metric(text, "minisiem_decoders_reloads_total"), 1)
        self.assertGreaterEqual(metric(text, "minisiem_decoders_reload_errors_total"), 1)

    def test_broken_file_refused_at_start(self):
        bad = tempfile.mkdtemp(prefix="minisiem-decoders-bad-")
        self.addCleanup(shutil.rmtree, bad, True)
        with open(os.path.join(bad, "x.yml"), "w", encoding="utf-8") as f:
            f.write("decoders:\n  - name: x\n    programs: [x]\n    patterns:\n"
                    "      - name: p\n        type: T\n        match: 'a (b'\n")
        db = os.path.join(bad, "db", "m.db")
        p = subprocess.run([BIN, "serve", "--listen", "127.0.0.1:0", "--db", db,
                            "--decoders-dir", bad], capture_output=True, text=True, timeout=60,
                           env=base_env(), stdin=subprocess.DEVNULL)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("x.yml:7: decoder 'x' pattern 'p': missing closing parenthesis", p.stderr)
        self.assertFalse(os.path.exists(db))

    def test_logtest_decoders(self):
        line = "<38>Mar 15 12:34:56 web1 %s[1]: login failed user=eve from 192.0.2.8 port 22\n" \
            % self.app
        p = cli("logtest", "--decoders", self.dir, "--explain", stdin=line)
        self.assertEqual(p.returncode, 0, p.stderr)
        ev = json.loads(p.stdout)
        self.assertEqual(ev["event_type"], "APP_LOGIN_FAIL")
        self.assertEqual(ev["_explain"]["decoder"], "myapp")
        self.assertEqual(ev["_explain"]["pattern"], "login_failed")
        self.assertEqual(ev["_explain"]["file"], os.path.join(self.dir, "10-myapp.yml"))
        # Without the folder: the built-in decoders only.
        p = cli("logtest", "--explain", stdin=line)
        self.assertEqual(json.loads(p.stdout)["event_type"], "SYSLOG")
        p = cli("logtest", "--decoders", "/nonexistent/dir", stdin=line)
        self.assertEqual(p.returncode, 1)
        self.assertIn("cannot open decoders folder '/nonexistent/dir'", p.stderr)


if __name__ == "__main__":
    unittest.main()
