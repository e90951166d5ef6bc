"""test_security_ingest_key.py — the API key that sent an event is recorded in `ingest_key`,
apart from the event's own `source`, and no sender can set it: a key claiming another
agent's source or key name is still recorded as itself; keys of the store carry their id;
syslog, tailed files and the hub's own events have none; segments written before the field
existed are migrated when the store opens and their events stay readable."""

import glob
import json
import os
import re
import socket
import sqlite3
import time

from hub import HubCase, cli, event_uuid, read_text, sqlite_only, wait_for

KEY_A = "agent-a-key-0123456789abcdef"
KEY_B = "agent-b-key-0123456789abcdef"
TWO_KEYS = {"SIEM_API_KEYS": "a:%s,b:%s" % (KEY_A, KEY_B)}
DEADLINE = 30.0
SEGMENT_VERSION = 4  # src/store/schema.c segment_migrations
# what segment migration 3 (enrichment) added, dropped to make a segment of version 0
ENRICH_COLUMNS = ("geo_country", "geo_country_name", "geo_city", "geo_lat", "geo_lon",
                  "geo_asn", "geo_as_org", "tags", "rdns")
SYSLOG_UDP_RE = re.compile(r"minisiem: syslog udp on (\S+):(\d+)")


def ev(tag, **fields):
    e = {"event_id": event_uuid("ingest-key", tag), "event_type": "ingest_key_test",
         "app": "ikey", "message": "ingest key %s" % tag}
    e.update(fields)
    return e


class KeyFromRequest(HubCase):
    """Two environment keys, "a" and "b", on one hub."""

    @classmethod
    def setUpClass(cls):
        cls.hub = cls.class_hub(env=TWO_KEYS)

    def full(self, event_id):
        status, _, body = self.hub.get_event(event_id)
        self.assertEqual(status, 200, body)
        return body

    def test_claimed_source_and_key_are_not_the_recorded_key(self):
        e = ev("claim", source="http:b", ingest_key="b")
        self.assertIngested(self.hub.ingest(e, key=KEY_A), 1)
        got = self.full(e["event_id"])
        self.assertEqual(got["source"], "http:b", "the event's own source is kept as sent")
        self.assertEqual(got["ingest_key"], {"name": "a", "id": None}, got)
        self.assertEqual(got["data"], {"ingest_key": "b"},
                         "a client's ingest_key is an unknown field: it goes to data")

    def test_forged_key_object_goes_to_data(self):
        forged = {"name": "b", "id": 1}
        e = ev("forged-object", ingest_key=forged, data={"k": 1})
        self.assertIngested(self.hub.ingest(e, key=KEY_A), 1)
        got = self.full(e["event_id"])
        self.assertEqual(got["ingest_key"], {"name": "a", "id": None})
        self.assertEqual(got["data"], {"k": 1, "ingest_key": forged})

    def test_key_inside_data_stays_in_data(self):
        e = ev("in-data", data={"ingest_key": {"name": "b", "id": None}})
        self.assertIngested(self.hub.ingest(e, key=KEY_B), 1)
        got = self.full(e["event_id"])
        self.assertEqual(got["ingest_key"], {"name": "b", "id": None})
        self.assertEqual(got["data"], {"ingest_key": {"name": "b", "id": None}})

    def test_every_body_form_records_the_key(self):
        arr = [ev("arr-%d" % i, ingest_key="b", source="http:b") for i in range(3)]
        nd = [ev("nd-%d" % i, ingest_key="b") for i in range(3)]
        self.assertIngested(self.hub.ingest(arr, key=KEY_A), 3)
        self.assertIngested(self.hub.ingest(nd, key=KEY_A, ndjson=True, gzip=True), 3)
        for e in arr + nd:
            self.assertEqual(self.full(e["event_id"])["ingest_key"], {"name": "a", "id": None})

    def test_default_source_and_key_name_the_sender(self):
        e = ev("default")
        self.assertIngested(self.hub.ingest(e, key=KEY_B, key_header="Authorization"), 1)
        got = self.full(e["event_id"])
        self.assertEqual(got["source"], "http:b")
        self.assertEqual(got["ingest_key"], {"name": "b", "id": None})
        self.assertNotIn("data", got)

    def test_list_view_shows_the_key(self):
        e = ev("list", source="http:b", ingest_key="b")
        self.assertIngested(self.hub.ingest(e, key=KEY_A), 1)
        listed = [x for x in self.hub.all_events({"app": "ikey"}) if x["event_id"] == e["event_id"]]
        self.assertEqual(len(listed), 1)
        self.assertEqual(listed[0]["ingest_key"], {"name": "a", "id": None})
        self.assertEqual(listed[0]["source"], "http:b")


class StoreKeys(HubCase):
    def test_store_key_is_recorded_with_its_id(self):
        h = self.own_hub(start=False, env=TWO_KEYS)
        ids = {}
        keys = {}
        for name in ("agent-x", "a"):  # "a" also names an environment key
            r = cli("keys", "create", name, *h.store_args())
            self.assertEqual(r.returncode, 0, r.stderr)
            keys[name] = r.stdout.strip().splitlines()[-1].strip()
        r = cli("keys", "list", "--json", *h.store_args())
        self.assertEqual(r.returncode, 0, r.stderr)
        for o in json.loads(r.stdout):
            ids[o["name"]] = o["id"]
        self.assertEqual(sorted(ids), ["a", "agent-x"], r.stdout)
        h.start()
        sent = {
            "x": (ev("store-x", source="http:b", ingest_key="b"), keys["agent-x"],
                  {"name": "agent-x", "id": ids["agent-x"]}),
            "store-a": (ev("store-a"), keys["a"], {"name": "a", "id": ids["a"]}),
            "env-a": (ev("env-a"), KEY_A, {"name": "a", "id": None}),
        }
        for e, key, _ in sent.values():
            self.assertIngested(h.ingest(e, key=key), 1)
        for what, (e, _, want) in sent.items():
            status, _, got = h.get_event(e["event_id"])
            self.assertEqual(status, 200, got)
            self.assertEqual(got["ingest_key"], want, what)
        self.assertEqual(h.get_event(sent["x"][0]["event_id"])[2]["source"], "http:b")


