"""test_agent.py — minisiem-agent against the real hub on loopback: lines appended to an auth
log while the hub is stopped and restarted, the log rotated and the agent SIGKILLed at random
points, and every line stored exactly once; a spool that overflows drops exactly the oldest
events its log counts; --once, --dry-run and exit codes; journald through a journal directory
(systemd-journal-remote) and, where a journal runs, through logger."""

import gzip
import http.server
import json
import os
import random
import re
import shutil
import signal
import ssl
import subprocess
import tempfile
import threading
import time
import unittest

import hub
from helpers import agent_bin, free_port, require_agent
from hub import HubCase, wait_for

DEADLINE = 40.0
JOURNAL_REMOTE = "/lib/systemd/systemd-journal-remote"
SEQ_RE = re.compile(r"seq=(\d+)\b")
DROPPED_RE = re.compile(r"(\d+) events lost")


def journald_built():
    """The agent leaves journald out when it was built without libsystemd."""
    r = subprocess.run([agent_bin(), "--dry-run", "--once", "--source", "journald:/nonexistent"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=30,
                       env=hub.base_env())
    return "not available in this build" not in r.stderr


def auth_line(host, i):
    return ("Nov 21 07:%02d:%02d %s sshd[%d]: Failed password for user%d from 10.9.%d.%d "
            "port 22 ssh2 seq=%d\n" % (i // 60 % 60, i % 60, host, 1000 + i % 5000, i,
                                       i // 250 % 256, i % 250 + 1, i))


class Agent:
    """One minisiem-agent process at a time, restartable, its stderr kept per run."""

    def __init__(self, tmpdir, port, sources, extra=None, env=None):
        self.tmpdir, self.port = tmpdir, port
        self.state_dir = os.path.join(tmpdir, "agent-state")
        self.sources = sources
        self.extra = list(extra or [])
        self.env = dict(env or {})
        self.proc = None
        self.runs = 0
        self.logs = []

    def argv(self, *more):
        a = [agent_bin(), "--server", "http://127.0.0.1:%d" % self.port, "--insecure-http",
             "--state-dir", self.state_dir, "--flush-ms", "100", "--batch", "100",
             "--retry-max", "1s", "--poll-ms", "20", "--heartbeat", "1s",
             "--rotate-wait-ms", "200"]
        for s in self.sources:
            a += ["--source", s]
        return a + self.extra + list(more)

    def environ(self):
        env = hub.base_env({"SIEM_AGENT_API_KEY": hub.API_KEY})
        env = {k: v for k, v in env.items() if not k.startswith("SIEM_AGENT_") or
               k == "SIEM_AGENT_API_KEY"}
        env.update(self.env)
        return env

    def start(self):
        assert self.proc is None
        self.runs += 1
        path = os.path.join(self.tmpdir, "agent-%d.stderr" % self.runs)
        self.logs.append(path)
        with open(path, "wb") as err:
            self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=err,
                                         env=self.environ(), start_new_session=True)
        return self

    def run_once(self, *more, timeout=60):
        r = subprocess.run(self.argv("--once", *more), stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env=self.environ(), timeout=timeout)
        self.logs.append(None)
        hub.check_sanitizers(r.stderr, "minisiem-agent --once")
        return r

    def kill(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def stop(self):
        """SIGTERM: the agent flushes, saves positions and exits 0."""
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("agent did not exit within 30 s of SIGTERM")
        self.proc = None
        hub.check_sanitizers(self.stderr(), "minisiem-agent")
        assert rc == 0, "agent exited %s after SIGTERM:\n%s" % (rc, hub.tail(self.stderr()))

    def stderr(self):
        return "\n".join(hub.read_text(p) for p in self.logs if p)

    def last_log(self):
        return hub.read_text(self.logs[-1]) if self.logs and self.logs[-1] else ""

    def spooled_files(self):
        d = os.path.join(self.state_dir, "spool")
        try:
            return [f for f in os.listdir(d) if f.endswith(".spl")]
        except OSError:
            return []

    def alive(self):
        return self.proc is not None and self.proc.poll() is None


class AgentCase(HubCase):

    def setUp(self):
        super().setUp()
        require_agent()
        self.tmp = tempfile.mkdtemp(prefix="minisiem-agent-e2e-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.port = free_port()
        self.host = "agent-e2e-%d" % random.randrange(1 << 30)
        self.log = os.path.join(self.tmp, "auth.log")
        self.agent = None

    def tearDown(self):
        if self.agent is not None:
            self.agent.kill()
        super().tearDown()

    def wait(self, cond, what, interval=0.1):
        """wait_for with the agent's log in the failure message."""
        try:
            return wait_for(cond, DEADLINE, what, interval)
        except AssertionError as e:
            log = self.agent.stderr() if self.agent else ""
            raise AssertionError("%s\n--- agent stderr ---\n%s" % (e, hub.tail(log, 40)))

    def new_hub(self):
        return self.own_hub(start=False, args=["--listen", "127.0.0.1:%d" % self.port])

    def seqs(self, h):
        """seq number -> count of the events of this test's host stored by the hub."""
        out = {}
        for e in h.all_events({"source_host": self.host}):
            m = SEQ_RE.search(e.get("message", ""))
            if m:
                out[int(m.group(1))] = out.get(int(m.group(1)), 0) + 1
        return out

    def stored(self, h):
        return len(h.all_events({"source_host": self.host}))


class TestAgentDelivery(AgentCase):

    def test_outage_kills_and_rotation_store_every_line_once(self):
        total = 2400
        h = self.new_hub().start()
        self.agent = a = Agent(self.tmp, self.port, ["linux-auth:" + self.log])
        open(self.log, "w").close()
        a.start()
        written = [0]
        rotate_at = total * 2 // 3
        stop = threading.Event()
        gate = threading.Semaphore(0)  # writing proceeds in steps the test releases

        def writer():
            i = 0
            while i < total and not stop.is_set():
                gate.acquire()
                end = min(total, i + 200)
                with open(self.log, "a") as f:
                    for k in range(i, end):
                        if k == rotate_at:  # logrotate's rename + create, mid-stream
                            f.close()
                            os.rename(self.log, self.log + ".1")
                            f = open(self.log, "a")
                        f.write(auth_line(self.host, k))
                f.close()
                i = end
                written[0] = i

        t = threading.Thread(target=writer, daemon=True)
        t.start()
        self.addCleanup(stop.set)
        self.addCleanup(lambda: [gate.release() for _ in range(20)])

        def step(n=1):
            for _ in range(n):
                goal = written[0] + 200
                gate.release()
                self.wait(lambda: written[0] >= min(goal, total), "the writer")

        # Hub up: the first lines arrive.
        step(2)
        self.wait(lambda: self.stored(h) >= 400, "the first 400 lines at the hub")
        # Hub down: the agent keeps reading and spools.
        h.stop()
        step(2)
        self.wait(lambda: len(a.spooled_files()) >= 2, "batches in the spool")
        self.assertIn("the hub http://127.0.0.1:%d cannot be reached" % self.port, a.last_log())
        # Killed while the hub is down and the spool is full of batches.
        a.kill()
        a.start()
        step(1)
        self.wait(lambda: "batches" in a.last_log() and "waiting" in a.last_log(),
                  "the restarted agent to find its spool")
        h.start()
        # Killed at random points while it catches up and while the log rotates.
        for _ in range(3):
            target = self.stored(h) + random.randrange(50, 400)
            step(1)
            self.wait(lambda: self.stored(h) >= min(target, written[0]),
                      "progress at the hub")
            a.kill()
            a.start()
        while written[0] < total:
            step(1)
        t.join(DEADLINE)
        self.wait(lambda: self.stored(h) >= total, "all %d lines at the hub" % total)
        got = self.seqs(h)
        self.assertEqual(sorted(got), list(range(total)), "missing lines")
        self.assertEqual([k for k, v in got.items() if v != 1], [], "stored twice")
        self.assertEqual(self.stored(h), total)
        self.wait(lambda: not a.spooled_files(), "an empty spool")
        self.wait(lambda: re.search(r"heartbeat: read \d+ sent \d+", a.last_log()),
                  "a heartbeat line")
        a.stop()
        self.assertNotIn("events lost", a.stderr())
        e = h.all_events({"source_host": self.host, "limit": 1})[0]
        self.assertEqual(e["event_type"], "LOGIN_FAIL")
        self.assertEqual(e["os_type"], "LINUX")

    def test_full_spool_drops_oldest_counted(self):
        total = 4000
        with open(self.log, "w") as f:
            for i in range(total):
                f.write(auth_line(self.host, i))
        size = os.path.getsize(self.log)
        self.agent = a = Agent(self.tmp, self.port, ["linux-auth:" + self.log],
                               extra=["--spool-max-mb", "1", "--batch", "50"])
        a.start()  # no hub listening yet

        def all_read():
            try:
                with open(os.path.join(a.state_dir, "state")) as f:
                    return "off=%d " % size in f.read()
            except OSError:
                return False

        self.wait(all_read, "the agent to read and spool the whole log")
        dropped = sum(int(x) for x in DROPPED_RE.findall(a.stderr()))
        self.assertGreater(dropped, 0, "the spool should have overflowed")
        self.assertIn("SPOOL FULL", a.stderr())
        h = self.new_hub().start()
        self.wait(lambda: not a.spooled_files(), "the spool to drain")
        self.wait(lambda: self.stored(h) >= total - dropped, "the kept events")
        got = self.seqs(h)
        self.assertEqual(len(got), total - dropped, "stored = read - dropped")
        self.assertEqual(sorted(got), list(range(dropped, total)),
                         "the oldest events are the ones dropped")
        wait_for(lambda: re.search(r"heartbeat: .* dropped %d " % dropped, a.last_log()),
                 DEADLINE, "the heartbeat to report %d dropped" % dropped)
        # the heartbeat logs, then writes metrics.prom
        prom = os.path.join(a.state_dir, "metrics.prom")

        def prom_counts():
            try:
                with open(prom) as f:
                    return re.search(r"minisiem_agent_events_dropped_total %d\b" % dropped, f.read())
            except OSError:
                return None
        wait_for(prom_counts, DEADLINE, "metrics.prom to count %d dropped" % dropped)
        a.stop()


class TestAgentOnce(AgentCase):

    def test_once_exit_codes_and_no_duplicates(self):
        with open(self.log, "w") as f:
            for i in range(120):
                f.write(auth_line(self.host, i))
            f.write("not an auth line\n")
        a = Agent(self.tmp, self.port, ["linux-auth:" + self.log])
        # Nobody listening: spooled, exit 1.
        r = a.run_once()
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertTrue(a.spooled_files())
        self.assertIn("rejected 1", r.stderr)
        h = self.new_hub().start()
        # The spool goes first, then nothing new: exit 0.
        r = a.run_once()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertFalse(a.spooled_files())
        with open(self.log, "a") as f:
            for i in range(120, 150):
                f.write(auth_line(self.host, i))
        r = a.run_once("--gzip")
        self.assertEqual(r.returncode, 0, r.stderr)
        got = self.seqs(h)
        self.assertEqual(sorted(got), list(range(150)))
        self.assertEqual(set(got.values()), {1})
        # A wrong key: the hub refuses the batch as a whole; set aside, exit 1.
        with open(self.log, "a") as f:
            f.write(auth_line(self.host, 150))
        a.env["SIEM_AGENT_API_KEY"] = "wrong-key"
        r = a.run_once()
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("HTTP 401", r.stderr)
        self.assertTrue(os.listdir(os.path.join(a.state_dir, "rejected")))
        self.assertFalse(a.spooled_files())

    def test_dry_run_prints_events(self):
        with open(self.log, "w") as f:
            f.write(auth_line(self.host, 7))
        r = subprocess.run([agent_bin(), "--dry-run", "--once", "--source",
                            "linux-auth:" + self.log], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=60,
                           env=hub.base_env())
        hub.check_sanitizers(r.stderr, "minisiem-agent --dry-run")
        self.assertEqual(r.returncode, 0, r.stderr)
        ev = [json.loads(x) for x in r.stdout.splitlines()]
        self.assertEqual(len(ev), 1)
        self.assertEqual(ev[0]["event_type"], "LOGIN_FAIL")
        self.assertEqual(ev[0]["source_ip"], "10.9.0.8")
        self.assertEqual(ev[0]["user"], "user7")
        self.assertEqual(ev[0]["source_offset"], 0)
        # The same line read again gets the same id (deterministic, so the hub dedupes).
        r2 = subprocess.run([agent_bin(), "--dry-run", "--once", "--source",
                             "linux-auth:" + self.log], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, timeout=60, env=hub.base_env())
        self.assertEqual(json.loads(r2.stdout)["event_id"], ev[0]["event_id"])

    def test_usage_errors(self):
        for args in (["--source", "linux-auth"], ["--server", "ftp://x", "--source", "journald"],
                     ["--server", "http://127.0.0.1:1", "--insecure-http", "--source", "nope"],
                     ["--bogus"]):
            r = subprocess.run([agent_bin()] + args, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, timeout=30,
                               env=hub.base_env({"SIEM_AGENT_API_KEY": "k"}))
            self.assertEqual(r.returncode, 2, "%r: %s" % (args, r.stderr))
        r = subprocess.run([agent_bin(), "--help"], stdout=subprocess.PIPE, text=True,
                           timeout=30, env=hub.base_env())
        self.assertEqual(r.returncode, 0)
        self.assertIn("--spool-max-mb", r.stdout)
        self.assertIn("SIEM_AGENT_SERVER", r.stdout)


AGENT_DECODER = """\
decoders:
  - name: vault
    programs: [vaultd]
    patterns:
      - name: denied
        match: 'access denied for %{USERNAME:user} from %{IP:source_ip}'
        type: TYPE
        severity: 4
"""


class TestAgentDecoders(AgentCase):
    """--decoders-dir (here through SIEM_AGENT_DECODERS_DIR and the config file): a user
    decoder types the agent's file lines before they reach the hub, SIGHUP reads the folder
    again, a broken file keeps the set in force (and is refused at start, exit 2)."""

    def put_decoder(self, ddir, event_type):
        path = os.path.join(ddir, "vault.yml")
        with open(path + ".tmp", "w") as f:
            f.write(AGENT_DECODER.replace("TYPE", event_type))
        os.replace(path + ".tmp", path)

    def append(self, i):
        with open(self.log, "a") as f:
            f.write("Dec  1 10:00:%02d %s vaultd[42]: access denied for bob from "
                    "192.0.2.%d\n" % (i, self.host, i + 1))
            f.write("Dec  1 10:00:%02d %s sshd[43]: Failed password for root from "
                    "192.0.2.%d port 22 ssh2\n" % (i, self.host, i + 1))

    def typed(self, h, event_type, n):
        def found():
            ev = h.all_events({"source_host": self.host, "event_type": event_type})
            return ev if len(ev) >= n else None
        return self.wait(found, "%d %s events" % (n, event_type))

    def test_user_decoder_reloaded_on_sighup(self):
        ddir = os.path.join(self.tmp, "decoders")
        os.mkdir(ddir)
        self.put_decoder(ddir, "VAULT_DENIED")
        h = self.new_hub().start()
        self.append(0)
        self.agent = Agent(self.tmp, self.port, ["linux-auth:" + self.log],
                           env={"SIEM_AGENT_DECODERS_DIR": ddir}).start()
        ev = self.typed(h, "VAULT_DENIED", 1)[0]
        self.assertEqual((ev["user"], ev["source_ip"], ev["severity"], ev["app"]),
                         ("bob", "192.0.2.1", 4, "vaultd"))
        # the built-in decoders still type the rest
        self.assertEqual(self.typed(h, "LOGIN_FAIL", 1)[0]["source_ip"], "192.0.2.1")

        self.put_decoder(ddir, "VAULT_REFUSED")
        self.agent.proc.send_signal(signal.SIGHUP)
        self.wait(lambda: "decoders reloaded" in self.agent.stderr(), "the reload logged")
        self.append(1)
        self.assertEqual(self.typed(h, "VAULT_REFUSED", 1)[0]["source_ip"], "192.0.2.2")

        with open(os.path.join(ddir, "broken.yml"), "w") as f:
            f.write("decoders: [\n")
        self.agent.proc.send_signal(signal.SIGHUP)
        self.wait(lambda: "decoders not reloaded" in self.agent.stderr(),
                  "the refused reload logged")
        self.assertIn("broken.yml", self.agent.stderr())
        self.append(2)
        self.assertEqual(len(self.typed(h, "VAULT_REFUSED", 2)), 2)
        self.assertEqual(len(h.all_events({"source_host": self.host,
                                           "event_type": "VAULT_DENIED"})), 1)
        self.assertTrue(self.agent.alive())
        self.agent.stop()

        # At start a broken file is a usage error naming the file and line (config file).
        conf = os.path.join(self.tmp, "agent.conf")
        with open(conf, "w") as f:
            f.write("decoders-dir = %s\n" % ddir)
        r = Agent(self.tmp, self.port, ["linux-auth:" + self.log]).run_once("--config", conf)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("broken.yml:2", r.stderr)


class FakeHub:
    """A scripted /ingest on 127.0.0.1 (plain or TLS): answers[i] is (status, headers, body)
    for the i-th request (the last one repeats); every request is recorded."""

    def __init__(self, answers, certfile=None, keyfile=None):
        self.answers, self.requests = answers, []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                owner.requests.append((self.path, dict(self.headers), body))
                status, headers, answer = owner.answers[min(len(owner.requests),
                                                            len(owner.answers)) - 1]
                data = json.dumps(answer).encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if certfile:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(certfile, keyfile)
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def events(self, i):
        """The NDJSON events of request i, gunzipped when it says so."""
        _, headers, body = self.requests[i]
        if headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        return [json.loads(x) for x in body.splitlines() if x.strip()]


OK = (200, {}, {"accepted": 1, "duplicates": 0, "rejected": []})


class TestAgentHttp(unittest.TestCase):
    """The agent's side of the protocol against a scripted server."""

    def setUp(self):
        require_agent()
        self.tmp = tempfile.mkdtemp(prefix="minisiem-agent-http-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.log = os.path.join(self.tmp, "auth.log")
        with open(self.log, "w") as f:
            f.write(auth_line("agent-http", 1))

    def fake(self, answers, tls=False):
        cert = key = None
        if tls:
            cert, key = os.path.join(self.tmp, "cert.pem"), os.path.join(self.tmp, "key.pem")
            r = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                                "-keyout", key, "-out", cert, "-days", "2", "-subj",
                                "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
            self.assertEqual(r.returncode, 0, r.stdout)
        f = FakeHub(answers, cert, key)
        self.addCleanup(f.close)
        return f, cert

    def once(self, url, *more, state="st"):
        r = subprocess.run([agent_bin(), "--server", url, "--state-dir",
                            os.path.join(self.tmp, state), "--source", "linux-auth:" + self.log,
                            "--retry-max", "2s", "--once", *more], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=60,
                           env=hub.base_env({"SIEM_AGENT_API_KEY": "the-key"}))
        hub.check_sanitizers(r.stderr, "minisiem-agent")
        return r

    @unittest.skipUnless(shutil.which("openssl"),
                         "this machine has no openssl command to make the test certificate")
    def test_tls_verified_by_default(self):
        f, cert = self.fake([OK], tls=True)
        url = "https://127.0.0.1:%d" % f.port
        r = self.once(url, "--retry-max", "1s", state="a")  # an unknown certificate
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("cannot be reached", r.stderr)
        self.assertEqual(f.requests, [])
        r = self.once(url, "--ca", cert, state="b")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.once(url, "--insecure", state="c")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("not verified", r.stderr)
        self.assertEqual(len(f.requests), 2)

    def test_request_gzip_retry_after_and_rejections(self):
        f, _ = self.fake([(503, {"Retry-After": "1"}, {"error": "overloaded"}),
                          (200, {}, {"accepted": 0, "duplicates": 0, "rejected": [
                              {"index": 0, "error": "severity: must be an integer 1..5"}]})])
        t0 = time.monotonic()
        r = self.once("http://127.0.0.1:%d/" % f.port, "--gzip", "--insecure-http")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertGreaterEqual(time.monotonic() - t0, 1.0, "Retry-After: 1 was not honoured")
        self.assertEqual(len(f.requests), 2)
        path, headers, _ = f.requests[1]
        self.assertEqual(path, "/ingest")
        self.assertEqual(headers.get("X-API-Key"), "the-key")
        self.assertEqual(headers.get("Content-Type"), "application/x-ndjson")
        self.assertEqual(headers.get("Content-Encoding"), "gzip")
        self.assertEqual(f.events(0), f.events(1))  # the same batch again
        self.assertEqual(f.events(1)[0]["user"], "user1")
        self.assertIn("HTTP 503", r.stderr)
        self.assertIn("severity: must be an integer 1..5", r.stderr)
        self.assertIn("rejected 1", r.stderr)


class TestAgentDocs(unittest.TestCase):

    def test_every_option_is_in_docs_agent_md(self):
        require_agent()
        out = subprocess.run([agent_bin(), "--help"], stdout=subprocess.PIPE, text=True,
                             timeout=30, env=hub.base_env()).stdout
        names = re.findall(r"^  (--[a-z0-9-]+)", out, re.M)
        self.assertGreater(len(names), 15)
        root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
        with open(os.path.join(root, "docs", "agent.md"), encoding="utf-8") as f:
            doc = f.read()
        missing = [n for n in names if n not in doc and n not in ("--help", "--version")]
        self.assertEqual(missing, [], "options missing from docs/agent.md")


class TestAgentJournald(AgentCase):

    def setUp(self):
        super().setUp()
        if not journald_built():
            # agent.mk leaves journald.c out when pkg-config finds no libsystemd
            self.skipTest("minisiem-agent was built without journald: libsystemd-dev is not "
                          "installed on this machine")

    def export_entries(self, first, n):
        out = []
        for i in range(first, first + n):
            out.append("__CURSOR=s=0;i=%d\n__REALTIME_TIMESTAMP=%d\n__MONOTONIC_TIMESTAMP=%d\n"
                       "_BOOT_ID=0123456789abcdef0123456789abcdef\n_HOSTNAME=%s\n"
                       "SYSLOG_IDENTIFIER=sshd\n_PID=%d\nPRIORITY=6\nSYSLOG_FACILITY=10\n"
                       "MESSAGE=Failed password for root from 198.51.100.%d port 22 ssh2 seq=%d"
                       "\n\n" % (i + 1, 1763715600000000 + i * 1000, 1000 + i, self.host,
                                 100 + i, i % 250 + 1, i))
        return "".join(out)

    def write_journal(self, jdir, name, first, n):
        exp = os.path.join(self.tmp, name + ".export")
        with open(exp, "w") as f:
            f.write(self.export_entries(first, n))
        r = subprocess.run([JOURNAL_REMOTE, "-o", os.path.join(jdir, name + ".journal"), exp],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout)

    @unittest.skipUnless(os.access(JOURNAL_REMOTE, os.X_OK),
                         "systemd-journal-remote is not installed (it writes the journal files "
                         "this test reads)")
    def test_journal_directory_resumes_from_cursor(self):
        jdir = os.path.join(self.tmp, "journal")
        os.makedirs(jdir)
        self.write_journal(jdir, "a", 0, 40)
        h = self.new_hub().start()
        a = Agent(self.tmp, self.port, ["journald:" + jdir])
        r = a.run_once()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.write_journal(jdir, "b", 40, 25)
        r = a.run_once()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("resuming after the saved cursor", r.stderr)
        self.assertIn("read 25 ", r.stderr)
        got = self.seqs(h)
        self.assertEqual(sorted(got), list(range(65)))
        self.assertEqual(set(got.values()), {1})
        e = h.all_events({"source_host": self.host, "event_type": "LOGIN_FAIL"})
        self.assertEqual(len(e), 65)
        self.assertEqual(e[0]["user"], "root")

    @unittest.skipUnless(os.path.exists("/run/systemd/journal/socket"),
                         "no systemd journal runs here (/run/systemd/journal/socket is missing)")
    def test_live_journal_with_logger(self):
        h = self.new_hub().start()
        self.agent = a = Agent(self.tmp, self.port, ["journald"], extra=["--host", self.host])
        a.start()
        wait_for(lambda: "following new entries" in a.last_log() or
                 "resuming" in a.last_log(), DEADLINE, "the agent to open the journal")
        tag = "minisiem-e2e-%d" % random.randrange(1 << 30)
        subprocess.run(["logger", "-t", tag, "agent e2e seq=1"], check=True, timeout=30)
        wait_for(lambda: any(e.get("app") == tag for e in h.all_events({"app": tag})),
                 DEADLINE, "the logger line at the hub")
        a.stop()
