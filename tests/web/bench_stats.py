#!/usr/bin/env python3
"""bench_stats.py — how fast the dashboard's endpoints answer over a full day: start the hub,
store N events (default 10M) spread evenly over the last 24 hours (the realistic mix of
bench/gen.c, via `loadgen --sample`, re-stamped), wait for the segments' indices, then time
each /stats endpoint over 24 h. Not part of `make check` (it takes minutes and ~10 GB).

    python3 tests/web/bench_stats.py --hub build/rel/minisiem [--events 10M] [--dir DIR]

Prints a Markdown table (p50, p95, max of 30 requests after 5 warm-ups) with the rollups,
and for comparison the same questions answered by scanning the events (a filter the rollups
do not keep are answered that way; rollups=0 asks for it)."""

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
KEY = "bench-stats-key-0123456789"
SECRET = "bench-stats-jwt-secret-0123456789abcdef0123456789"
DAY_US = 86400 * 1000000


def count(s):
    m = re.fullmatch(r"(\d+)([kKmM]?)", s)
    if not m:
        raise argparse.ArgumentTypeError("a count such as 200k or 10M")
    return int(m.group(1)) * {"": 1, "k": 1000, "m": 1000000}[m.group(2).lower()]


def loadgen():
    exe = os.path.join(ROOT, "build", "bench", "loadgen")
    if not os.access(exe, os.X_OK):
        os.makedirs(os.path.dirname(exe), exist_ok=True)
        subprocess.run(["cc", "-O2", "-o", exe, os.path.join(ROOT, "bench", "loadgen.c"),
                        os.path.join(ROOT, "bench", "gen.c"), "-lm"], check=True)
    return exe


def templates(n):
    """Sample events as (prefix, middle, suffix) around event_id and timestamp values."""
    out = subprocess.run([loadgen(), "--sample", str(n)], check=True, capture_output=True,
                         text=True).stdout.splitlines()
    tpl = []
    for line in out:
        a = re.sub(r'"event_id":"[^"]*"', '"event_id":"\x00"', line)
        a = re.sub(r'"timestamp":"[^"]*"', '"timestamp":"\x01"', a)
        i, j = a.index("\x00"), a.index("\x01")
        assert i < j, a
        tpl.append((a[:i], a[i + 1:j], a[j + 1:]))
    return tpl


def iso(us):
    s, f = divmod(us, 1000000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(s)) + ".%06dZ" % f


class Hub:
    def __init__(self, binary, tmp):
        self.tmp = tmp
        env = {k: v for k, v in os.environ.items() if not k.startswith("SIEM_")}
        env.update({"SIEM_API_KEYS": "bench:" + KEY, "SIEM_JWT_SECRET": SECRET})
        self.out = open(os.path.join(tmp, "hub.out"), "w+")
        self.err = open(os.path.join(tmp, "hub.err"), "w+")
        self.proc = subprocess.Popen([binary, "serve", "--listen", "127.0.0.1:0", "--db",
                                      os.path.join(tmp, "store.db"), "--retention-days", "0"],
                                     stdout=self.out, stderr=self.err, env=env, cwd=tmp)
        for _ in range(600):
            self.out.seek(0)
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)/", self.out.read())
            if m:
                self.port = int(m.group(1))
                break
            if self.proc.poll() is not None:
                sys.exit("hub exited:\n" + open(self.err.name).read()[-2000:])
            time.sleep(0.05)
        else:
            sys.exit("hub did not start")
        self.out.seek(0)
        pw = re.search(r"admin password: (\S+)", self.out.read()).group(1)
        st, body = self.call("POST", "/auth/login", json.dumps({"password": pw}).encode(),
                             {"Content-Type": "application/json"})
        self.token = json.loads(body)["access_token"]

    def call(self, method, path, body=None, headers=None, conn=None):
        c = conn or http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        if conn is None:
            c.close()
        return r.status, data

    def get(self, path, params, conn=None):
        q = path + "?" + urllib.parse.urlencode(params)
        return self.call("GET", q, headers={"Authorization": "Bearer " + self.token}, conn=conn)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(120)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def ingest(hub, tpl, n, now_us, threads=2, batch=5000):
    lock = threading.Lock()
    state = {"next": 0, "err": None}
    step = DAY_US / n

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", hub.port, timeout=600)
        while True:
            with lock:
                lo = state["next"]
                if lo >= n or state["err"]:
                    break
                state["next"] = min(n, lo + batch)
            hi = min(n, lo + batch)
            parts = []
            sec, prefix = -1, ""
            for i in range(lo, hi):
                p, m, s = tpl[i % len(tpl)]
                us = now_us - DAY_US + int(i * step) + 1
                if us // 1000000 != sec:  # format the date once per second
                    sec = us // 1000000
                    prefix = time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(sec))
                parts.append("%s%08x-0000-4000-8000-%012x%s%s%06dZ%s" % (
                    p, (i * 2654435761) & 0xFFFFFFFF, i & 0xFFFFFFFFFFFF, m, prefix, us % 1000000, s))
            body = ("\n".join(parts) + "\n").encode()
            for _ in range(100):
                st, data = hub.call("POST", "/ingest", body, {
                    "Content-Type": "application/x-ndjson", "X-API-Key": KEY}, conn)
                if st != 503:
                    break
                time.sleep(0.05)
            if st != 200:
                state["err"] = "%s %s" % (st, data[:200])
        conn.close()

    ts = [threading.Thread(target=worker) for _ in range(threads)]
    t0 = time.monotonic()
    for t in ts:
        t.start()
    last = 0
    while any(t.is_alive() for t in ts):
        time.sleep(5)
        done = state["next"]
        if done - last >= 1000000 or done >= n:
            print("  %d events sent, %.0f events/s" % (done, done / (time.monotonic() - t0)),
                  file=sys.stderr)
            last = done
    for t in ts:
        t.join()
    if state["err"]:
        sys.exit("ingest failed: " + state["err"])
    return time.monotonic() - t0


