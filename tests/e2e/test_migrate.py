"""test_migrate.py — `minisiem migrate --from DB --to URL`: a hub on the embedded store gets
events (unicode, NUL characters, capped and odd fields, old and missing timestamps; several
segments), users, API keys (one revoked), a brute-force alert (acknowledged), a rule, a
dashboard, dead letters and file offsets from a tailed file; it stops, its store is copied
into a new PostgreSQL database by a run that is killed part way and a second run that
finishes and checks the copy; then a hub on that database shows the same events, alerts,
keys, dashboards, rules and dead letters over the API, logs its users in, takes events with
the old key, and carries on tailing where the first hub stopped.

PostgreSQL text cannot hold NUL: the PostgreSQL writer stores U+FFFD instead, so a NUL in a
text field is compared as U+FFFD. In `data` (JSON text) a NUL is the escape "\\u0000", which
PostgreSQL keeps: data must come back exactly."""

import glob
import json
import os
import random
import re
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

import pgserver
from hub import (API_KEY, BIN, HubCase, base_env, cli, cli_cwd, event_uuid, sqlite_only,
                 wait_for)

BF_RULE_ID = "22b465fd-75c8-42f1-9395-8d61d9daf41a"  # rules/bruteforce.yml
RULE_ID = "0e2e0000-0000-4000-8000-000000000c01"
RULE_YAML = """title: E2E migrated rule
id: %s
author: E2E migrate
level: medium
logsource:
    product: minisiem
detection:
    selection:
        event_type: E2E_MIGRATED
    condition: selection
""" % RULE_ID
RULES_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "rules")
MM = os.path.join(os.environ.get("SIEM_TEST_DATA") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "data"),
    "maxmind", "test-data")
N_EVENTS = 3000
TAIL_TS = "2024-03-15T12:00:00Z"


