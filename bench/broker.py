#!/usr/bin/env python3
"""broker.py — the broker-mode rows of BENCHMARKS.md ("Broker mode"), run by bench/broker.sh.

A private RabbitMQ (tests/e2e/mqserver.py) and a private PostgreSQL 15 (tests/e2e/pgserver.py)
on loopback, imported from the tests, never copied; hub nodes started here with roles:

    in   --roles ingest          POST /ingest: publishes each batch, 200 after the confirm
    det  --roles detect,api      the detector; GET /events, /alerts/stream
    st1  --roles store           (and st2 for the second row)

Rows, each preceded by a wait for a 1-minute load average under --quiet-load:
    (B1), (B2)  batched ingest (loadgen: 1000 events/request, 4 connections, --events, at most
                --seconds) into a fresh vhost and database with 1, then 2 store nodes: the
                acknowledged rate, the rate at which the events are committed (until the store
                nodes have committed every batch the ingest node published), and the CPU time
                of every process the bench started per 1,000 events (/proc/PID/stat)
    (L1)        POST /ingest of one event to queryable: GET /events?request_id= on the api
                node finds it (polled every --poll-ms), p50/p99 over --samples
    (L2)        a brute-force burst (five LOGIN_FAIL events from a new address in one request)
                to its alert on the api node's /alerts/stream, p50/p99
Then a projection of events/s per added node from the measured CPU costs, printed apart.
Prints Markdown (also OUT/broker.md) and writes raw JSON lines to OUT/broker.jsonl."""

import argparse
import http.client
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))
import mqserver  # noqa: E402  (the tests' private broker)
import pgserver  # noqa: E402  (the tests' private PostgreSQL)

KEY = "benchkey-0123456789abcdef"
PASSWORD = "benchpass-4e1f"
JWT_SECRET = "benchsecret-0123456789abcdef0123456789abcdef"
TCK = os.sysconf("SC_CLK_TCK")
BRUTE_FORCE_RULE = "22b465fd-75c8-42f1-9395-8d61d9daf41a"  # rules/bruteforce.yml


def deploy_settings(path):
    """PostgreSQL's settings as docs/postgres.md installs them (deploy/postgresql.conf), over
    the tests' server's own (pgserver.SETTINGS: port, logging); durability stays on."""
    out = {}
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if "=" in line:
                k, v = (x.strip() for x in line.split("=", 1))
                out[k] = v.strip("'")
    return out


