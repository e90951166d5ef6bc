"""test_broker.py — broker mode: hub nodes with roles over one private RabbitMQ
(mqserver.py, one per run of this file, each test on a vhost of its own) and one PostgreSQL
database shared by the nodes of a test. Every acknowledged event is stored exactly once with
two ingest and two store nodes, also when a store node is killed mid-ingest; a broker killed
(kill -9) gives 503s (UDP syslog counts its drops, the tailer waits) and nothing acknowledged
is lost when it comes back; a frozen broker is noticed through the heartbeats; a broker that
hangs gives 503s after the confirm timeout; a memory
alarm gives 503s, not a growing queue; a poison message, and a batch the store cannot
commit, end in dead_letters with their reason; amqps:// verifies the broker's certificate;
the password never on the command line. Two detect nodes share the detect queue: the active
one is killed mid-stream and the other resumes its correlation windows from PostgreSQL, each
alert raised once, and an api node's SSE client sees them; one killed between two saves of
its state raises nothing twice; batches published before any detect node started are
detected when one starts, and rules changed through another node's API reach the active
detector without a restart; a detect queue an older version declared with other arguments
is used as it is. An agent with both ingest nodes in --server carries on to the second when
the first is killed mid-stream: every line once.

The run's PostgreSQL (SIEM_TEST_PG, the PostgreSQL pass) is used when there is one, else a
server of this file's own."""

import os
import re
import shutil
import socket
import struct
import subprocess
import tempfile
import time
import unittest
import uuid

import mqserver
import pgserver
from helpers import SSE, agent_bin, metric, require_agent
from hub import (API_KEY, BIN, Hub, HubCase, Load, base_env, event_uuid, read_text,
                 wait_for)

STORE_DEADLINE = 90.0  # seconds for acknowledged events to reach the store


def require_servers():
    if not os.access(os.path.join(mqserver.RABBIT_BIN, "rabbitmq-server"), os.X_OK):
        raise unittest.SkipTest("rabbitmq-server is not installed (make deps installs it)")
    if not os.access(pgserver.pg_tool("initdb"), os.X_OK):
        raise unittest.SkipTest("PostgreSQL 15 is not installed")