def iso(us):
    t = time.gmtime(us // 1000000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", t) + ".%06dZ" % (us % 1000000)


def key_id(stderr):
    """The id `minisiem keys create` reports."""
    return int(re.search(r"key (\d+) '", stderr).group(1))


def as_pg(value, top=True):
    """An event (or part of one) as PostgreSQL keeps it: NUL in a text field becomes U+FFFD;
    data (JSON text on both sides) stays as it is."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, list):
        return [as_pg(v, False) for v in value]
    if isinstance(value, dict):
        return {k: (v if top and k == "data" else as_pg(v, False)) for k, v in value.items()}
    return value


def stable_keys(body):
    """GET /keys without what a hub counts in memory since it started (events per key)."""
    volatile = ("events", "last_event", "events_uncounted")
    out = {k: v for k, v in body.items() if k not in volatile}
    for k, v in out.items():
        if isinstance(v, list):
            out[k] = [{f: x for f, x in item.items() if f not in volatile}
                      if isinstance(item, dict) else item for item in v]
    return out


def odd_events(now_us):
    """Events that try the copy: every kind of field, NUL, unicode, caps, old times."""
    return [
        {"event_id": event_uuid("mig-odd", 0), "timestamp": iso(now_us - 1000),
         "message": "NUL \u0000 inside \u0000\u0000", "user": "nul\u0000user",
         "source_host": "host-\u0000", "data": {"k": "v\u0000w", "n": [1, 2.5, None]}},
        {"event_id": event_uuid("mig-odd", 1), "timestamp": iso(now_us - 2000),
         "message": "Z\u00fcrich \u2713 \u65e5\u672c\u8a9e \U0001f389 \u202e rtl",
         "app": "caf\u00e9", "event_type": "\u00e9v\u00e9nement", "user": "\u00f8le",
         "data": {"emoji": "\U0001f389", "ctl": "\u0001\u001f\t\n\\"}},
        {"event_id": event_uuid("mig-odd", 2), "timestamp": iso(now_us - 3000),
         "message": "x" * 9000, "raw_message": "r\u0000" * 100, "level": "CRITICAL",
         "severity": 5, "os_type": "WINDOWS"},
        {"event_id": event_uuid("mig-odd", 3), "timestamp": iso(now_us - 4000),
         "message": "http", "source_ip": "2001:db8::1", "http_method": "POST",
         "http_path": "/a\u0000b?q=\u00e9",
         "http_status": 503, "latency_ms": 12.345678901234567, "request_id": "req-\u00e9",
         "user_agent": "curl/8 \u00e9", "error_type": "Timeout", "app": "shop"},
        {"event_id": event_uuid("mig-odd", 4), "timestamp": "2001-09-09T01:46:40Z",
         "message": "very old (the default partition)", "source_ip": "192.0.2.1"},
        {"event_id": event_uuid("mig-odd", 5), "message": "no timestamp: received time",
         "data": {}},
        {"event_id": event_uuid("mig-odd", 6), "timestamp": iso(now_us - 86400 * 10 ** 6 * 3),
         "message": "three days ago", "latency_ms": 0.1, "http_status": 200},
        # enriched by the source hub: geo (location, AS) and an intel tag
        {"event_id": event_uuid("mig-odd", 7), "timestamp": iso(now_us - 5000),
         "message": "from Link\u00f6ping", "source_ip": "89.160.20.112",
         "event_type": "LOGIN_FAIL"},
    ]


@sqlite_only
class Migrate(HubCase):
    @classmethod
    def setUpClass(cls):
        if not os.access(pgserver.pg_tool("initdb"), os.X_OK):
            raise unittest.SkipTest("PostgreSQL 15 is not installed")
        cls.pg = pgserver.PgServer().start()
        cls.addClassCleanup(cls.pg.stop)

    def api(self, h, method, path, body=None, token=None, raw=None):
        headers = {"Authorization": "Bearer " + (token or h.token)}
        if raw is not None:
            body = raw.encode()
            headers["Content-Type"] = "application/yaml"
        return h.request(method, path, body, headers)

    def ok(self, h, path, params=None):
        status, _, body = h.get(path, params)
        self.assertEqual(status, 200, (path, body))
        return body

    def count_pg(self, url, sql="SELECT count(*) FROM events"):
        try:
            return int(pgserver.psql(url, sql)[0][0])
        except AssertionError:  # no tables yet
            return 0

    # ---- the source hub ----

    def fill(self, h, logs):
        """Everything a store holds; -> what the API shows of it."""
        tail = os.path.join(logs, "app.jsonl")
        r = cli("keys", "create", "agent1", "--db", h.db)
        self.assertEqual(r.returncode, 0, r.stderr)
        key1 = r.stdout.strip()
        r = cli("keys", "create", "old", "--db", h.db)
        old = r.stdout.strip()
        old_id = key_id(r.stderr)
        self.assertEqual(cli("keys", "revoke", old_id, "--db", h.db).returncode, 0)
        alice_pw = h.add_user("alice", "analyst")
        h.token = h.login()

        now = int(time.time() * 1e6)
        events = odd_events(now)
        for i in range(N_EVENTS - len(events)):
            events.append({"event_id": event_uuid("mig", i),
                           "timestamp": iso(now - (i * 7919 % 86400) * 10 ** 6 - i),
                           "source_host": "host-%d" % (i % 13), "event_type": "E2E_BULK",
                           "severity": 1 + i % 5,
                           "source_ip": "10.%d.%d.%d" % (i % 3, i % 250, i % 199),
                           "message": "bulk %d \u00e9" % i, "data": {"i": i}})
        for k in range(0, len(events), 500):
            h.ingest_ok(events[k:k + 500], key=key1 if k % 1000 == 0 else API_KEY)
        # Six failed logins from one address (five make it): the built-in brute-force alert.
        bf = [{"event_id": event_uuid("mig-bf", i), "timestamp": iso(now + i),
               "event_type": "LOGIN_FAIL", "source_ip": "198.51.100.7", "user": "root",
               "source_host": "web1"} for i in range(6)]
        h.ingest_ok(bf)

        def bf_alert():
            body = self.ok(h, "/alerts", {"rule": BF_RULE_ID})
            return body["alerts"][0] if body["alerts"] else None
        alert = wait_for(bf_alert, 20, "the brute-force alert")
        self.assertEqual(self.api(h, "POST", "/alerts/%d/ack" % alert["id"])[0], 200)
        status, _, rule = self.api(h, "POST", "/rules", raw=RULE_YAML)
        self.assertIn(status, (200, 201), rule)
        widgets = [{"type": "top", "query": {"field": "source_ip"}}, {"type": "number"}]
        status, _, dash = self.api(h, "POST", "/dashboards", {"name": "SOC \u00e9",
                                                              "widgets": widgets})
        self.assertEqual(status, 201, dash)
        # A tailed file: good lines (events, file offset) and bad ones (dead letters).
        lines = [json.dumps({"ts": TAIL_TS, "app": "tailmig", "message": "tail %d" % i})
                 .encode() for i in range(4)]
        lines[1:1] = [b"\x00\x01\xff garbage \x80", b'{"app":"tailmig","message":']
        with open(tail, "wb") as f:
            f.write(b"".join(x + b"\n" for x in lines))
        wait_for(lambda: len(h.all_events({"app": "tailmig"})) == 4, 20, "the tailed lines")
        wait_for(lambda: len(self.ok(h, "/dead-letters")["dead_letters"]) == 2, 20,
                 "two dead letters")
        every = h.all_events()
        self.assertEqual(len(every), N_EVENTS + len(bf) + 4)
        sample = [e["event_id"] for e in events[:len(odd_events(now))]]
        sample += random.sample([e["event_id"] for e in every], 40)
        full = {}
        for eid in sample:
            status, _, ev = h.get_event(eid)
            self.assertEqual(status, 200)
            full[eid] = ev
        return {
            "key1": key1, "old": old, "alice_pw": alice_pw, "tail": tail, "ids":
            [e["event_id"] for e in every], "full": full, "alert_id": alert["id"],
            "dash_id": dash["id"], "alerts": self.ok(h, "/alerts"), "keys": self.ok(h, "/keys"),
            "dashboards": self.ok(h, "/dashboards"),
            "dashboard": self.ok(h, "/dashboards/%d" % dash["id"]),
            "rule": self.ok(h, "/rules/" + RULE_ID),
            "dead": self.ok(h, "/dead-letters"), "audit": self.ok(h, "/audit", {"limit": 500}),
        }

    # ---- the migration ----

    def migrate_killed(self, db, url):
        """A run killed (SIGKILL) once PostgreSQL holds some of the events."""
        out = open(os.path.join(os.path.dirname(db), "migrate-1.out"), "w+")
        self.addCleanup(out.close)
        p = subprocess.Popen([BIN, "migrate", "--from", db, "--to", url, "--batch", "100",
                              "--max-rate", "1500"], stdout=out, stderr=subprocess.STDOUT,
                             env=base_env(), cwd=cli_cwd())
        try:
            wait_for(lambda: self.count_pg(url) > 0 or p.poll() is not None, 30,
                     "the first events in PostgreSQL", interval=0.05)
        finally:
            p.send_signal(signal.SIGKILL)
            p.wait(30)
        out.seek(0)
        self.assertEqual(p.returncode, -signal.SIGKILL, "migrate ended before it was killed:\n"
                         + out.read())
        return self.count_pg(url)

    def test_migrate_sqlite_to_postgres(self):
        logs = tempfile.mkdtemp(prefix="minisiem-e2e-migrate-logs-")
        self.addCleanup(shutil.rmtree, logs, True)
        intel = os.path.join(logs, "..", os.path.basename(logs) + "-intel")
        os.makedirs(intel)
        self.addCleanup(shutil.rmtree, intel, True)
        with open(os.path.join(intel, "mig.txt"), "w") as f:
            f.write("89.160.20.0/24\n")
        h = self.own_hub(args=["--segment-rows", "1000", "--retention-days", "0",
                               "--tail-dir", logs, "--rules-dir", RULES_DIR,
                               "--geoip-db", os.path.join(MM, "GeoIP2-City-Test.mmdb"),
                               "--asn-db", os.path.join(MM, "GeoLite2-ASN-Test.mmdb"),
                               "--intel-dir", intel])
        before = self.fill(h, logs)
        enriched = before["full"][event_uuid("mig-odd", 7)]
        self.assertEqual((enriched["geo"]["country"], enriched["geo"]["asn"], enriched["tags"]),
                         ("SE", 29518, ["intel:mig"]))
        h.stop()
        segments = glob.glob(h.db + "-segments/seg-*.db")
        self.assertGreaterEqual(len(segments), 3, segments)
        total = len(before["ids"])

        r = cli("migrate", "--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("--to URL", r.stdout)
        r = cli("migrate", "--from", h.db, "--to", "postgresql://u:secret@127.0.0.1/x")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("password", r.stderr)

        url = self.pg.new_database("e2e_migrate")
        part = self.migrate_killed(h.db, url)
        self.assertTrue(0 < part < total, part)
        r = cli("migrate", "--from", h.db, "--to", url, "--batch", "700", timeout=300)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("counts agree (%s events on both sides)" % format(total, ","), r.stdout)
        self.assertIn("200 sampled events identical", r.stdout)
        # nothing doubled, nothing lost; a third run has nothing left to do
        self.assertEqual(self.count_pg(url), total)
        self.assertEqual(self.count_pg(url, "SELECT count(DISTINCT id) FROM events"), total)
        r = cli("migrate", "--from", h.db, "--to", url, timeout=300)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("0 copied by this run", r.stdout)
        # a database in use, or holding another store's migration, is refused
        other = self.pg.new_database("e2e_migrate")
        self.assertEqual(cli("keys", "create", "x", "--postgres", other).returncode, 0)
        r = cli("migrate", "--from", h.db, "--to", other)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("not empty", r.stderr)
        copy = os.path.join(logs, "copy.db")
        shutil.copy(h.db, copy)
        r = cli("migrate", "--from", copy, "--to", url)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("holds a migration of", r.stderr)
        os.unlink(copy)

        # ---- a hub on the copy ----
        h.args = h.args + ["--postgres", url]
        h.start()
        self.assertIsNone(h.printed_password, "the admin password did not come along")
        h.token = h.login()
        self.assertEqual(stable_keys(self.ok(h, "/keys")), stable_keys(before["keys"]))
        self.assertEqual([e["event_id"] for e in h.all_events()], before["ids"])
        for eid, ev in before["full"].items():
            status, _, got = h.get_event(eid)
            self.assertEqual(status, 200, eid)
            self.assertEqual(got, as_pg(ev), eid)
        nul = before["full"][event_uuid("mig-odd", 0)]
        self.assertIn("\x00", nul["message"])
        self.assertEqual(h.get_event(nul["event_id"])[2]["message"],
                         "NUL \ufffd inside \ufffd\ufffd")
        self.assertEqual(h.get_event(nul["event_id"])[2]["data"]["k"], "v\x00w")
        self.assertEqual(self.ok(h, "/alerts"), before["alerts"])
        a = self.ok(h, "/alerts/%d" % before["alert_id"])
        self.assertEqual((a["status"], a["acknowledged_by"]), ("acknowledged", "admin"))
        self.assertEqual(self.ok(h, "/dashboards"), before["dashboards"])
        self.assertEqual(self.ok(h, "/dashboards/%d" % before["dash_id"]), before["dashboard"])
        # (the answer to POST /rules shows the time the hub took the rule, a moment before
        # the one its store keeps: the times are left out)
        times = ("created_at", "updated_at")
        self.assertEqual({k: v for k, v in self.ok(h, "/rules/" + RULE_ID).items()
                          if k not in times},
                         {k: v for k, v in before["rule"].items() if k not in times})
        self.assertEqual(self.ok(h, "/dead-letters"), before["dead"])
        audit = self.ok(h, "/audit", {"limit": 500})["audit"]
        for entry in before["audit"]["audit"]:
            self.assertIn(entry, audit)
        # users log in, the old key sends, the revoked one does not
        h.login(before["alice_pw"], "alice")
        h.ingest_ok({"event_type": "E2E_MIGRATED", "message": "after"}, key=before["key1"])
        self.assertEqual(h.ingest({"message": "x"}, key=before["old"])[0], 401)
        # new rows get new ids (the sequences moved past the copied ones)
        r = cli("keys", "create", "new", "--postgres", url, "--db", h.db)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertGreater(key_id(r.stderr),
                           max(k["id"] for k in before["keys"]["keys"]))
        status, _, dash = self.api(h, "POST", "/dashboards", {"name": "new"})
        self.assertEqual(status, 201, dash)
        self.assertGreater(dash["id"], before["dash_id"])
        # the tailer carries on from the copied offset: only the new line is read
        with open(before["tail"], "ab") as f:
            f.write(json.dumps({"ts": TAIL_TS, "app": "tailmig", "message": "tail 4"}).encode()
                    + b"\n")
        wait_for(lambda: len(h.all_events({"app": "tailmig"})) == 5, 20, "the new line")
        self.assertEqual(len(self.ok(h, "/dead-letters")["dead_letters"]), 2)
        self.assertEqual(len(h.all_events()), total + 2)