def say(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def wait_quiet(limit, max_wait):
    """Wait up to max_wait seconds for a 1-minute load average under limit. -> the last one."""
    end = time.monotonic() + max_wait
    la = loadavg()
    if la >= limit:
        say("waiting up to %d s for a load average under %.2f (now %.2f)" % (max_wait, limit, la))
    while la >= limit and time.monotonic() < end:
        time.sleep(5)
        la = loadavg()
    return la


def jiffies(pid, children=False):
    """utime + stime of pid (and cutime + cstime: children it reaped), in clock ticks."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            v = f.read().rpartition(")")[2].split()
    except OSError:
        return 0
    t = int(v[11]) + int(v[12])
    if children:
        t += int(v[13]) + int(v[14])
    return t


def pg_jiffies(postmaster):
    """The postmaster's time with its reaped children's, plus its live children's."""
    t = jiffies(postmaster, children=True)
    for p in mqserver._children(postmaster):
        t += jiffies(p)
    return t


def q(values, frac):
    """The frac-quantile of values (nearest rank)."""
    v = sorted(values)
    return v[min(len(v) - 1, max(0, int(frac * len(v) + 0.999999) - 1))]


class Node:
    """One `minisiem serve` of the cluster, stopped by its PID."""

    def __init__(self, name, roles, hub, tmp, pg_url, mq, vhost, env):
        self.name, self.roles = name, roles
        self.dir = os.path.join(tmp, name)
        os.makedirs(self.dir, exist_ok=True)
        self.argv = [hub, "serve", "--listen", "127.0.0.1:0", "--db",
                     os.path.join(self.dir, "minisiem"), "--postgres", pg_url,
                     "--amqp", mq.url(vhost), "--roles", roles]
        self.out = os.path.join(self.dir, "out")
        self.err = os.path.join(self.dir, "err")
        e = {k: v for k, v in os.environ.items() if not k.startswith(("SIEM_", "PG"))}
        e.update(env)
        e["SIEM_AMQP_PASSWORD"] = mq.password
        with open(self.out, "wb") as o, open(self.err, "wb") as er:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=o, stderr=er,
                                         env=e, cwd=self.dir, start_new_session=True)
        self.pid = self.proc.pid
        self.port = None
        end = time.monotonic() + 60
        while self.port is None:
            for path in (self.out, self.err):
                with open(path, errors="replace") as f:
                    for line in f:
                        if "minisiem: listening on http://127.0.0.1:" in line:
                            self.port = int(line.split("127.0.0.1:")[1].split("/")[0])
            if self.port is None:
                if self.proc.poll() is not None or time.monotonic() > end:
                    self.stop()
                    raise RuntimeError("node %s did not start:\n%s" % (name, self.tail()))
                time.sleep(0.05)
        self.conn = None

    def tail(self):
        with open(self.err, errors="replace") as f:
            return "".join(f.readlines()[-20:])

    def request(self, method, path, body=None, headers=None):
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            try:
                self.conn.request(method, path, body=body, headers=headers or {})
                r = self.conn.getresponse()
                return r.status, r.read()
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise

    def metric(self, name):
        st, body = self.request("GET", "/metrics")
        total = 0.0
        for line in body.decode().splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                say("node %s did not stop on SIGTERM in 30 s; killing it" % self.name)
                self.proc.kill()
                self.proc.wait()
        if self.conn:
            self.conn.close()


class Cluster:
    """A vhost and a database of their own, and the nodes on them."""

    def __init__(self, args, mq, pg, tmp, n, env):
        self.vhost = mq.add_vhost("bench%d" % n)
        self.db = pg.new_database(prefix="bench")
        self.args, self.mq, self.pg, self.env = args, mq, pg, env
        self.tmp = os.path.join(tmp, "c%d" % n)
        self.nodes = {}

    def start(self, name, roles):
        self.nodes[name] = Node(name, roles, self.args.hub, self.tmp, self.db, self.mq,
                                self.vhost, self.env)
        say("node %s (%s) pid %d on port %d" % (name, roles, self.nodes[name].pid,
                                               self.nodes[name].port))
        return self.nodes[name]

    def stores(self):
        return [n for n in self.nodes.values() if n.roles == "store"]

    def stop(self):
        for n in self.nodes.values():
            n.stop()


def cpu_snapshot(cluster, mq, pg):
    s = {n.name: jiffies(n.pid) for n in cluster.nodes.values()}
    s["beam.smp"] = jiffies(mq.beam_pid())
    s["postgres"] = pg_jiffies(pg.postmaster_pid())
    return s