class KeylessSources(HubCase):
    def test_syslog_tail_and_own_events_have_no_key(self):
        h = self.own_hub(start=False, env=TWO_KEYS)
        logs = os.path.join(h.tmpdir, "logs")
        os.makedirs(logs)
        h.args = ["--syslog-udp", "127.0.0.1:0", "--tail-dir", logs]
        h.start()
        m = wait_for(lambda: SYSLOG_UDP_RE.search(read_text(h.stdout_path)), DEADLINE,
                     "the hub's 'syslog udp on' line")
        addr = (m.group(1), int(m.group(2)))

        msg = b"<13>1 2024-03-15T12:34:56.123Z ikhost ikeysyslog 42 ID1 - keyless syslog line"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(msg, addr)

        tailed = ev("tailed", app="ikeytail", source="http:a", ingest_key="a")
        with open(os.path.join(logs, "app.jsonl"), "w") as f:
            f.write(json.dumps(tailed) + "\n")

        status, _, _ = h.request("POST", "/auth/login", {"password": "not-the-password"})
        self.assertEqual(status, 401)

        def stored(params):
            def found():
                got = h.events(params)["events"]
                return got if got else None
            return wait_for(found, DEADLINE, "an event for %r" % (params,))

        cases = {
            "syslog": stored({"app": "ikeysyslog"}),
            "tail": stored({"app": "ikeytail"}),
            "failed login": stored({"app": "minisiem", "event_type": "LOGIN_FAIL"}),
        }
        for what, listed in cases.items():
            self.assertEqual(len(listed), 1, what)
            self.assertNotIn("ingest_key", listed[0], what)
            status, _, got = h.get_event(listed[0]["event_id"])
            self.assertEqual(status, 200, got)
            self.assertNotIn("ingest_key", got, what)
        status, _, got = h.get_event(tailed["event_id"])
        self.assertEqual(got["source"], "tail")
        self.assertEqual(got["data"], {"ingest_key": "a"},
                         "a tailed line's ingest_key is an unknown field like any other")


def segment_files(db):
    return sorted(glob.glob(db + "-segments/seg-*.db"))


def columns(con):
    return [r[1] for r in con.execute("PRAGMA table_info(events)")]


@sqlite_only  # rewrites the segment files with sqlite3
class OldSegments(HubCase):
    """A store whose segments predate ingest_key: made here from a current one by dropping
    the two columns and the segment version, which is what an older hub wrote."""

    def test_old_segments_are_migrated_and_stay_readable(self):
        h = self.own_hub(env=TWO_KEYS, args=["--segment-rows", "1000"])
        base = int(time.time()) - 3600  # recent: retention must not remove the sealed segment
        first = [ev("old-%d" % i, timestamp=base + i) for i in range(1000)]
        self.assertIngested(h.ingest(first, key=KEY_A), 1000)
        later = [ev("old-later-%d" % i, timestamp=base + 2000 + i) for i in range(5)]
        self.assertIngested(h.ingest(later, key=KEY_B), 5)  # the second segment
        h.stop()
        segs = segment_files(h.db)
        self.assertGreaterEqual(len(segs), 2, segs)
        for path in segs:
            con = sqlite3.connect(path)
            try:
                self.assertEqual(con.execute("PRAGMA user_version").fetchone()[0], SEGMENT_VERSION, path)
                self.assertIn("ingest_key", columns(con), path)
                con.execute("ALTER TABLE events DROP COLUMN ingest_key")
                con.execute("ALTER TABLE events DROP COLUMN ingest_key_id")
                con.execute("DROP INDEX IF EXISTS events_country")
                for col in ENRICH_COLUMNS:
                    con.execute("ALTER TABLE events DROP COLUMN " + col)
                con.execute("PRAGMA user_version=0")
                con.commit()
                self.assertNotIn("ingest_key", columns(con), path)
            finally:
                con.close()

        h.start()
        for e in (first[0], first[999], later[4]):
            status, _, got = h.get_event(e["event_id"])
            self.assertEqual(status, 200, got)
            self.assertEqual(got["message"], e["message"])
            self.assertNotIn("ingest_key", got, "an old event has no recorded key")
        self.assertEqual(len(h.all_events({"app": "ikey"})), 1005)
        new = ev("after-migration", source="http:b", ingest_key="b")
        self.assertIngested(h.ingest(new, key=KEY_A), 1)
        status, _, got = h.get_event(new["event_id"])
        self.assertEqual(got["ingest_key"], {"name": "a", "id": None}, got)

        h.restart()  # and the key is kept across a plain restart
        status, _, got = h.get_event(new["event_id"])
        self.assertEqual(got["ingest_key"], {"name": "a", "id": None}, got)
        h.stop()
        for path in segment_files(h.db):
            con = sqlite3.connect(path)
            try:
                self.assertEqual(con.execute("PRAGMA user_version").fetchone()[0], SEGMENT_VERSION, path)
                self.assertIn("ingest_key_id", columns(con), path)
            finally:
                con.close()
