"""test_agent_failover.py — the agent's --server list (flag, variable, config file; usage
errors), and one minisiem-agent with two hubs (--server A,B) that share one PostgreSQL store:
- the first hub is SIGKILLed while the agent streams a log to it; the agent carries on to the
  second and every line is stored exactly once in the shared store; the first hub comes back
  and, --failback later, the agent returns to it;
- a batch the first hub stored but whose answer was lost (a proxy drops it) is resent to the
  second hub with the same event ids, which counts them as duplicates and stores nothing."""

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import unittest

import hub
import pgserver
from helpers import agent_bin, free_port, metric, require_agent
from hub import Hub, HubCase, wait_for

DEADLINE = 60.0
SEQ_RE = re.compile(r"seq=(\d+)\b")
INGEST_OK = 'minisiem_http_requests_total{route="/ingest",method="POST",code="200"}'


def auth_line(host, i):
    return ("Nov 21 08:%02d:%02d %s sshd[%d]: Failed password for user%d from 10.8.%d.%d "
            "port 22 ssh2 seq=%d\n" % (i // 60 % 60, i % 60, host, 2000 + i % 5000, i,
                                       i // 250 % 256, i % 250 + 1, i))


class AnswerLost:
    """A proxy in front of a hub that hands each POST on and then closes the connection
    without the answer: the hub stored the batch, the agent never hears of it."""

    def __init__(self, target_port):
        self.target = target_port
        self.answers = []  # (status, body) the hub gave, never passed on
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return  # closed
            with c:
                c.settimeout(30)
                f = c.makefile("rb")
                request = f.readline().split()
                headers = {}
                for line in iter(f.readline, b"\r\n"):
                    if not line:
                        break
                    k, _, v = line.decode("latin-1").partition(":")
                    headers[k.strip().lower()] = v.strip()
                body = f.read(int(headers.get("content-length", "0")))
                fwd = {k: headers[k] for k in ("x-api-key", "content-type", "content-encoding")
                       if k in headers}
                conn = http.client.HTTPConnection("127.0.0.1", self.target, timeout=30)
                try:
                    conn.request(request[0].decode(), request[1].decode(), body, fwd)
                    r = conn.getresponse()
                    self.answers.append((r.status, r.read()))
                finally:
                    conn.close()
                    f.close()

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accept() (Linux)
        except OSError:
            pass
        self.sock.close()
        self.thread.join(30)
        assert not self.thread.is_alive(), "the proxy thread did not end"


class AgentFailover(HubCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not os.access(pgserver.pg_tool("initdb"), os.X_OK):
            raise unittest.SkipTest("PostgreSQL 15 is not installed")
        cls.pg = pgserver.PgServer().start()

    @classmethod
    def tearDownClass(cls):
        cls.pg.stop()
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        require_agent()
        self.tmp = tempfile.mkdtemp(prefix="minisiem-failover-e2e-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.url = self.pg.new_database()
        self.hubs = []
        for _ in range(2):
            h = Hub(pg_admin_url=self.pg.admin_url,
                    args=["--listen", "127.0.0.1:%d" % free_port()])
            h._pg_url = self.url
            self.addCleanup(h.close)
            self.hubs.append(h)
        # the shared database is dropped once (cleanups run last first)
        self.addCleanup(setattr, self.hubs[1], "_pg_url", None)
        self.hubs[0].start()  # the first one migrates the new database
        self.hubs[1].start()
        self.proc = None
        self.err_path = os.path.join(self.tmp, "agent.stderr")

    def tearDown(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        super().tearDown()

    def agent_log(self):
        return hub.read_text(self.err_path)

    def wait(self, cond, what):
        try:
            return wait_for(cond, DEADLINE, what, 0.1)
        except AssertionError as e:
            raise AssertionError("%s\n--- agent stderr ---\n%s"
                                 % (e, hub.tail(self.agent_log(), 60)))

    def rows(self):
        """(rows, distinct ids) of the shared store's events."""
        r = pgserver.psql(self.url, "SELECT count(*), count(DISTINCT id) FROM events")
        return int(r[0][0]), int(r[0][1])

    def seqs(self, h, host):
        out = {}
        for e in h.all_events({"source_host": host}):
            m = SEQ_RE.search(e.get("message", ""))
            if m:
                out[int(m.group(1))] = out.get(int(m.group(1)), 0) + 1
        return out

    def test_kill_first_hub_mid_stream_every_line_once_then_failback(self):
        a, b = self.hubs
        url_a = "http://127.0.0.1:%d" % a.port
        url_b = "http://127.0.0.1:%d" % b.port
        host = "failover-e2e"
        log = os.path.join(self.tmp, "auth.log")
        open(log, "w").close()
        argv = [agent_bin(), "--server", url_a + "," + url_b, "--insecure-http",
                "--state-dir", os.path.join(self.tmp, "state"), "--flush-ms", "100",
                "--batch", "50", "--retry-max", "1s", "--poll-ms", "20", "--heartbeat", "1s",
                "--timeout", "5s", "--failback", "2s", "--source", "linux-auth:" + log]
        env = hub.base_env({"SIEM_AGENT_API_KEY": hub.API_KEY})
        with open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=err, env=env,
                                         start_new_session=True)
        total = 3000
        written = [0]
        stop = threading.Event()

        def writer(start, end):
            # lines arrive in small steps, so the kill falls in the middle of the stream
            i = start
            while i < end and not stop.is_set():
                with open(log, "a") as f:
                    for k in range(i, min(end, i + 25)):
                        f.write(auth_line(host, k))
                i = min(end, i + 25)
                written[0] = i
                stop.wait(0.02)

        t = threading.Thread(target=writer, args=(0, total), daemon=True)
        t.start()
        self.addCleanup(stop.set)
        # The first hub has stored part of the stream, more is being written: kill -9.
        self.wait(lambda: self.rows()[0] >= 600, "the first hub to store 600 events")
        self.assertLess(written[0], total, "the stream ended before the kill: nothing to test")
        a.signal(signal.SIGKILL)
        a.kill()
        stored_at_kill = self.rows()[0]
        t.join(DEADLINE)
        self.assertFalse(t.is_alive())
        self.wait(lambda: self.rows()[0] >= total, "every line in the shared store")
        self.assertGreater(self.rows()[0], stored_at_kill)  # through the second hub
        self.assertEqual(self.rows(), (total, total))
        got = self.seqs(b, host)
        self.assertEqual(sorted(got), list(range(total)))
        self.assertEqual({n for n in got.values()}, {1}, "a line stored twice")
        log_text = self.agent_log()
        self.assertIn("the hub %s cannot be reached" % url_a, log_text)
        self.assertIn("the batch goes to %s next" % url_b, log_text)
        self.assertIn("the hub %s answers" % url_b, log_text)
        # idle, it stays with the second hub (the heartbeat says where the next batch goes)
        self.wait(lambda: "hub ok; next batch to %s" % url_b in self.agent_log(),
                  "a heartbeat naming the second hub")
        # The first hub comes back on its port. --failback (2 s) after the agent last left it,
        # the next batch goes to it again: lines are written until it has taken some.
        a.start()
        before = len(self.agent_log())
        stop.clear()
        t = threading.Thread(target=writer, args=(total, 2 * total), daemon=True)
        t.start()
        self.wait(lambda: metric(a, INGEST_OK, 0) > 0, "a batch posted to the first hub")
        stop.set()
        t.join(DEADLINE)
        self.assertFalse(t.is_alive())
        n = written[0]
        self.wait(lambda: self.rows()[0] >= n, "the last lines stored")
        self.assertEqual(self.rows(), (n, n))
        got = self.seqs(a, host)
        self.assertEqual(sorted(got), list(range(n)))
        self.assertEqual({k for k in got.values()}, {1}, "a line stored twice")
        after = self.agent_log()[before:]
        self.assertIn("trying the first hub again: %s" % url_a, after)
        self.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.proc.wait(30), 0, hub.tail(self.agent_log()))
        hub.check_sanitizers(self.agent_log(), "minisiem-agent")

    def test_a_stored_batch_whose_answer_was_lost_is_absorbed_by_the_next_hub(self):
        # The agent posts to the first hub through a proxy that drops every answer: the
        # batch is stored, the agent sees no answer and resends it, byte for byte, to the
        # second hub, which finds every event id already stored.
        a, b = self.hubs
        proxy = AnswerLost(a.port)
        self.addCleanup(proxy.close)
        log = os.path.join(self.tmp, "auth.log")
        with open(log, "w") as f:
            for i in range(100):
                f.write(auth_line("answer-lost-e2e", i))
        env = hub.base_env({"SIEM_AGENT_API_KEY": hub.API_KEY})
        r = subprocess.run([agent_bin(), "--server", "http://127.0.0.1:%d" % proxy.port,
                            "--server", "http://127.0.0.1:%d" % b.port, "--insecure-http",
                            "--once", "--retry-max", "1s", "--timeout", "10s",
                            "--state-dir", os.path.join(self.tmp, "state"),
                            "--source", "linux-auth:" + log], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                           timeout=120)
        hub.check_sanitizers(r.stderr, "minisiem-agent")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([s for s, _ in proxy.answers], [200], proxy.answers)
        self.assertEqual(json.loads(proxy.answers[0][1])["accepted"], 100, proxy.answers)
        self.assertIn("cannot be reached", r.stderr)
        self.assertRegex(r.stderr, r"sent 100 \(duplicates 100\)")
        self.assertEqual(metric(b, 'minisiem_events_duplicates_total{source="http"}'), 100)
        self.assertEqual(self.rows(), (100, 100))


class ServerList(HubCase):
    """The URL list as the flag, the variable and the config file give it, on one hub."""

    def setUp(self):
        super().setUp()
        require_agent()
        self.tmp = tempfile.mkdtemp(prefix="minisiem-servers-e2e-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.log = os.path.join(self.tmp, "auth.log")
        with open(self.log, "w") as f:
            for i in range(20):
                f.write(auth_line("server-list-e2e", i))

    def run_agent(self, *args, env=None, state="state"):
        e = hub.base_env({"SIEM_AGENT_API_KEY": hub.API_KEY})
        e.update(env or {})
        r = subprocess.run([agent_bin(), "--state-dir", os.path.join(self.tmp, state),
                            "--source", "linux-auth:" + self.log, "--retry-max", "1s",
                            "--timeout", "5s", *args], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=e,
                           timeout=120)
        hub.check_sanitizers(r.stderr, "minisiem-agent")
        return r

    def test_usage_errors(self):
        r = self.run_agent("--server", "https://a.example,ftp://b.example")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("'ftp://b.example' is not an http:// or https:// URL", r.stderr)
        # one plain URL among several needs --insecure-http like a single one
        r = self.run_agent("--server", "https://a.example", "--server", "http://b.example")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("refusing an http:// --server", r.stderr)
        r = self.run_agent(env={"SIEM_AGENT_SERVER": " , "})
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("--server URL is required", r.stderr)

    def test_dead_first_hub_in_the_variable_and_the_file(self):
        h = self.own_hub()
        dead = "http://127.0.0.1:%d" % free_port()
        live = "http://127.0.0.1:%d" % h.port
        # the variable: the dead one first, the batch goes on to the live one
        r = self.run_agent("--once", "--insecure-http",
                           env={"SIEM_AGENT_SERVER": "%s, %s" % (dead, live)})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("the hub %s cannot be reached" % dead, r.stderr)
        self.assertIn("the batch goes to %s next" % live, r.stderr)
        self.assertEqual(len(h.all_events({"source_host": "server-list-e2e"})), 20)
        # the config file, another state: the same lines again, the same ids, no new event
        conf = os.path.join(self.tmp, "agent.conf")
        with open(conf, "w") as f:
            f.write("server = %s,%s\ninsecure-http = true\n" % (dead, live))
        r = self.run_agent("--once", "--config", conf, state="state2")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("the batch goes to %s next" % live, r.stderr)
        self.assertRegex(r.stderr, r"sent 20 \(duplicates 20\)")
        self.assertEqual(len(h.all_events({"source_host": "server-list-e2e"})), 20)


if __name__ == "__main__":
    unittest.main()