def ingest_row(args, mq, pg, tmp, n, stores, env, out):
    c = Cluster(args, mq, pg, tmp, n, env)
    try:
        det = c.start("det", "detect,api")
        for i in range(stores):
            c.start("st%d" % (i + 1), "store")
        ing = c.start("in", "ingest")
        # the first detect node binds the detect queue; wait until it has
        wait(lambda: det.metric("minisiem_amqp_connects_total") >= 1, 60, "det connected")
        cmd = [args.loadgen, "--url", "http://127.0.0.1:%d" % ing.port, "--key", KEY,
               "--conns", "4", "--batch", "1000", "--events", str(args.events),
               "--seconds", str(args.seconds)]
        s0, t0 = cpu_snapshot(c, mq, pg), time.monotonic()
        r = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
        t_acked = time.monotonic()
        lg = json.loads(r.stdout.strip().splitlines()[-1])
        published = ing.metric("minisiem_amqp_published_total")
        t_stored = t_detected = None
        end = time.monotonic() + args.drain_seconds
        while (t_stored is None or t_detected is None) and time.monotonic() < end:
            now = time.monotonic()
            if t_stored is None and \
                    sum(s.metric("minisiem_amqp_consumed_total") for s in c.stores()) >= published:
                t_stored = now
            if t_detected is None and det.metric("minisiem_amqp_detected_total") >= published:
                t_detected = now
            time.sleep(0.05)
        s1 = cpu_snapshot(c, mq, pg)
        stored = int(pgserver.psql(c.db, "SELECT count(*) FROM events")[0][0])
        events = lg["events"]
        cpu = {k: (s1[k] - s0[k]) / TCK for k in s0}
        cpu["loadgen"] = lg["client_cpu_s"]
        cpu["store nodes"] = sum(cpu[s.name] for s in c.stores())
        res = {"row": "B%d" % stores, "store_nodes": stores, "cmd": " ".join(cmd), "port": ing.port,
               "loadgen": lg, "published_batches": published, "stored": stored,
               "acked_per_s": lg["events_per_s"],
               "stored_s": (t_stored - t0) if t_stored else None,
               "detected_s": (t_detected - t0) if t_detected else None,
               "acked_s": t_acked - t0, "cpu_s": cpu,
               "cpu_ms_per_1000": {k: 1e6 * v / events if events else None
                                   for k, v in cpu.items()}}
        res["stored_per_s"] = events / res["stored_s"] if t_stored else None
        res["detected_per_s"] = events / res["detected_s"] if t_detected else None
        out.append(res)
        return res
    finally:
        c.stop()


def wait(cond, seconds, what):
    end = time.monotonic() + seconds
    while not cond():
        if time.monotonic() > end:
            raise RuntimeError("timed out waiting for " + what)
        time.sleep(0.05)


def now_iso():
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%06dZ" % int((t % 1) * 1e6)


class Stream:
    """GET /alerts/stream, read on a thread: (arrival time, alert) into a queue."""

    def __init__(self, node, token):
        self.conn = http.client.HTTPConnection("127.0.0.1", node.port, timeout=120)
        self.conn.request("GET", "/alerts/stream", headers={
            "Authorization": "Bearer " + token, "Accept": "text/event-stream"})
        self.resp = self.conn.getresponse()
        if self.resp.status != 200:
            raise RuntimeError("GET /alerts/stream: %d" % self.resp.status)
        self.q = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        ev, data = None, None
        try:
            while True:
                line = self.resp.readline()
                if not line:
                    break
                line = line.decode().rstrip("\r\n")
                if line.startswith("event:"):
                    ev = line[6:].strip()
                elif line.startswith("data:"):
                    data = line[5:].strip()
                elif line == "":
                    if ev == "alert" and data:
                        self.q.put((time.monotonic(), json.loads(data)))
                    ev, data = None, None
        except (OSError, ValueError, AttributeError, http.client.HTTPException):
            pass  # closed (AttributeError: http.client's reader once the socket is gone)

    def close(self):
        self.conn.close()