def wait_indexed(hub, timeout=3600):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        st, body = hub.call("GET", "/metrics")
        m = re.search(r"^minisiem_store_segments_unindexed\S*\s+(\d+)", body.decode(), re.M)
        if m is None or int(m.group(1)) == 0:
            return
        time.sleep(2)


def timed(hub, path, params, reps=30, warm=5):
    conn = http.client.HTTPConnection("127.0.0.1", hub.port, timeout=600)
    ms = []
    body = None
    for i in range(warm + reps):
        t0 = time.perf_counter()
        st, body = hub.get(path, params, conn)
        dt = (time.perf_counter() - t0) * 1000
        if st != 200:
            sys.exit("%s %r: %s %s" % (path, params, st, body[:300]))
        if i >= warm:
            ms.append(dt)
    conn.close()
    ms.sort()
    return ms[len(ms) // 2], ms[min(len(ms) - 1, int(len(ms) * 0.95))], ms[-1], json.loads(body)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hub", default=os.path.join(ROOT, "build", "rel", "minisiem"))
    ap.add_argument("--events", type=count, default=10000000)
    ap.add_argument("--dir", help="store directory (default: a temporary one, removed after)")
    ap.add_argument("--reps", type=int, default=30)
    a = ap.parse_args()
    tmp = a.dir or tempfile.mkdtemp(prefix="minisiem-bench-stats-")
    os.makedirs(tmp, exist_ok=True)
    hub = Hub(os.path.abspath(a.hub), tmp)
    try:
        tpl = templates(20000)
        now_us = int(time.time() * 1000000)
        print("ingesting %d events over the last 24 h..." % a.events, file=sys.stderr)
        took = ingest(hub, tpl, a.events, now_us)
        print("  %.0f s (%.0f events/s)" % (took, a.events / took), file=sys.stderr)
        wait_indexed(hub)
        st, ready = hub.call("GET", "/ready")
        ready = json.loads(ready)
        scan = {"rollups": "0"}
        day = {"from": iso(now_us - DAY_US + 1), "to": iso(now_us)}
        rows = [
            ("/stats/summary", {}),
            ("/stats/timeseries", {"interval": "1m", "by": "os_type"}),
            ("/stats/timeseries", {"interval": "1m", "by": "event_type"}),
            ("/stats/top", {"field": "source_ip", "n": 10, "event_type": "LOGIN_FAIL"}),
            ("/stats/top", {"field": "domain", "n": 10, "event_type": "DNS_BLOCK"}),
            ("/stats/top", {"field": "source_ip", "n": 10}),
            ("/stats/top", {"field": "user", "n": 10}),
        ]
        print("\n%d events stored (%d segments), the range: the last 24 h\n"
              % (ready["events_stored"], ready["segments"]))
        print("| request | rollups p50 / p95 / max (ms) | scan p50 (ms) | answer |")
        print("|---|---|---|---|")
        for path, params in rows:
            p = dict(day, **params)
            p50, p95, mx, body = timed(hub, path, p, a.reps)
            s50 = "—"
            if path != "/stats/summary":
                s50, _, _, sbody = timed(hub, path, dict(p, **scan), reps=3, warm=1)
                same = (sbody.get("series"), sbody.get("values")) == (body.get("series"), body.get("values"))
                s50 = "%.0f%s" % (s50, "" if same else " (differs!)")
            what = ("%d events" % body["events"] if "events" in body else
                    "%d buckets of %s" % (len(body["buckets"]), body["interval"]) if "buckets" in body
                    else "%d of %d values" % (len(body["values"]), body["distinct"]))
            q = urllib.parse.urlencode(params)
            print("| `%s%s` | %.1f / %.1f / %.1f | %s | %s%s |" % (
                path, "?" + q if q else "", p50, p95, mx, s50, what,
                "" if body.get("rollups") else " (no rollups)"))
        du = subprocess.run(["du", "-sh", tmp], capture_output=True, text=True).stdout.split()[0]
        print("\nstore on disk: %s" % du)
    finally:
        hub.stop()
        if not a.dir:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