class Broker(HubCase):
    mq = None
    pg = None  # a server of our own when the run has none
    admin_url = None
    vhosts = 0

    @classmethod
    def setUpClass(cls):
        require_servers()
        cls.mq = mqserver.MqServer(tls=True).start()
        cls.addClassCleanup(cls.mq.stop)
        cls.admin_url = os.environ.get("SIEM_TEST_PG")
        if not cls.admin_url:
            cls.pg = pgserver.PgServer().start()
            cls.addClassCleanup(cls.pg.stop)
            cls.admin_url = cls.pg.admin_url

    def setUp(self):
        super().setUp()
        if not self.mq.running():
            self.mq.resume()  # a test that failed while the broker was stopped
        type(self).vhosts += 1
        self.vhost = self.mq.add_vhost("t%d" % self.vhosts)
        self.db = pgserver.new_database(self.admin_url, prefix="broker")
        self.addCleanup(pgserver.drop_database, self.db, self.admin_url)

    def node(self, roles, *args, start=True, tls=False, password=None):
        """A hub of the test's cluster: its roles, the test's vhost and database; the
        broker's password in SIEM_AMQP_PASSWORD (password: that one instead; "": none)."""
        password = self.mq.password if password is None else password
        h = Hub(pg_admin_url=self.admin_url,
                env={"SIEM_AMQP_PASSWORD": password} if password else {},
                args=["--amqp", self.mq.url(self.vhost, tls=tls), "--roles", roles,
                      "--amqp-confirm-timeout", "3s"] + list(args))
        h._pg_url = self.db  # one database for every node

        def close():
            h._pg_url = None  # the test drops it, after every node stopped
            h.close()
        self.addCleanup(close)
        return h.start() if start else h

    def stored(self, tag):
        """(rows, distinct ids) of the events of app tag in the shared database."""
        r = pgserver.psql(self.db, "SELECT count(*), count(DISTINCT id) FROM events"
                                   " WHERE app = :'tag'", {"tag": tag})
        return int(r[0][0]), int(r[0][1])

    def stored_ids(self, tag):
        r = pgserver.psql(self.db, "SELECT id FROM events WHERE app = :'tag'", {"tag": tag})
        return {row[0] for row in r}

    def assert_exactly_once(self, loads, tag):
        """Every acknowledged event is in the store, and no event twice."""
        acked = set()
        for ld in loads:
            self.assertEqual(ld.bad, [], "unexpected answers")
            acked |= set(ld.acked)
        self.assertTrue(acked, "nothing was acknowledged")
        wait_for(lambda: acked <= self.stored_ids(tag), STORE_DEADLINE,
                 "every acknowledged event in PostgreSQL")
        rows, distinct = self.stored(tag)
        self.assertEqual(rows, distinct, "an event stored twice")
        return acked

    def queue_depth(self, queue):
        c = self.mq.client(self.vhost)
        try:
            return c.queue_depth(queue)[0]
        finally:
            c.close()

    # ---- two ingest and two store nodes; a store node killed mid-ingest ----

    def test_two_ingest_two_store_nodes_store_each_event_once(self):
        stores = [self.node("store") for _ in range(2)]
        ingests = [self.node("ingest") for _ in range(2)]
        loads = [Load(h, "brk-many", threads=2, batch=40, max_events=6000) for h in ingests]
        # both loads draw ids from one tag: give them disjoint ranges
        loads[1].next = 100000
        loads[1].max_events = 106000
        for ld in loads:
            ld.start()
        wait_for(lambda: self.stored("brk-many")[0] > 0, 60, "the store nodes committing")
        stores[1].kill()  # SIGKILL mid-ingest, holding unacknowledged messages
        for ld in loads:
            self.assertTrue(ld.join_done(120), "clients still running")
        self.assertEqual(sum(ld.statuses[200] for ld in loads), 300, [ld.statuses for ld in loads])
        acked = self.assert_exactly_once(loads, "brk-many")
        self.assertEqual(len(acked), 12000)
        # hub-set fields travel with the events
        r = pgserver.psql(self.db, "SELECT count(*) FROM events WHERE app = 'brk-many'"
                                   " AND ingest_key = 'test' AND received_at > 0")
        self.assertEqual(int(r[0][0]), 12000)
        wait_for(lambda: self.queue_depth("minisiem.store") == 0, 30, "an empty store queue")
        status, _, ready = stores[0].get("/ready", token=False)
        self.assertEqual(status, 200, ready)
        self.assertEqual(ready["components"]["broker"], {"ready": True, "consuming": True})
        # a store-only node's own events (a failed login) go through its one store writer
        status, _, _ = stores[0].request("POST", "/auth/login", {"password": "not it"})
        self.assertEqual(status, 401)
        wait_for(lambda: pgserver.psql(self.db, "SELECT count(*) FROM events WHERE app ="
                                                " 'minisiem' AND event_type = 'LOGIN_FAIL'")
                 == [("1",)], STORE_DEADLINE, "the failed login stored")
        # a node without the ingest role does not take events
        status, headers, body = stores[0].ingest([{"message": "x"}])
        self.assertEqual(status, 503, body)
        self.assertEqual(body.get("error"), "not an ingest node")

    # ---- the detect role: one active detector, another takes over ----

    def alerts_of(self, rule_id):
        return pgserver.psql(self.db, "SELECT id, group_key, n_events FROM alerts"
                                      " WHERE rule_id = :'r'", {"r": rule_id})

    def test_detector_killed_mid_stream_another_resumes_without_loss_or_double(self):
        """Two detectors, one active; it is killed mid-stream and the other resumes its
        windows from PostgreSQL. An api node, not a detector, streams the alerts."""
        detectors = [self.node("detect") for _ in range(2)]
        for d in detectors:  # both consume minisiem.detect, bound to the events exchange
            wait_for(lambda: "waiting to be the active detector" in d.stderr(), 60,
                     "the detector consuming")
        for _ in range(2):
            self.node("store")
        ingests = [self.node("ingest") for _ in range(2)]
        api = self.node("api")
        sse = SSE(api, api.login_token())
        self.addCleanup(sse.close)
        self.assertEqual(sse.status, 200)
        now = time.time()
        sent = [0]

        def send(ev):
            n = sent[0]
            sent[0] += 1
            ev = dict(ev, event_id=event_uuid("brk-det", n), app="brk-det", os_type="LINUX",
                      timestamp=time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                              time.gmtime(now - 60 + n)))
            ingests[n % 2].ingest_ok([ev])

        def fail():
            send({"event_type": "LOGIN_FAIL", "source_ip": "203.0.113.77", "user": "root",
                  "source_host": "web1", "message": "Failed password for root"})

        send({"event_type": "ACCOUNT_CREATE", "user": "newbie", "source_host": "h1",
              "message": "new user: name=newbie"})
        for _ in range(3):
            fail()

        def active():
            for d in detectors:
                if metric(d, "minisiem_amqp_detect_takeovers_total") >= 1:
                    return d
            return None
        first = wait_for(active, 60, "an active detector")
        wait_for(lambda: metric(first, "minisiem_amqp_detected_total") >= 4, 60,
                 "the first batches evaluated and their state saved")
        fail()  # in flight when the detector dies: evaluated once, by either
        first.kill()
        second = detectors[1] if first is detectors[0] else detectors[0]
        # the window of four failures and the account's creation were persisted: the next
        # detector completes both correlations from there (five failures, then the sudo)
        fail()
        send({"event_type": "SUDO_ESCALATION", "user": "newbie", "source_host": "h1",
              "command": "/bin/bash", "message": "newbie : COMMAND=/bin/bash"})
        wait_for(lambda: metric(second, "minisiem_amqp_detect_takeovers_total") >= 1, 60,
                 "the other detector taking over")
        status, _, ready = second.get("/ready", token=False)
        self.assertEqual(status, 200, ready)
        self.assertEqual(ready["components"]["broker"],
                         {"ready": True, "detecting": True, "active_detector": True})
        brute = "22b465fd-75c8-42f1-9395-8d61d9daf41a"
        acs = "163c8a0a-27c6-4a88-81ca-1da002e61b78"
        wait_for(lambda: self.alerts_of(brute) and self.alerts_of(acs), 60,
                 "the brute-force and the account-then-sudo alerts")
        # one alert acknowledged on the api node (a version of its own), then five more
        # failures (the window's next hit): counted on the other alert by the detector,
        # whose next version comes after the api node's
        acs_id = int(self.alerts_of(acs)[0][0])
        token = api.login_token()
        status, _, body = api.request("POST", "/alerts/%d/ack" % acs_id, b"{}",
                                      {"Authorization": "Bearer " + token,
                                       "Content-Type": "application/json"})
        self.assertEqual(status, 200, body)
        n_before = int(self.alerts_of(brute)[0][2])
        for _ in range(5):
            fail()
        wait_for(lambda: self.queue_depth("minisiem.detect") == 0
                 and int(self.alerts_of(brute)[0][2]) >= n_before + 5, 60,
                 "every batch evaluated, the last five counted on the alert")
        rows = self.alerts_of(brute)
        self.assertEqual(len(rows), 1, rows)
        self.assertEqual(rows[0][1], "source_ip=203.0.113.77")
        rows = self.alerts_of(acs)
        self.assertEqual(len(rows), 1, rows)
        self.assertIn("newbie", rows[0][1])
        # the api node's SSE client saw both
        for rule in (brute, acs):
            _, a = sse.next_alert(lambda x, r=rule: x["rule_id"] == r, deadline=30)
            self.assertEqual(a["id"], int(self.alerts_of(rule)[0][0]))
        # the state lives in PostgreSQL, not in a file beside the node
        r = pgserver.psql(self.db, "SELECT count(*) FROM meta WHERE key = 'detect.state'")
        self.assertEqual(r, [("1",)])

    def test_detector_killed_between_saves_raises_no_alert_twice(self):
        """The active detector wrote an alert but had not yet saved the window state that
        includes its batches (a long save interval) when it was killed: the next one
        evaluates those batches again from the last saved state, and the hit lands on the
        alert written, not on a second one."""
        node = self.node("ingest,store")
        first = self.node("detect", "--detect-save-interval", "1h")
        wait_for(lambda: "waiting to be the active detector" in first.stderr(), 60,
                 "the first detector consuming")
        for i in range(5):  # five batches, fewer than the prefetch: nothing saved
            node.ingest_ok([{"event_id": event_uuid("brk-unsaved", i), "app": "brk-unsaved",
                             "os_type": "LINUX", "event_type": "LOGIN_FAIL",
                             "source_ip": "203.0.113.92", "user": "root",
                             "source_host": "web1", "message": "Failed password for root"}])
        brute = "22b465fd-75c8-42f1-9395-8d61d9daf41a"
        wait_for(lambda: self.alerts_of(brute), 60, "the brute-force alert")
        second = self.node("detect")
        wait_for(lambda: "waiting to be the active detector" in second.stderr(), 60,
                 "the second detector consuming")
        state = "SELECT count(*) FROM meta WHERE key = 'detect.state'"
        self.assertEqual(pgserver.psql(self.db, state), [("0",)])  # the alert, not the state
        self.assertEqual(metric(first, "minisiem_amqp_detected_total"), 0)
        first.kill()
        wait_for(lambda: metric(second, "minisiem_amqp_detected_total") >= 5, 60,
                 "the other detector evaluating the five batches again")
        rows = self.alerts_of(brute)
        self.assertEqual(len(rows), 1, rows)
        self.assertEqual(rows[0][1], "source_ip=203.0.113.92")
        self.assertEqual(pgserver.psql(self.db, state), [("1",)])

    def test_detect_queue_of_an_older_version_is_used_as_it_is(self):
        """minisiem.detect declared with other arguments (an older version's: a dead-letter
        exchange, no length bound) is refused by the broker with 406: a node uses it as it
        is, logs so, and detects."""
        c = self.mq.client(self.vhost)
        try:
            args = {"x-queue-type": "quorum", "x-single-active-consumer": True,
                    "x-delivery-limit": 5, "x-dead-letter-exchange": "minisiem.dead"}
            c.declare_queue("minisiem.detect", args)
        finally:
            c.close()
        h = self.node("ingest,store,detect")
        wait_for(lambda: "exists with other arguments" in h.stderr(), 60, "the warning")
        h.ingest_ok([{"event_id": event_uuid("brk-oldq", i), "app": "brk-oldq",
                      "os_type": "LINUX", "event_type": "LOGIN_FAIL",
                      "source_ip": "203.0.113.93", "user": "root", "source_host": "web1",
                      "message": "Failed password for root"} for i in range(5)])
        brute = "22b465fd-75c8-42f1-9395-8d61d9daf41a"
        wait_for(lambda: self.alerts_of(brute), 60, "the brute-force alert")

    # ---- batches before any detector; rules changed live ----

    LIVE_A = "5b0f2a7e-8c1d-4e59-9a61-3f2d7c1e0a01"
    LIVE_B = "5b0f2a7e-8c1d-4e59-9a61-3f2d7c1e0a02"
    LIVE_RULES = "".join("""---
title: Live rule %s
id: %s
level: high
logsource:
    product: minisiem
detection:
    selection:
        event_type: LIVE_%s
    condition: selection
""" % (k, i, k) for k, i in (("A", LIVE_A), ("B", LIVE_B)))

    def test_detector_started_late_and_rules_changed_live(self):
        """Batches published before any detect node ever connected wait in the detect queue
        (declared by every node) and are detected when one starts. Rules created, disabled,
        deleted and enabled through another node's API reach the active detector without a
        restart."""
        node = self.node("ingest,store")
        fails = [{"event_id": event_uuid("brk-late", i), "app": "brk-late", "os_type": "LINUX",
                  "event_type": "LOGIN_FAIL", "source_ip": "203.0.113.91", "user": "root",
                  "source_host": "web1", "message": "Failed password for root"}
                 for i in range(5)]
        node.ingest_ok(fails)
        self.assertEqual(self.queue_depth("minisiem.detect"), 1)  # waiting for a detector
        det = self.node("detect")
        brute = "22b465fd-75c8-42f1-9395-8d61d9daf41a"
        wait_for(lambda: self.alerts_of(brute), 60, "the brute-force alert of the early batch")
        self.assertEqual(self.alerts_of(brute)[0][1], "source_ip=203.0.113.91")

        token = node.login_token()
        auth = {"Authorization": "Bearer " + token}
        n = [0]

        def send(*types):
            evs = []
            for t in types:
                n[0] += 1
                evs.append({"event_id": event_uuid("brk-live", n[0]), "app": "brk-live",
                            "event_type": "LIVE_" + t, "source_host": "web1", "user": "bob",
                            "message": "live %d" % n[0]})
            node.ingest_ok(evs)  # one batch: evaluated in this order

        def on_detector(rule_id, enabled):
            """The detect node's catalog says so (None: the rule is gone)."""
            def check():
                status, _, body = det.get("/rules/" + rule_id)
                if enabled is None:
                    return status == 404
                return status == 200 and body["enabled"] == enabled
            wait_for(check, 30, "rule %s %s on the detect node" % (rule_id, enabled))

        def events_of(rule_id):
            rows = self.alerts_of(rule_id)
            self.assertLessEqual(len(rows), 1, rows)
            return int(rows[0][2]) if rows else 0

        status, _, body = node.request("POST", "/rules", self.LIVE_RULES.encode(),
                                       dict(auth, **{"Content-Type": "application/yaml"}))
        self.assertEqual(status, 201, body)
        on_detector(self.LIVE_A, True)
        on_detector(self.LIVE_B, True)
        send("A")
        wait_for(lambda: events_of(self.LIVE_A) == 1, 60, "the new rule's alert")
        # disabled on the ingest node: A's event before B's in one batch, B's alert proves
        # that A's was evaluated, and A counted nothing
        status, _, body = node.request("POST", "/rules/%s/disable" % self.LIVE_A, b"", auth)
        self.assertEqual(status, 200, body)
        on_detector(self.LIVE_A, False)
        send("A", "B")
        wait_for(lambda: events_of(self.LIVE_B) == 1, 60, "the other rule's alert")
        self.assertEqual(events_of(self.LIVE_A), 1)
        # B deleted and A enabled again: the reverse
        status, _, body = node.request("DELETE", "/rules/" + self.LIVE_B, None, auth)
        self.assertEqual(status, 200, body)
        status, _, body = node.request("POST", "/rules/%s/enable" % self.LIVE_A, b"", auth)
        self.assertEqual(status, 200, body)
        on_detector(self.LIVE_B, None)
        on_detector(self.LIVE_A, True)
        send("B", "A")
        wait_for(lambda: events_of(self.LIVE_A) == 2, 60, "the enabled rule counting again")
        self.assertEqual(events_of(self.LIVE_B), 1)

    # ---- the broker is killed and comes back; it freezes and thaws ----

    def test_broker_killed_gives_503_and_loses_nothing_acknowledged(self):
        """kill -9 of the broker under load: 503s while it is away (the tailer waits, UDP
        counts its drops), then the publisher, the store consumer and the detector each
        connect again and carry on."""
        logs = self.db_dir()
        h = self.node("ingest,store,detect,api", "--syslog-udp", "127.0.0.1:0",
                      "--tail-dir", logs)
        udp_port = int(wait_for(lambda: re.search(r"minisiem: syslog udp on \S+:(\d+)",
                                                  read_text(h.stdout_path)),
                                30, "the syslog udp line").group(1))

        def syslog(msg):
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                u.sendto(b"<13>1 2024-03-15T12:34:56Z web1 brk-udp 1 - - " + msg.encode(),
                         ("127.0.0.1", udp_port))
        before = Load(h, "brk-outage", threads=2, batch=20, max_events=100000).start()
        wait_for(lambda: before.n_acked() >= 200, 60, "ingest before the outage")
        # the queues as a broker that has run a while has them: registered on its disk
        wait_for(lambda: all(self.mq.quorum_registered(self.vhost, q) for q in
                             ("minisiem.store", "minisiem.detect", "minisiem.dead")), 30,
                 "the broker's registry of quorum queues on disk")
        n503 = before.statuses[503]
        self.mq.kill()  # SIGKILL the broker's VM during concurrent ingest
        wait_for(lambda: before.statuses[503] >= n503 + 3, 30, "503s while the broker is away")
        self.assertTrue(before.join(60))
        self.assertTrue(all(ra for ra in before.retry_after), "a 503 without Retry-After")
        self.assertEqual(before.conn_errors, [], "a request without an answer")
        # the tailer waits: lines written now are stored once the broker is back
        with open(os.path.join(logs, "app.jsonl"), "a") as f:
            for i in range(3):
                f.write('{"app": "brk-tail", "message": "line %d"}\n' % i)
        # UDP syslog cannot wait: what the broker did not take is counted as dropped
        for i in range(5):
            syslog("during %d" % i)
        wait_for(lambda: metric(h, "minisiem_syslog_udp_dropped_total") >= 5, 30,
                 "the datagrams counted as dropped")
        status, _, ready = h.get("/ready", token=False)
        self.assertEqual(status, 503, ready)
        broker = ready["components"]["broker"]
        self.assertFalse(broker["ready"], broker)
        self.assertFalse(broker["publishing"], broker)
        self.assertTrue(broker["reason"], broker)
        self.mq.resume()
        wait_for(lambda: h.get("/ready", token=False)[0] == 200, 90, "/ready once it is back")
        detected = metric(h, "minisiem_amqp_detected_total")
        after = Load(h, "brk-outage", threads=2, batch=20, max_events=1000000)
        after.next = 200000  # ids of their own
        after.start()
        wait_for(lambda: after.n_acked() >= 200, 90, "ingest after the broker is back")
        self.assertTrue(after.join(60))
        self.assert_exactly_once([before, after], "brk-outage")
        wait_for(lambda: self.stored("brk-tail") == (3, 3), STORE_DEADLINE,
                 "the lines tailed during the outage, each once")
        syslog("after")
        wait_for(lambda: pgserver.psql(self.db, "SELECT count(*) FROM events WHERE message"
                                                " LIKE '%after'")[0][0] == "1",
                 STORE_DEADLINE, "a datagram stored after the outage")
        # the detector consumes again: every batch evaluated, none left in its queue
        wait_for(lambda: metric(h, "minisiem_amqp_detected_total") > detected
                 and self.queue_depth("minisiem.detect") == 0, 60, "the detector evaluating")

    def test_broker_frozen_is_noticed_by_heartbeats(self):
        """A broker that stops answering (SIGSTOP) with connections open: the heartbeats
        (2 s here) close every link, ingest answers 503 (the confirm timeout is 3 s) and
        never leaves a request hanging, and all recovers after SIGCONT with nothing
        acknowledged lost."""
        h = self.node("ingest,store,detect", "--amqp-heartbeat", "2s")
        wait_for(lambda: h.get("/ready", token=False)[0] == 200, 60, "the node ready")
        before = Load(h, "brk-freeze", threads=2, batch=20, max_events=100000).start()
        wait_for(lambda: before.n_acked() >= 200, 60, "ingest before the broker freezes")
        n503 = before.statuses[503]
        self.mq.freeze()
        try:
            wait_for(lambda: before.statuses[503] >= n503 + 3, 30, "503s while it is frozen")
            # idle links notice it too: nothing comes, not even a heartbeat
            wait_for(lambda: h.stderr().count("heartbeat timeout") >= 3, 30,
                     "the publisher, the store consumer and the detector closing their links")
            # a new connection is taken by the kernel but never answered: the publisher's
            # attempt gives up within the confirm timeout, and ingest still answers
            wait_for(lambda: "publisher: logging in" in h.stderr(), 30,
                     "the publisher trying the frozen broker again")
            n503 = before.statuses[503]
            wait_for(lambda: before.statuses[503] >= n503 + 3, 30, "503s after that")
            status, _, ready = h.get("/ready", token=False)
            self.assertEqual(status, 503, ready)
            self.assertFalse(ready["components"]["broker"]["consuming"], ready)
            self.assertFalse(ready["components"]["broker"]["detecting"], ready)
        finally:
            self.mq.thaw()
        self.assertTrue(before.join(60))
        self.assertEqual(before.conn_errors, [], "a request without an answer")
        self.assertTrue(all(ra for ra in before.retry_after), "a 503 without Retry-After")
        wait_for(lambda: h.get("/ready", token=False)[0] == 200, 90, "/ready after the thaw")
        after = Load(h, "brk-freeze", threads=2, batch=20, max_events=1000000)
        after.next = 200000
        after.start()
        wait_for(lambda: after.n_acked() >= 200, 90, "ingest after the thaw")
        self.assertTrue(after.join(60))
        self.assert_exactly_once([before, after], "brk-freeze")

    # ---- a broker that hangs: no confirm ----

    def test_confirm_that_does_not_come_in_time_gives_503(self):
        h = self.node("ingest,store")
        ev = {"event_id": str(uuid.uuid4()), "message": "late", "app": "brk-late"}
        self.mq.freeze()
        try:
            t0 = time.monotonic()
            status, headers, body = h.ingest([ev])
            waited = time.monotonic() - t0
        finally:
            self.mq.thaw()
        self.assertEqual(status, 503, body)
        self.assertEqual(body.get("error"), "broker unavailable")
        self.assertTrue(headers.get("Retry-After"))
        self.assertGreaterEqual(waited, 2.5)  # --amqp-confirm-timeout 3s, not forever
        self.assertLess(waited, 20)
        # the client's retry succeeds; the late message and the retry are one event
        wait_for(lambda: h.ingest([ev])[0] == 200, 60, "ingest after the broker woke up")
        wait_for(lambda: metric(h, "minisiem_amqp_consumed_total") >= 2
                 and self.queue_depth("minisiem.store") == 0, STORE_DEADLINE,
                 "both messages consumed")
        self.assertEqual(self.stored("brk-late"), (1, 1))

    def test_an_event_without_time_twice_in_one_commit_is_stored_once(self):
        """A late message and its client's retry carry one event_id with two receive times
        (the event had no timestamp); when one commit holds both, one is stored."""
        ingest = self.node("ingest")
        ev = {"event_id": str(uuid.uuid4()), "message": "twice", "app": "brk-twice"}
        ingest.ingest_ok([ev])
        ingest.ingest_ok([ev])
        c = self.mq.client(self.vhost)
        try:
            first, second = c.get("minisiem.store"), c.get("minisiem.store")
            self.assertTrue(first and second)
            # one message holding both batches' events (each batch: one event, nothing else)
            both = first[:8] + struct.pack("<III", 2, 0, 0) + first[20:] + second[20:]
            self.assertTrue(c.publish("minisiem.events", "", both))
        finally:
            c.close()
        store = self.node("store")
        wait_for(lambda: metric(store, "minisiem_amqp_consumed_total") >= 1, STORE_DEADLINE,
                 "the message consumed")
        self.assertEqual(self.stored("brk-twice"), (1, 1))

    # ---- a memory alarm: publishers blocked ----

    def test_memory_alarm_gives_503_not_a_growing_queue(self):
        h = self.node("ingest,store")
        h.ingest_ok([{"message": "before", "app": "brk-alarm"}])
        self.mq.set_memory_watermark("0.0000001")
        try:
            def refused():
                status, headers, _ = h.ingest([{"message": "during", "app": "brk-alarm"}])
                return status == 503 and headers.get("Retry-After")
            wait_for(refused, 30, "503 during the memory alarm", interval=0.2)
            t0 = time.monotonic()
            for i in range(100):
                status, _, _ = h.ingest([{"message": "during %d" % i, "app": "brk-alarm",
                                          "raw_message": "x" * 20000} for _ in range(20)])
                self.assertEqual(status, 503)
            # answered at once, not after a wait for the confirm each
            self.assertLess(time.monotonic() - t0, 60)
            self.assertEqual(metric(h, "minisiem_amqp_blocked"), 1)
            self.assertGreaterEqual(metric(h, "minisiem_amqp_publish_failed_total"), 100)
            # nothing held back for later: the queue to the publisher is empty
            self.assertEqual(metric(h, "minisiem_queue_events"), 0)
            status, _, ready = h.get("/ready", token=False)
            self.assertEqual(status, 503, ready)
            self.assertTrue(ready["components"]["broker"]["blocked"], ready)
        finally:
            self.mq.set_memory_watermark("0.4")
        wait_for(lambda: h.ingest([{"message": "after", "app": "brk-alarm"}])[0] == 200, 60,
                 "ingest once the alarm is over", interval=0.2)
        wait_for(lambda: self.stored("brk-alarm")[0] >= 2, STORE_DEADLINE, "events stored")

    # ---- a poison message ----

    def test_poison_message_ends_in_dead_letters(self):
        self.node("store")
        c = self.mq.client(self.vhost)
        try:
            self.assertTrue(c.publish("minisiem.events", "", b"\x00not a batch\xff" * 10))
        finally:
            c.close()

        def dead():
            return pgserver.psql(self.db, "SELECT source, reason, length(raw) FROM dead_letters"
                                          " WHERE source = 'amqp'")
        rows = wait_for(dead, 30, "the poison message in dead_letters")
        self.assertEqual(len(rows), 1, rows)
        self.assertIn("rejected", rows[0][1])
        self.assertIn("cannot decode", rows[0][1])
        self.assertIn("bad magic", rows[0][1])
        self.assertEqual(int(rows[0][2]), 130)
        # never delivered again: both queues empty, still one row
        wait_for(lambda: self.queue_depth("minisiem.store") == 0
                 and self.queue_depth("minisiem.dead") == 0, 30, "empty queues")
        self.assertEqual(len(dead()), 1)

    def test_batch_the_store_refuses_is_dead_lettered_after_the_delivery_limit(self):
        store = self.node("store")
        ingest = self.node("ingest")
        # The database refuses one application's events, as it would a value it cannot take.
        pgserver.psql(self.db, """
            CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF NEW.app = 'brk-refused' THEN RAISE EXCEPTION 'refused by the test'; END IF;
              RETURN NEW;
            END $$;
            CREATE TRIGGER refuse BEFORE INSERT ON events
              FOR EACH ROW EXECUTE FUNCTION refuse();""")
        ingest.ingest_ok([{"message": "refused", "app": "brk-refused"}])
        ingest.ingest_ok([{"message": "fine", "app": "brk-fine"}])

        def dead():
            return pgserver.psql(self.db, "SELECT reason FROM dead_letters WHERE source = 'amqp'")
        rows = wait_for(dead, 60, "the refused batch in dead_letters")
        self.assertEqual(len(rows), 1, rows)
        self.assertIn("delivery_limit", rows[0][0])
        self.assertIn("a batch of 1 events the store did not commit", rows[0][0])
        # its neighbour is stored, the refused event is not, and nothing is left queued
        wait_for(lambda: self.stored("brk-fine") == (1, 1), STORE_DEADLINE, "the fine event")
        self.assertEqual(self.stored("brk-refused"), (0, 0))
        self.assertGreaterEqual(metric(store, "minisiem_amqp_returned_total"), 5)
        wait_for(lambda: self.queue_depth("minisiem.store") == 0
                 and self.queue_depth("minisiem.dead") == 0, 30, "empty queues")

    # ---- the password ----

    def test_password_from_a_file_and_a_wrong_one(self):
        path = os.path.join(self.db_dir(), "amqp-password")
        with open(path, "w") as f:
            f.write(self.mq.password + "\n")
        os.chmod(path, 0o600)
        h = self.node("ingest,store", "--amqp-password-file", path, password="")
        h.ingest_ok([{"message": "by file", "app": "brk-pw"}])
        wait_for(lambda: self.stored("brk-pw") == (1, 1), STORE_DEADLINE, "the event stored")
        wrong = self.node("ingest", password="not-the-password")
        status, _, body = wrong.ingest([{"message": "x", "app": "brk-pw"}])
        self.assertEqual(status, 503, body)
        self.assertIn("ACCESS_REFUSED", wrong.stderr())
        self.assertNotIn("not-the-password", wrong.stderr())

    def db_dir(self):
        d = tempfile.mkdtemp(prefix="minisiem-e2e-broker-")
        self.addCleanup(shutil.rmtree, d, True)
        return d

    # ---- amqps:// ----

    def test_amqps_verifies_the_brokers_certificate(self):
        h = self.node("ingest,store", "--amqp-ca", self.mq.ca_file, tls=True)
        h.ingest_ok([{"message": "over TLS", "app": "brk-tls"}])
        wait_for(lambda: self.stored("brk-tls") == (1, 1), STORE_DEADLINE, "the event stored")
        # without the test CA the system's CAs do not know the broker: no connection
        untrusted = self.node("ingest", tls=True)
        status, headers, body = untrusted.ingest([{"message": "x", "app": "brk-tls"}])
        self.assertEqual(status, 503, body)
        self.assertEqual(body.get("error"), "broker unavailable")
        self.assertTrue(headers.get("Retry-After"))
        self.assertIn("SSL peer cert verification failed", untrusted.stderr())
        self.assertEqual(metric(untrusted, "minisiem_amqp_connects_total"), 0)

    # ---- kill -9 an ingest node under an agent and HTTP clients ----

    def test_ingest_node_killed_agent_fails_over_every_line_once(self):
        require_agent()
        self.node("store")
        ingests = [self.node("ingest") for _ in range(2)]
        urls = ["http://127.0.0.1:%d" % h.port for h in ingests]
        tmp = tempfile.mkdtemp(prefix="minisiem-broker-agent-")
        self.addCleanup(shutil.rmtree, tmp, True)
        log, err_path = os.path.join(tmp, "auth.log"), os.path.join(tmp, "agent.stderr")
        total = 2000
        with open(log, "w") as f:
            for i in range(total):
                f.write("Nov 21 08:%02d:%02d brk-agent sshd[%d]: Failed password for user%d"
                        " from 10.9.%d.%d port 22 ssh2\n"
                        % (i // 60 % 60, i % 60, 3000 + i, i, i // 250, i % 250 + 1))
        argv = [agent_bin(), "--server", ",".join(urls), "--insecure-http",
                "--state-dir", os.path.join(tmp, "state"), "--flush-ms", "100",
                "--batch", "20", "--retry-max", "1s", "--poll-ms", "20", "--timeout", "5s",
                "--source", "linux-auth:" + log]
        with open(err_path, "wb") as err:
            agent = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=err, start_new_session=True,
                                     env=base_env({"SIEM_AGENT_API_KEY": API_KEY}))

        def stop_agent():
            if agent.poll() is None:
                agent.kill()
                agent.wait()
        self.addCleanup(stop_agent)
        # HTTP clients post to the node that stays, at the same time
        load = Load(ingests[1], "brk-failover", threads=2, batch=20, max_events=2000).start()

        def agent_rows():
            return int(pgserver.psql(self.db, "SELECT count(*) FROM events WHERE"
                                              " host = 'brk-agent'")[0][0])
        wait_for(lambda: agent_rows() >= 200, STORE_DEADLINE, "the agent's first lines stored")
        self.assertLess(agent_rows(), total, "the agent finished before the kill")
        ingests[0].kill()  # SIGKILL mid-stream: the agent goes on to the other ingest node
        try:
            wait_for(lambda: agent_rows() >= total, STORE_DEADLINE, "every line of the agent")
        except AssertionError as e:
            raise AssertionError("%s\n--- agent ---\n%s" % (e, read_text(err_path)[-3000:]))
        r = pgserver.psql(self.db, "SELECT count(*), count(DISTINCT id) FROM events"
                                   " WHERE host = 'brk-agent'")
        self.assertEqual((int(r[0][0]), int(r[0][1])), (total, total), "a line stored twice")
        self.assertIn("the batch goes to %s next" % urls[1], read_text(err_path))
        self.assertTrue(load.join_done(120), "clients still running")
        self.assertEqual(load.statuses[200], 100, load.statuses)
        self.assert_exactly_once([load], "brk-failover")


class Options(unittest.TestCase):
    """Broker mode's usage errors (no broker needed)."""

    def serve(self, *args, env=None):
        r = subprocess.run([BIN, "serve", "--listen", "127.0.0.1:0"] + list(args),
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=60,
                           env=base_env(env or {}))
        return r.returncode, r.stderr

    def test_password_on_the_command_line_is_refused(self):
        rc, err = self.serve("--amqp", "amqp://u:secret@127.0.0.1:1/v", "--postgres",
                             "postgresql://postgres@127.0.0.1:1/x")
        self.assertEqual(rc, 2, err)
        self.assertIn("SIEM_AMQP_PASSWORD", err)
        self.assertNotIn("secret", err)

    def test_broker_mode_needs_postgres(self):
        rc, err = self.serve("--amqp", "amqp://u@127.0.0.1:1/v")
        self.assertEqual(rc, 2, err)
        self.assertIn("needs --postgres", err)

    def test_unknown_role_and_receivers_without_ingest(self):
        pg = "postgresql://postgres@127.0.0.1:1/x"
        rc, err = self.serve("--amqp", "amqp://u@127.0.0.1:1/v", "--postgres", pg,
                             "--roles", "store,alerting")
        self.assertEqual(rc, 2, err)
        self.assertIn("unknown role 'alerting'", err)
        rc, err = self.serve("--amqp", "amqp://u@127.0.0.1:1/v", "--postgres", pg,
                             "--roles", "store", "--syslog-udp", "127.0.0.1:0")
        self.assertEqual(rc, 2, err)
        self.assertIn("need the ingest role", err)

    def test_roles_need_a_broker(self):
        rc, err = self.serve("--roles", "store", "--db", "/nonexistent/x.db")
        self.assertEqual(rc, 2, err)
        self.assertIn("--roles needs --amqp", err)

    def test_url_must_be_amqp(self):
        rc, err = self.serve("--amqp", "http://127.0.0.1/", "--postgres",
                             "postgresql://postgres@127.0.0.1:1/x")
        self.assertEqual(rc, 2, err)
        self.assertIn("not an amqp:// or amqps:// URL", err)


if __name__ == "__main__":
    unittest.main()