def latency_rows(args, mq, pg, tmp, n, env, out):
    c = Cluster(args, mq, pg, tmp, n, env)
    try:
        det = c.start("det", "detect,api")
        for i in range(2):
            c.start("st%d" % (i + 1), "store")
        ing = c.start("in", "ingest")
        wait(lambda: det.metric("minisiem_amqp_connects_total") >= 1, 60, "det connected")
        st, body = det.request("POST", "/auth/login", json.dumps({"password": PASSWORD}),
                               {"Content-Type": "application/json"})
        if st != 200:
            raise RuntimeError("POST /auth/login: %d %s" % (st, body[:200]))
        token = json.loads(body)["access_token"]
        auth = {"Authorization": "Bearer " + token}
        post_h = {"X-API-Key": KEY, "Content-Type": "application/json"}
        la = wait_quiet(args.quiet_load, args.quiet_wait)

        # (L1) to queryable
        acks, found = [], []
        for i in range(args.samples + 2):
            rid = "bench-" + uuid.uuid4().hex
            ev = {"event_id": str(uuid.uuid4()), "timestamp": now_iso(), "source_host": "bench1",
                  "os_type": "APP", "app": "bench", "event_type": "http_request",
                  "severity": 1, "level": "INFO", "message": "GET /probe 200",
                  "request_id": rid}
            t0 = time.monotonic()
            st, body = ing.request("POST", "/ingest", json.dumps([ev]), post_h)
            t_ack = time.monotonic()
            if st != 200:
                raise RuntimeError("POST /ingest: %d %s" % (st, body[:200]))
            path = "/events?request_id=%s&limit=1" % rid
            while True:
                st, body = det.request("GET", path, headers=auth)
                if st == 200 and json.loads(body)["events"]:
                    break
                if time.monotonic() - t0 > 60:
                    raise RuntimeError("event %s not queryable in 60 s" % rid)
                time.sleep(args.poll_ms / 1000)
            if i >= 2:  # two warm-up probes
                acks.append(1000 * (t_ack - t0))
                found.append(1000 * (time.monotonic() - t0))
        out.append({"row": "L1", "samples": len(found), "load_before": la,
                    "ack_ms": acks, "queryable_ms": found})

        # (L2) to alert
        la2 = wait_quiet(args.quiet_load, args.quiet_wait)
        stream = Stream(det, token)
        alerts = []
        try:
            for i in range(args.alert_samples + 1):
                ip = "203.0.%d.%d" % (113 + i // 250, 1 + i % 250)  # a new group each time
                evs = [{"event_id": str(uuid.uuid4()), "timestamp": now_iso(),
                        "source_host": "bench1", "os_type": "LINUX", "event_type": "LOGIN_FAIL",
                        "severity": 3, "user": "root", "source_ip": ip,
                        "message": "Failed password for root from %s port 22 ssh2" % ip}
                       for _ in range(5)]
                t0 = time.monotonic()
                st, body = ing.request("POST", "/ingest", json.dumps(evs), post_h)
                if st != 200:
                    raise RuntimeError("POST /ingest: %d %s" % (st, body[:200]))
                while True:
                    try:
                        t, a = stream.q.get(timeout=max(0.1, t0 + 60 - time.monotonic()))
                    except queue.Empty:
                        raise RuntimeError("no brute-force alert for %s in 60 s" % ip)
                    if a.get("rule_id") == BRUTE_FORCE_RULE and \
                            a.get("group_key") == "source_ip=" + ip:
                        break
                if i >= 1:  # one warm-up burst
                    alerts.append(1000 * (t - t0))
        finally:
            stream.close()
        out.append({"row": "L2", "samples": len(alerts), "load_before": la2, "alert_ms": alerts})
        return la, la2
    finally:
        c.stop()


def fmt(x, nd=0):
    return "—" if x is None else "{:,.{}f}".format(x, nd)


def report(args, rows, loads, mq_version, pg_version, commit):
    b = [r for r in rows if r["row"].startswith("B")]
    lines = ["# minisiem broker-mode bench %s%s" % (time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                  time.gmtime()),
                                                    " (quick)" if args.quick else ""), ""]
    with open("/proc/cpuinfo") as f:
        model = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "?")
    lines.append("machine: %d cores, %s, kernel %s; RabbitMQ %s, PostgreSQL %s (tests/e2e's "
                 "private servers; PostgreSQL with the settings of %s, durability on), all on "
                 "loopback" % (os.cpu_count(), model, os.uname().release, mq_version, pg_version,
                               args.pg_conf))
    lines.append("hub: %s; nodes: in (ingest), det (detect,api), st1[, st2] (store), each "
                 "`minisiem serve --postgres URL --amqp URL --roles R`" % commit)
    lines.append("load average (1 min) before each row: %s (wanted < %.2f: %s)"
                 % (", ".join("%s %.2f" % kv for kv in loads), args.quiet_load,
                    "quiet" if all(v < args.quiet_load for _, v in loads) else "NOT QUIET"))
    lines += ["", "Measured:", "",
              "| row | acknowledged (loadgen) | committed to PostgreSQL | detector done | "
              "CPU ms per 1,000 events | command |", "|---|---|---|---|---|---|"]
    for r in b:
        lg = r["loadgen"]
        cpu = ", ".join("%s %s" % (k, fmt(v, 1)) for k, v in r["cpu_ms_per_1000"].items())
        lines.append("| (B%d) ingest, %d store node%s, %s events | %s events/s (p50 %s ms, p99 %s "
                     "ms; errors %d, 503s %d) | %s events/s (%s of %s stored, in %s s) | "
                     "%s events/s | %s | `%s` |"
                     % (r["store_nodes"], r["store_nodes"], "s" if r["store_nodes"] > 1 else "",
                        fmt(lg["events"]), fmt(lg["events_per_s"]), fmt(lg["p50_ms"], 1),
                        fmt(lg["p99_ms"], 1), lg["errors"], lg["retries_503"],
                        fmt(r["stored_per_s"]), fmt(r["stored"]), fmt(lg["events"]),
                        fmt(r["stored_s"], 1), fmt(r["detected_per_s"]), cpu,
                        r["cmd"].replace(args.loadgen, "loadgen")
                        .replace("127.0.0.1:%d" % r["port"], "127.0.0.1:PORT")))
    for r in rows:
        if r["row"] == "L1":
            lines.append("| (L1) `POST /ingest` (1 event) → `GET /events` finds it, idle cluster "
                         "with 2 store nodes | ack p50 %s ms, p99 %s ms | **p50 %s ms, p99 %s ms** "
                         "(%d probes, polled every %d ms) | — | — | bench/broker.py |"
                         % (fmt(q(r["ack_ms"], .5), 1), fmt(q(r["ack_ms"], .99), 1),
                            fmt(q(r["queryable_ms"], .5), 1), fmt(q(r["queryable_ms"], .99), 1),
                            r["samples"], args.poll_ms))
        if r["row"] == "L2":
            lines.append("| (L2) brute force (5 `LOGIN_FAIL` in one request) → alert on "
                         "`/alerts/stream` | — | — | **p50 %s ms, p99 %s ms** (%d bursts) | — | "
                         "bench/broker.py |" % (fmt(q(r["alert_ms"], .5), 1),
                                                fmt(q(r["alert_ms"], .99), 1), r["samples"]))
    # projection: what one core of each component would carry, from its measured CPU cost
    if b:
        r = b[-1]
        per = r["cpu_ms_per_1000"]
        lines += ["", "Projected (not measured): events/s that one core of each component "
                  "would carry at the CPU cost per 1,000 events measured in (B%d), if it had "
                  "whole cores of its own and nothing else limited it:" % r["store_nodes"], ""]
        for k, what in (("in", "an ingest node"), ("store nodes", "store nodes (together)"),
                        ("det", "the detector (one active: does not scale by adding nodes)"),
                        ("beam.smp", "RabbitMQ"), ("postgres", "PostgreSQL (one server)")):
            if per.get(k):
                lines.append("- %s: %s ms per 1,000 events → %s events/s per core"
                             % (what, fmt(per[k], 1), fmt(1e6 / per[k])))
        if len(b) >= 2 and b[0]["stored_per_s"] and b[1]["stored_per_s"]:
            lines.append("- measured, not projected: committed events/s with 2 store nodes / "
                         "with 1, on the same 2 cores: %.2f"
                         % (b[1]["stored_per_s"] / b[0]["stored_per_s"]))
    text = "\n".join(lines) + "\n"
    print(text)
    with open(os.path.join(args.out, "broker.md"), "w") as f:
        f.write(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hub", required=True)
    ap.add_argument("--loadgen", required=True)
    ap.add_argument("--out", default="build/bench")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--events", type=int)
    ap.add_argument("--seconds", type=int, default=300)
    ap.add_argument("--drain-seconds", type=int, default=600)
    ap.add_argument("--samples", type=int)
    ap.add_argument("--alert-samples", type=int)
    ap.add_argument("--poll-ms", type=int, default=5)
    ap.add_argument("--quiet-load", type=float, default=0.3)
    ap.add_argument("--quiet-wait", type=int, default=300)
    ap.add_argument("--commit", default="?")
    ap.add_argument("--pg-conf", default="deploy/postgresql.conf")
    args = ap.parse_args()
    args.hub, args.loadgen = os.path.abspath(args.hub), os.path.abspath(args.loadgen)
    args.events = args.events or (20000 if args.quick else 300000)
    args.samples = args.samples or (20 if args.quick else 200)
    args.alert_samples = args.alert_samples or (10 if args.quick else 100)
    os.makedirs(args.out, exist_ok=True)
    for tool in ("rabbitmq-server",):
        if not os.access(os.path.join(mqserver.RABBIT_BIN, tool), os.X_OK):
            sys.exit("bench: no RabbitMQ at %s (make deps installs it)" % mqserver.RABBIT_BIN)
    if not os.access(pgserver.pg_tool("initdb"), os.X_OK):
        sys.exit("bench: no PostgreSQL 15 (make deps installs it)")
    r = subprocess.run([args.hub, "hash-password"], input=PASSWORD + "\n", text=True,
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=60)
    pwhash = [ln for ln in r.stdout.splitlines() if ln.startswith("$")][-1]
    env = {"SIEM_API_KEYS": "bench:" + KEY, "SIEM_JWT_SECRET": JWT_SECRET,
           "SIEM_ADMIN_PASSWORD_HASH": pwhash}
    tmp = tempfile.mkdtemp(prefix="minisiem-bench-broker-",
                           dir=os.environ.get("BENCH_TMPDIR") or os.environ.get("TMPDIR"))
    os.chmod(tmp, 0o755)
    mq = pg = None
    rows, loads = [], []
    try:
        say("starting a private RabbitMQ and PostgreSQL")
        mq = mqserver.MqServer().start()
        pgserver.SETTINGS.update(deploy_settings(args.pg_conf))
        pg = pgserver.PgServer().start()
        mq_version = mq.ctl("eval", "rabbit_misc:version().").strip().strip('"')
        pg_version = pg.psql("SHOW server_version")[0][0]
        say("RabbitMQ %s (beam pid %s), PostgreSQL %s (pid %s)"
            % (mq_version, mq.beam_pid(), pg_version, pg.postmaster_pid()))
        n = 0
        for stores in (1, 2):
            n += 1
            la = wait_quiet(args.quiet_load, args.quiet_wait)
            loads.append(("B%d" % stores, la))
            say("(B%d): load %.2f; %d events, %d store node(s)" % (stores, la, args.events,
                                                                   stores))
            res = ingest_row(args, mq, pg, tmp, n, stores, env, rows)
            say("(B%d): %s" % (stores, json.dumps({k: res[k] for k in (
                "acked_per_s", "stored_per_s", "detected_per_s", "stored")})))
        n += 1
        la1, la2 = latency_rows(args, mq, pg, tmp, n, env, rows)
        loads += [("L1", la1), ("L2", la2)]
    finally:
        with open(os.path.join(args.out, "broker.jsonl"), "w") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
        if rows:
            report(args, rows, loads, mq_version, pg_version, args.commit)
        if mq:
            mq.stop()
        if pg:
            pg.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
