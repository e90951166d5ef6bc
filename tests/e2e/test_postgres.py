"""test_postgres.py — what only the PostgreSQL store has: the hub outlives an outage of its
database (503 with Retry-After, never 401/500, nothing acknowledged lost or doubled),
retention drops whole day partitions, two hubs on one new database migrate it once, a
password on the command line is refused, `backup` is a pg_dump that pg_restore brings back,
and /ready names the backend.

Every test runs its hubs on a PostgreSQL server of its own (pgserver.PgServer), so the file
runs the same in the SQLite pass and in the PostgreSQL pass (whose shared server it never
stops)."""

import datetime
import http.client
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import unittest

import pgserver
from helpers import metric
from hub import API_KEY, Hub, HubCase, cli, event_uuid, wait_for

DAY_US = 86400 * 10 ** 6
PARTITIONS_SQL = ("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                  " WHERE i.inhparent = 'events'::regclass ORDER BY 1")


def now_us():
    return int(time.time() * 1e6)


def iso(us):
    """An RFC 3339 UTC time with microseconds."""
    t = datetime.datetime.fromtimestamp(us / 1e6, datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def partition_of(us):
    """The name of the day partition that holds an event of time us."""
    return datetime.datetime.fromtimestamp(us / 1e6, datetime.timezone.utc) \
        .strftime("events_%Y%m%d")


def require_postgres():
    if not os.access(pgserver.pg_tool("initdb"), os.X_OK):
        raise unittest.SkipTest("PostgreSQL 15 is not installed")


def ready(h):
    """(status, body) of GET /ready."""
    status, _, body = h.get("/ready", token=False)
    return status, body


def wait_ready(h, status, deadline, what):
    """Poll GET /ready until it answers status; -> its body."""
    def check():
        got = ready(h)
        return got if got[0] == status else None
    return wait_for(check, deadline, what)[1]


class Agents:
    """Client threads that send batches of events with ids, as an agent does: a batch that
    gets 503 (or no answer) is sent again, the same ids, after Retry-After (capped at 1 s to
    keep the test short), until it is acknowledged or the run is stopped. Bounded in batches
    and in time."""

    def __init__(self, h, tag, threads=4, batch=10, pace=0.05, max_batches=4000, deadline=180):
        self.h, self.tag, self.batch, self.pace = h, tag, batch, pace
        self.max_batches = max_batches
        self.end = time.monotonic() + deadline
        self.lock = threading.Lock()
        self.next = 0  # next event number
        self.batches = 0  # batches made
        self.sent = set()  # ids ever sent
        self.acked = []  # ids of acknowledged batches (200)
        self.duplicates = 0  # events a retried batch found stored already
        self.statuses = {}
        self.retry_after = []  # Retry-After of every 503 (None when missing)
        self.conn_errors = []
        self.bad = []  # answers an agent would not expect
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(threads)]

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def make_batch(self):
        with self.lock:
            if self.batches >= self.max_batches:
                return None
            self.batches += 1
            lo = self.next
            self.next += self.batch
        ts = now_us()
        return [{"event_id": event_uuid(self.tag, i), "timestamp": iso(ts + i),
                 "app": self.tag, "event_type": "pg_outage", "message": "outage %d" % i}
                for i in range(lo, lo + self.batch)]

    def send(self, body):
        """-> (status, headers, body bytes), or None when no answer came."""
        conn = http.client.HTTPConnection("127.0.0.1", self.h.port, timeout=30)
        try:
            conn.request("POST", "/ingest", body=body,
                         headers={"Content-Type": "application/json", "X-API-Key": API_KEY})
            resp = conn.getresponse()
            return resp.status, resp.headers, resp.read()
        except (OSError, http.client.HTTPException) as e:
            with self.lock:
                self.conn_errors.append(repr(e))
            return None
        finally:
            conn.close()

    def deliver(self, batch):
        """Send one batch until it is acknowledged; False when stopped first."""
        body = json.dumps(batch).encode()
        with self.lock:
            self.sent.update(e["event_id"] for e in batch)
        while not self.stop.is_set() and time.monotonic() < self.end:
            got = self.send(body)
            if got is None:
                self.stop.wait(0.2)
                continue
            status, headers, data = got
            with self.lock:
                self.statuses[status] = self.statuses.get(status, 0) + 1
            if status == 200:
                ans = json.loads(data)
                with self.lock:
                    if ans.get("accepted", 0) + ans.get("duplicates", 0) != len(batch) \
                            or ans.get("rejected"):
                        self.bad.append((status, ans))
                    self.duplicates += ans.get("duplicates", 0)
                    self.acked.extend(e["event_id"] for e in batch)
                return True
            if status == 503:
                ra = headers.get("Retry-After")
                with self.lock:
                    self.retry_after.append(ra)
                try:
                    wait = min(float(ra), 1.0)
                except (TypeError, ValueError):
                    wait = 1.0
                self.stop.wait(wait)
                continue
            with self.lock:
                self.bad.append((status, data[:300]))
            return False
        return False

    def run(self):
        while not self.stop.is_set() and time.monotonic() < self.end:
            batch = self.make_batch()
            if batch is None or not self.deliver(batch):
                return
            self.stop.wait(self.pace)

    def n_acked(self):
        with self.lock:
            return len(self.acked)

    def n_503(self):
        with self.lock:
            return self.statuses.get(503, 0)

    def join(self, timeout=60):
        self.stop.set()
        end = time.monotonic() + timeout
        for t in self.threads:
            t.join(max(0.0, end - time.monotonic()))
        return not any(t.is_alive() for t in self.threads)


class Outage(HubCase):
    """The hub's PostgreSQL stops for 10 s under ingest and comes back."""

    PAUSE = 10.0  # seconds PostgreSQL stays stopped

    def setUp(self):
        super().setUp()
        require_postgres()
        self.pg = pgserver.PgServer().start()
        self.addCleanup(self.pg.stop)

    def test_ready_recovers_without_new_events(self):
        # A failed commit marks the store not writable; once PostgreSQL is back the hub finds
        # out by itself (a probe of the writer's connection), not only at the next event.
        h = self.own_hub(pg_admin_url=self.pg.admin_url)
        wait_ready(h, 200, 30, "/ready at start")
        self.pg.pause()
        status, headers, body = h.ingest({"event_id": event_uuid("idle", 1), "message": "m"})
        self.assertEqual(status, 503, body)
        self.assertTrue(headers.get("Retry-After"), headers)
        wait_ready(h, 503, 10, "/ready to answer 503")
        self.pg.resume()
        body = wait_ready(h, 200, 30, "/ready to recover with no ingest")
        self.assertIs(body["store_writable"], True, body)
        self.assertIs(body["store_reachable"], True, body)

    def test_outage_under_ingest_loses_nothing(self):
        pg = self.pg
        h = self.own_hub(pg_admin_url=pg.admin_url)
        r = cli("keys", "create", "outage-agent", *h.store_args())
        self.assertEqual(r.returncode, 0, r.stderr)
        store_key = r.stdout.strip()
        token = h.login_token()  # made now: it reads the user's token generation from the store
        self.assertEqual(h.get("/events", {"limit": 1}, token=token)[0], 200)
        key_ids = [event_uuid("outage-key", i) for i in range(2)]
        h.ingest_ok({"event_id": key_ids[0], "message": "store key, before"}, key=store_key)

        agents = Agents(h, "pg-outage")
        self.addCleanup(agents.join, 10)
        agents.start()
        wait_for(lambda: agents.n_acked() >= 1000, 60, "1000 events acknowledged")
        before_pause = agents.n_acked()
        paused_at = time.monotonic()
        pg.pause()

        # The agents get 503 with Retry-After, never a 500 or an error of theirs.
        wait_for(lambda: agents.n_503() > 0, 8, "a 503 to the agents")
        body = wait_ready(h, 503, 5, "/ready to answer 503")
        self.assertIs(body["ready"], False, body)
        self.assertIs(body["store_reachable"], False, body)
        self.assertEqual(body["store_backend"], "postgres", body)
        # A valid login token: the store cannot be asked, so 503 (not 401, not 500).
        status, headers, body = h.get("/events", {"limit": 1}, token=token)
        self.assertEqual(status, 503, body)
        self.assertTrue(headers.get("Retry-After"), "503 without Retry-After")
        # A key from the store: once its cache entry (2 s) has expired the hub cannot check
        # it; always 503 with Retry-After, never 401.
        details = []

        def key_unchecked():
            status, headers, body = h.ingest({"message": "store key, during"}, key=store_key)
            self.assertEqual(status, 503, "a store key during the outage: %s %r"
                             % (status, body))
            self.assertTrue(headers.get("Retry-After"), "503 without Retry-After")
            details.append(body.get("detail"))
            return "credentials" in str(body.get("detail"))
        wait_for(key_unchecked, max(1.0, self.PAUSE - 2 - (time.monotonic() - paused_at)),
                 "the store key to be unverifiable (503; details so far %r)" % details,
                 interval=0.25)
        self.assertEqual(metric(h, "minisiem_store_up"), 0)
        self.assertTrue(h.running(), "the hub ended during the outage")

        # The outage lasts PAUSE seconds: the duration is the test.
        time.sleep(max(0.0, paused_at + self.PAUSE - time.monotonic()))
        self.assertTrue(h.running(), "the hub ended during the outage")
        self.assertEqual(pg.crash_lines(), [])
        pg.resume()
        resumed_at = time.monotonic()
        at_resume = agents.n_acked()

        # Back without a restart: ready again while the agents send what they kept.
        body = wait_ready(h, 200, 30, "/ready to answer 200 after PostgreSQL came back")
        self.assertIs(body["ready"], True, body)
        self.assertIs(body["store_reachable"], True, body)
        recovered = time.monotonic() - resumed_at
        wait_for(lambda: agents.n_acked() >= at_resume + 500, 60,
                 "500 more events acknowledged after the outage")
        wait_for(lambda: h.get("/events", {"limit": 1}, token=token)[0] == 200, 15,
                 "GET /events to answer 200 again")

        def key_ok():
            status, _, body = h.ingest({"event_id": key_ids[1], "message": "store key, after"},
                                       key=store_key)
            self.assertIn(status, (200, 503), body)
            return status == 200
        wait_for(key_ok, 15, "the store key to be accepted again", interval=0.25)
        self.assertTrue(agents.join(60), "agent threads still running")

        with agents.lock:
            acked, sent = list(agents.acked), set(agents.sent)
            statuses, retry_after = dict(agents.statuses), list(agents.retry_after)
            bad, conn_errors = list(agents.bad), list(agents.conn_errors)
        self.assertEqual(bad, [], "answers no agent expects")
        self.assertEqual(conn_errors, [], "requests without an answer")
        self.assertGreater(statuses.get(503, 0), 0, statuses)
        self.assertNotIn(None, retry_after, "a 503 without Retry-After")
        self.assertTrue(all(int(ra) > 0 for ra in retry_after), retry_after)
        self.assertGreater(len(acked), before_pause)
        self.assertEqual(len(acked), len(set(acked)), "a batch acknowledged twice")

        # Every acknowledged event stored exactly once; nothing stored that was never sent.
        rows = pgserver.psql(h.pg_url, "SELECT id::text, count(*) FROM events"
                             " WHERE app = :'app' GROUP BY 1", {"app": "pg-outage"})
        stored = {eid: int(n) for eid, n in rows}
        self.assertEqual({k: n for k, n in stored.items() if n != 1}, {}, "stored twice")
        self.assertEqual(set(acked) - set(stored), set(), "acknowledged but lost")
        self.assertEqual(set(stored) - sent, set(), "stored but never sent")
        listed = [e["event_id"] for e in h.all_events({"app": "pg-outage"})]
        self.assertEqual(len(listed), len(set(listed)), "listed twice")
        self.assertEqual(set(listed), set(stored))
        for eid in key_ids:
            self.assertEqual(h.get_event(eid)[0], 200, eid)
        total = int(pgserver.psql(h.pg_url, "SELECT count(*) FROM events")[0][0])
        self.assertEqual(ready(h)[1]["events_stored"], total)

        self.assertEqual(metric(h, "minisiem_store_up"), 1)
        self.assertGreater(metric(h, "minisiem_store_connection_errors_total"), 0)
        print("\n    outage: %d acked (%d before the pause), %d duplicates on retry, "
              "statuses %s, ready %.1f s after resume"
              % (len(acked), before_pause, agents.duplicates, statuses, recovered))


class OwnServer(HubCase):
    """Tests that share one PostgreSQL server of their class (never paused)."""

    @classmethod
    def setUpClass(cls):
        require_postgres()
        cls.pg = pgserver.PgServer().start()
        cls.addClassCleanup(cls.pg.stop)

    def partitions(self, url):
        return [r[0] for r in pgserver.psql(url, PARTITIONS_SQL)]

    # ---- 2: retention drops partitions ----

    def test_retention_drops_day_partitions(self):
        h = self.own_hub(pg_admin_url=self.pg.admin_url, args=["--retention-days", "0"])
        now = now_us()
        times = {"old": now - int(3.5 * DAY_US), "month": now - 30 * DAY_US,
                 "ancient": now - 600 * DAY_US, "yesterday": now - DAY_US, "now": now}
        counts = {"old": 3, "month": 2, "ancient": 1, "yesterday": 4, "now": 5}
        ids = {k: [event_uuid("pg-ret", k, i) for i in range(n)] for k, n in counts.items()}
        h.ingest_ok([{"event_id": ids[k][i], "timestamp": iso(times[k] + i), "app": "pg-ret",
                      "message": "%s %d" % (k, i)} for k in counts for i in range(counts[k])])
        url = h.pg_url
        parts = self.partitions(url)
        # Without retention days back to 400 get partitions; older ones go to the default.
        for k in ("old", "month", "yesterday", "now"):
            self.assertIn(partition_of(times[k]), parts, k)
        self.assertNotIn(partition_of(times["ancient"]), parts)
        self.assertEqual(pgserver.psql(url, "SELECT id::text FROM events_default"),
                         [(i,) for i in ids["ancient"]])
        self.assertEqual(ready(h)[1]["events_stored"], sum(counts.values()))

        h.stop()
        h.args = ["--retention-days", "2", "--retention-interval", "1s"]
        h.start()
        gone = {partition_of(times["old"]), partition_of(times["month"])}
        wait_for(lambda: not gone & set(self.partitions(url)), 30,
                 "retention to drop %s" % sorted(gone))
        wait_for(lambda: pgserver.psql(url, "SELECT count(*) FROM events_default") == [("0",)],
                 30, "retention to empty the default partition")
        parts = self.partitions(url)
        for k in ("yesterday", "now"):
            self.assertIn(partition_of(times[k]), parts, k)
        for k in ("old", "month", "ancient"):
            for eid in ids[k]:
                self.assertEqual(h.get_event(eid)[0], 404, (k, eid))
        kept = ids["yesterday"] + ids["now"]
        for eid in kept:
            self.assertEqual(h.get_event(eid)[0], 200, eid)
        self.assertEqual(sorted(e["event_id"] for e in h.all_events({"app": "pg-ret"})),
                         sorted(kept))
        self.assertEqual(ready(h)[1]["events_stored"], len(kept))
        removed = counts["old"] + counts["month"] + counts["ancient"]
        self.assertEqual(metric(h, "minisiem_retention_events_removed_total"), removed)
        self.assertEqual(metric(h, "minisiem_retention_segments_removed_total"), 2)

        # With retention on, a day past the partitions' reach lands in the default
        # partition (no table made for it) and goes on the next round.
        late = event_uuid("pg-ret", "late")
        h.ingest_ok({"event_id": late, "timestamp": iso(now_us() - 30 * DAY_US),
                     "app": "pg-ret", "message": "30 days old"})
        wait_for(lambda: h.get_event(late)[0] == 404, 30, "retention to remove the late event")
        self.assertNotIn(partition_of(now_us() - 30 * DAY_US), self.partitions(url))
        wait_for(lambda: metric(h, "minisiem_retention_events_removed_total") == removed + 1,
                 10, "the late event counted")
        self.assertEqual(ready(h)[1]["events_stored"], len(kept))
        self.assertEqual(pgserver.psql(url, "SELECT count(*) FROM events"),
                         [(str(len(kept)),)])

    # ---- 3: two hubs start at once on one new database ----

    def start_two_hubs(self):
        """Two hubs started at the same moment on one new database; -> the hubs, ready."""
        url = self.pg.new_database()
        hubs = [Hub(pg_admin_url=self.pg.admin_url) for _ in range(2)]

        def close_all():
            try:
                for x in hubs:
                    x.stop()
            finally:
                hubs[1]._pg_url = None  # the database is dropped once, by the first
                for x in reversed(hubs):
                    x.cleanup()
        self.addCleanup(close_all)
        for x in hubs:
            x._pg_url = url
        barrier = threading.Barrier(2, timeout=30)
        errors = []

        def start(x):
            try:
                barrier.wait()
                x.start()
            except Exception as e:  # reported below
                errors.append(e)
        threads = [threading.Thread(target=start, args=(x,), daemon=True) for x in hubs]
        for t in threads:
            t.start()
        for t in threads:
            t.join(90)
        self.assertFalse(any(t.is_alive() for t in threads), "a hub start still waits")
        self.assertEqual(errors, [])
        for x in hubs:
            body = wait_ready(x, 200, 30, "both hubs ready")
            self.assertIs(body["ready"], True, body)
        return hubs

    def test_two_hubs_migrate_a_new_database_once(self):
        hubs = self.start_two_hubs()
        url = hubs[0].pg_url
        rows = pgserver.psql(url, "SELECT version, count(*) FROM schema_migrations"
                                  " GROUP BY 1 ORDER BY 1")
        self.assertTrue(rows, "no migrations recorded")
        self.assertEqual([n for _, n in rows], ["1"] * len(rows), rows)
        self.assertEqual([v for v, _ in rows], [str(i + 1) for i in range(len(rows))], rows)
        migrated = [x for x in hubs if "schema migrated to version 1" in x.stderr()]
        self.assertEqual(len(migrated), 1, [x.stderr() for x in hubs])
        # Both serve the one store: what one takes in, the other shows. (The token is of a
        # user of the store: the built-in admin's is not, see the next test.)
        hubs[0].add_user("bob", "analyst")
        bob = hubs[1].make_token("bob", "analyst")
        ev = {"event_id": event_uuid("pg-two-hubs", 0), "timestamp": iso(now_us()),
              "message": "via the first hub"}
        hubs[0].ingest_ok(ev)
        self.assertEqual(hubs[1].get("/events/" + ev["event_id"], token=bob)[0], 200)
        status, _, body = hubs[1].ingest(ev)
        self.assertEqual((status, body.get("accepted"), body.get("duplicates")), (200, 0, 1),
                         body)

    def test_two_hubs_first_run_agree_on_the_admin(self):
        hubs = self.start_two_hubs()
        printed = [x.printed_password for x in hubs if x.printed_password]
        self.assertEqual(len(printed), 1, "first-run admin passwords printed: %r" % printed)
        for x in hubs:
            x.token = x.login(printed[0])
        for a, b in ((0, 1), (1, 0)):  # a token from one hub is good on the other
            status, _, body = hubs[b].get("/auth/me", token=hubs[a].token)
            self.assertEqual(status, 200, body)
        self.assertEqual(hubs[0].token_gen("admin"), hubs[1].token_gen("admin"))

    # ---- 5: backup with pg_dump, back with pg_restore ----

    def test_backup_and_pg_restore(self):
        h = self.own_hub(pg_admin_url=self.pg.admin_url)
        events = [{"event_id": event_uuid("pg-backup", i), "timestamp": iso(now_us() - i),
                   "app": "pg-backup", "source_ip": "192.0.2.%d" % (i % 200 + 1),
                   "message": "backup %d \u00e9" % i, "data": {"i": i}} for i in range(300)]
        events.append({"event_id": event_uuid("pg-backup", "old"), "app": "pg-backup",
                       "timestamp": "2001-09-09T01:46:40Z", "message": "the default partition"})
        for k in range(0, len(events), 100):
            h.ingest_ok(events[k:k + 100])
        alice = h.add_user("alice", "analyst")
        r = cli("keys", "create", "backup-agent", *h.store_args())
        self.assertEqual(r.returncode, 0, r.stderr)
        store_key = r.stdout.strip()
        before = h.all_events()
        self.assertEqual(len(before), len(events))

        dest = os.path.join(tempfile.mkdtemp(prefix="minisiem-e2e-pgbk-"), "backup")
        self.addCleanup(shutil.rmtree, os.path.dirname(dest), True)
        r = cli("backup", dest, *h.store_args(), timeout=120)  # while the hub runs
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("pg_restore", r.stdout)
        self.assertTrue(os.path.isfile(os.path.join(dest, "toc.dat")), os.listdir(dest))

        copy = Hub(pg_admin_url=self.pg.admin_url)
        self.addCleanup(copy.close)
        r = subprocess.run([pgserver.pg_tool("pg_restore"), "--dbname=" + copy.pg_url, dest],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=120,
                           env=pgserver.clean_env())
        self.assertEqual(r.returncode, 0, r.stderr)
        copy.admin_password = h.admin_password
        copy.start()
        self.assertIsNone(copy.printed_password, "the restored store has no admin password")
        self.assertEqual(copy.all_events(), before)
        for e in (events[0], events[-1]):
            self.assertEqual(copy.get_event(e["event_id"])[2], h.get_event(e["event_id"])[2])
        self.assertEqual(ready(copy)[1]["events_stored"], len(events))
        copy.login(alice, "alice")
        copy.login()  # the admin password of the original
        copy.ingest_ok({"event_id": event_uuid("pg-backup", "new"), "message": "after"},
                       key=store_key)
        self.assertEqual(copy.get_event(event_uuid("pg-backup", "new"))[0], 200)
        self.assertEqual(h.get_event(event_uuid("pg-backup", "new"))[0], 404)

    # ---- 6: /ready names the backend ----

    def test_ready_on_postgres(self):
        h = self.own_hub(pg_admin_url=self.pg.admin_url)
        status, body = ready(h)
        self.assertEqual(status, 200, body)
        self.assertIs(body["ready"], True, body)
        self.assertEqual(body["store_backend"], "postgres", body)
        self.assertIs(body["store_reachable"], True, body)
        self.assertIsInstance(body["writer_lag_ms"], int, body)
        self.assertGreaterEqual(body["writer_lag_ms"], 0, body)
        h.ingest_ok([{"event_id": event_uuid("pg-ready", i), "message": "r"} for i in range(7)])
        self.assertEqual(ready(h)[1]["events_stored"], 7)
        self.assertEqual(metric(h, "minisiem_store_up"), 1)
        self.assertEqual(metric(h, "minisiem_store_connection_errors_total"), 0)


class PasswordRule(HubCase):
    """A password in --postgres is refused (the command line is visible to every user);
    the same URL from the environment is taken. The password is never printed."""

    URL = "postgresql://u:secret@127.0.0.1:1/x"

    def serve(self, *args, env=None):
        tmp = tempfile.mkdtemp(prefix="minisiem-e2e-pgpw-")
        self.addCleanup(shutil.rmtree, tmp, True)
        return cli("serve", "--listen", "127.0.0.1:0", "--db", os.path.join(tmp, "store.db"),
                   *args, env=env, timeout=60)

    def test_password_on_the_command_line_is_refused(self):
        for url in (self.URL, "postgres://u:secret@127.0.0.1:1/x",
                    "postgresql://u@127.0.0.1:1/x?sslmode=disable&password=secret",
                    "host=127.0.0.1 port=1 dbname=x password=secret"):
            with self.subTest(url=url):
                r = self.serve("--postgres", url)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn("PGPASSFILE", r.stderr)
                self.assertIn("PGPASSWORD", r.stderr)
                self.assertNotIn("secret", r.stdout + r.stderr)
        for args in (["keys", "list"], ["backup", "/nonexistent/minisiem-e2e-bk"]):
            with self.subTest(cmd=args[0]):
                r = cli(*args, "--postgres", self.URL)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn("PGPASSWORD", r.stderr)
                self.assertNotIn("secret", r.stdout + r.stderr)

    def test_password_in_the_environment_is_taken(self):
        r = self.serve(env={"SIEM_POSTGRES_URL": self.URL})
        # accepted, then nothing listens on port 1: exit 1, said plainly
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("cannot connect", r.stderr)
        self.assertIn("127.0.0.1", r.stderr)
        self.assertNotIn("holds a password", r.stderr)
        self.assertNotIn("secret", r.stdout + r.stderr)
        self.assertNotIn("listening", r.stdout)
        # backup hands the URL to pg_dump's command line: refused there, still unprinted
        r = cli("backup", "/nonexistent/minisiem-e2e-bk", env={"SIEM_POSTGRES_URL": self.URL})
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("PGPASSWORD", r.stderr)
        self.assertNotIn("secret", r.stdout + r.stderr)
