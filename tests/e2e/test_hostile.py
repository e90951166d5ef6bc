"""test_hostile.py — DESIGN §7 against a hostile client: a matrix of nasty bodies, query
values, paths, headers and connections. Each case checks its exact answer, that the hub
still answers /health, and that the events accepted before (seeded at class setup, across a
sealed-and-indexed segment and the active one) are all still there."""

import http.client
import json
import socket
import threading
import time
import urllib.parse

from helpers import metrics, post_stream, raw_exchange, status_of, timed_get
from hub import API_KEY, HubCase, as_stored, event_uuid, wait_for

CONN_TIMEOUT = 4  # seconds: the class hub's --conn-timeout (idle connections are closed)
SEGMENT_ROWS = 1000  # the smallest --segment-rows: the seed fills one segment, then rolls
MB = 1024 * 1024
FILLER = 1000
TS0 = 1767225600  # 2026-01-01T00:00:00Z: seeds have fixed times, oldest first

# ---- seeded values ----

# Filter values that mean something to SQL, LIKE, GLOB, FTS or URL decoding; each must match
# only the events holding exactly that value.
SPECIALS = [
    "o'brien", 'say "hi"', "semi;colon", "dash--dash", "a%b", "a_b", "x*y", "back\\slash",
    "ünï-cødé ☃", "paren(x)", "%", "_", "*", "'", "1' OR '1'='1", "a;DROP TABLE events;--",
    "[ab]", "a?b", "^caret$", "a b", "a+b", "nul\x00x", "a%", "%b", "tab\there",
]
# Values that a wildcard, case-folding, prefix or truncating implementation would return.
DECOYS = ["aXb", "aXXb", "ab", "a", "b", "xzy", "xy", "o", "obrien", "o''brien", "nul",
          "A%B", "a;DROP TABLE events", "backslash", "1", "say hi", "aXb%", "semi"]

# Fields filterable by exact value: query parameter -> stored field.
STR_FILTERS = [("app", "app"), ("event_type", "event_type"), ("level", "level"),
               ("source_host", "source_host"), ("host", "source_host"), ("user", "user"),
               ("user_id", "user"), ("request_id", "request_id"), ("os_type", "os_type")]

# Messages for the word search (app "qtext"): FTS5 operators and punctuation, literally.
Q_MESSAGES = {
    "or": "alpha OR beta", "ab": "alpha beta", "not": "NOT gamma here", "g": "gamma only",
    "near": "call NEAR(delta, 5) now", "d": "delta near nothing",
    "quote": 'he said "quoted text" ok', "star": "star* wild", "starry": "starry night",
    "caret": "caret ^top", "top": "top only", "minus": "minus -flag set", "flag": "flag alone",
    "colon": "key:value pair", "keyv": "key value", "apos": "o'brien logged in",
    "pct": "progress 100% done", "under": "snake_case word", "snake": "snake case word",
    "semi": "stmt; DROP TABLE events; --", "uni": "été ☃ naïve", "ete": "ete naive",
    "back": "path C:\\temp\\x", "fail": "Failed password for root", "nul": "nulq\x00zzz",
    "nulq": "nulq other", "paren": "fn(arg) {block}", "plus": "a+b c",
    "city": "login from Zürich über proxy", "city2": "login from Zurich uber proxy",
}
Q_TERMS = [
    "OR", "or", "alpha OR", "OR beta", "NOT", "NOT gamma", "NEAR(", "NEAR(delta", "NEAR",
    "near", '"quoted', '"', '"quoted text"', "*", "star*", "star", "^", "^top", "-", "-flag",
    ":", "key:value", "key:", "'", "o'brien", "%", "100%", "_", "snake_case", ";", "--",
    "DROP TABLE", "\\", "C:\\temp", "été", "☃", "naïve", "ailed", "fail", "FAIL", "AND",
    "(", ")", "{", "}", "fn(arg)", "a*", "*a", "+", "a+b", "nulq\x00zzz", "alpha  beta",
    "alpha\tbeta", "Zürich", "über", "Zurich", "rich",
]
# Whatever "rich" finds must not depend on the segment (indexed or not) that holds the event.
Q_CONSISTENT_ONLY = {"rich"}


def ascii_upper(s):
    return "".join(chr(ord(c) - 32) if "a" <= c <= "z" else c for c in s)


def stored(field, v):
    """The value the hub stores (and compares a query value against) for field."""
    return ascii_upper(v) if field in ("os_type", "level") else v


def term_in(text, term):
    """docs/storage.md: a term occurs anywhere (a substring), ASCII case-insensitively."""
    return term.encode().lower() in text.encode().lower()


def q_matches(message, q):
    terms = q.split()
    return bool(terms) and all(term_in(message, t) for t in terms)


def short(x, n=300):
    r = repr(x)
    return r if len(r) <= n else r[:n] + "...(%d chars)" % len(r)


class Hostile(HubCase):
    seeds = {}  # event_id -> event as sent
    sentinels = set()  # ids checked after every case

    @classmethod
    def setUpClass(cls):
        cls.hub = cls.class_hub(args=["--max-body", "16m", "--segment-rows", str(SEGMENT_ROWS),
                                      "--conn-timeout", "%ds" % CONN_TIMEOUT])
        cls.seed()

    @classmethod
    def make_seeds(cls, copy, t0):
        evs = []

        def add(tag, **kw):
            e = {"event_id": event_uuid("hostile", copy, tag), "timestamp": t0 + len(evs),
                 "severity": 3}
            e.update(kw)
            evs.append(e)

        for i in range(50):
            add("sentinel-%d" % i, app="sentinel", event_type="sentinel", message="s %d" % i)
        for i, v in enumerate(SPECIALS + DECOYS):
            add("value-%d" % i, app=v, event_type=v, level=v, source_host=v, user=v,
                request_id=v, os_type=v, message="value %d" % i)
        for k, m in Q_MESSAGES.items():
            add("q-" + k, app="qtext", event_type="qtext", message=m)
        return evs

    @classmethod
    def seed(cls):
        h = cls.hub
        filler = [{"event_id": event_uuid("hostile", "filler", i), "timestamp": TS0 + i,
                   "app": "filler", "event_type": "filler", "message": "filler %d" % i}
                  for i in range(FILLER)]
        first = filler + cls.make_seeds("A", TS0 + FILLER)
        second = cls.make_seeds("B", TS0 + 10 * FILLER)
        for batch in (first, second):  # two requests: the second one starts a new segment
            h.ingest_ok(batch)
            for e in batch:
                cls.seeds[e["event_id"]] = e
        cls.sentinels = {eid for eid, e in cls.seeds.items() if e.get("app") == "sentinel"}

        def indexed():
            m = metrics(h)
            return (m.get("minisiem_store_segments", 0) >= 2 and
                    m.get("minisiem_store_segments_unindexed", 1) == 0)
        if h.backend == "sqlite":  # PostgreSQL has no segments: one table holds both copies
            wait_for(indexed, 60, "the first segment to be sealed and indexed")

    # ---- after every case ----

    def hub_intact(self):
        status, _, body = self.hub.request("GET", "/health")
        self.assertEqual(status, 200, "hub unhealthy after the case: %s" % short(body))
        ids = {e["event_id"] for e in self.hub.all_events({"app": "sentinel"})}
        self.assertEqual(ids, self.sentinels, "seeded events lost or changed: missing %r, extra %r"
                         % (self.sentinels - ids, ids - self.sentinels))

    def post(self, body, ctype="application/json"):
        return self.hub.request("POST", "/ingest", body,
                                {"X-API-Key": API_KEY, "Content-Type": ctype})

    def error(self, resp, status, what):
        got, _, body = resp
        self.assertEqual(got, status, "%s: want %s, got %s %s" % (what, status, got, short(body)))
        self.assertIsInstance(body, dict, "%s: error answers are JSON" % what)
        self.assertIsInstance(body.get("error"), str, "%s: %s" % (what, short(body)))
        return body

    def stored_event(self, eid):
        status, _, got = self.hub.get_event(eid)
        self.assertEqual(status, 200, "%s: %s" % (eid, short(got)))
        return got

    # ---- bodies ----

    def test_deep_nesting_is_400(self):
        depth = 100000
        cases = {
            "arrays": b"[" * depth,
            "arrays closed": b"[" * depth + b"]" * depth,
            "objects": b'{"a":' * depth,
            "objects closed": b'{"a":' * depth + b"1" + b"}" * depth,
            "in data": b'{"event_type":"deep","data":' + b'{"a":' * depth + b"1" + b"}" * depth + b"}",
            "in array of events": b'[{"event_type":"deep"},' + b"[" * depth + b"]" * depth + b"]",
            "ndjson line": b'{"event_type":"deep"}\n' + b"[" * depth + b"\n",
        }
        for name, body in cases.items():
            with self.subTest(case=name):
                if name == "ndjson line":
                    # NDJSON: the deep line is a rejection, the good line is kept
                    got, _, ans = self.post(body, "application/x-ndjson")
                    self.assertEqual(got, 200, short(ans))
                    self.assertEqual(ans.get("accepted"), 1, short(ans))
                    self.assertEqual([r["index"] for r in ans.get("rejected") or []], [1], short(ans))
                else:
                    self.error(self.post(body), 400, name)
        self.hub_intact()

    def test_ten_megabyte_strings_are_capped(self):
        big = "x" * (10 * MB)
        cases = [
            ("message", {"message": big}, "message", 8 * 1024),
            ("message utf-8", {"message": "é" * (5 * MB)}, "message", 8 * 1024),
            ("raw_message", {"event_type": "big", "raw_message": big}, "raw_message", 64 * 1024),
            ("user", {"event_type": "big", "user": big}, "user", 1024),
            ("data", {"event_type": "big", "data": {"s": big}}, "data", None),
            ("unknown field", {"event_type": "big", "huge_field": big}, "data", None),
            ("unknown key", {"event_type": "big", big: 1}, "data", None),
        ]
        for i, (name, fields, capped, cap) in enumerate(cases):
            with self.subTest(case=name):
                e = {"event_id": event_uuid("hostile", "big", i), "app": "hostile"}
                e.update(fields)
                body = json.dumps(e, ensure_ascii=False).encode()
                self.assertGreater(len(body), 10 * MB)
                self.assertIngested(self.hub.ingest(body), 1)
                got = self.stored_event(e["event_id"])
                self.assertIn(capped, got.get("truncated") or [], "no trace of the cap: %r"
                              % {k: v for k, v in got.items() if k not in ("message", "raw_message")})
                if cap is not None:
                    value = got[capped]
                    self.assertLessEqual(len(value.encode()), cap, name)
                    self.assertGreater(len(value), 0, name)
                    self.assertTrue(e[capped].startswith(value), "%s: not a prefix" % name)
                else:
                    self.assertEqual(got["data"].get("_truncated"), True, str(got["data"])[:200])
                    self.assertGreater(got["data"].get("_original_bytes", 0), 10 * MB)
        self.hub_intact()

    def test_ten_megabyte_body_on_a_default_hub_is_413(self):
        h = self.own_hub()  # default --max-body 8m
        e = {"event_id": event_uuid("hostile", "big413"), "app": "hostile", "message": "x" * (10 * MB)}
        status, _, body = post_stream(h.port, "/ingest", {"X-API-Key": API_KEY,
                                                          "Content-Type": "application/json"},
                                      json.dumps(e).encode())
        self.assertEqual(status, 413, short(body))
        self.assertEqual(h.get_event(e["event_id"])[0], 404)
        self.assertEqual(h.request("GET", "/health")[0], 200)
        self.hub_intact()

    def test_invalid_utf8_is_400(self):
        cases = {
            "lone 0xff": b'{"event_type":"u","message":"a\xffb"}',
            "overlong slash": b'{"event_type":"u","message":"\xc0\xaf"}',
            "encoded surrogate": b'{"event_type":"u","message":"\xed\xa0\x80"}',
            "truncated sequence": b'{"event_type":"u","message":"\xe2\x82"}',
            "over U+10FFFF": b'{"event_type":"u","message":"\xf4\x90\x80\x80"}',
            "in a key": b'{"event_type":"u","k\xfe":1}',
            "in app": b'{"event_type":"u","app":"\x80"}',
            "second of a batch": b'[{"event_type":"u"},{"event_type":"u","user":"\xff"}]',
        }
        for name, body in cases.items():
            with self.subTest(case=name):
                self.error(self.post(body), 400, name)
        self.hub_intact()

    def test_nul_bytes(self):
        e = {"event_id": event_uuid("hostile", "nul"), "app": "hostile", "event_type": "nul\u0000t",
             "message": "be\u0000fore", "raw_message": "\u0000raw\u0000", "user": "u\u0000v",
             "source_host": "h\u0000", "request_id": "\u0000", "data": {"v": "v\u0000al", "z": "\u0000"}}
        self.assertIngested(self.hub.ingest(e), 1)
        got = self.stored_event(e["event_id"])
        for f in ("event_type", "message", "raw_message", "user", "source_host", "request_id"):
            self.assertEqual(got.get(f), as_stored(e[f]), f)
        self.assertEqual(got.get("data"), e["data"])
        # A NUL in a key: the body is refused (400, jansson's "NUL byte in object key"), never
        # stored with a key cut short at the NUL.
        eid = event_uuid("hostile", "nulkey")
        ans = self.error(self.hub.ingest({"event_id": eid, "app": "hostile",
                                          "event_type": "nulkey", "k\u0000ey": "v",
                                          "data": {"a\u0000b": 1}}), 400, "NUL in a key")
        self.assertIn("NUL byte in object key", ans.get("detail") or "", short(ans))
        self.assertEqual(self.hub.get_event(eid)[0], 404)
        # a raw NUL byte inside a JSON string is not JSON (control characters are escaped)
        self.error(self.post(b'{"event_type":"n","message":"a\x00b"}'), 400, "raw NUL in string")
        self.error(self.post(b'{"event_type":"n"}\x00'), 400, "raw NUL after the value")
        self.hub_intact()

    def test_huge_numbers(self):
        # Numbers the hub can represent (int64, double, incl. -0 and underflow to 0) are kept;
        # RFC 8259 lets a parser limit range, and the hub's contract (docs/api.md) is that an
        # integer beyond int64 or a real beyond double makes the body malformed: 400 naming
        # the number, nothing of that body stored.
        big = "123456789012345678901234567890"
        kept = [
            ("-0 in data", '{"n": -0}'),
            ("-0.0 in data", '{"n": -0.0}'),
            ("1e-400 in data", '{"n": 1e-400}'),
            ("int64 max in data", '{"n": 9223372036854775807}'),
        ]
        for i, (name, data) in enumerate(kept):
            with self.subTest(case=name):
                eid = event_uuid("hostile", "num", i)
                body = ('{"event_id": "%s", "app": "hostile", "event_type": "num", "data": %s}'
                        % (eid, data)).encode()
                self.assertIngested(self.post(body), 1)
                got = self.stored_event(eid)
                self.assertIn("n", got.get("data") or {}, short(got))
                if "int64" not in name:
                    self.assertEqual(float(got["data"]["n"]), 0.0, got["data"])
        refused = [
            ("1e400 in data", '{"n": 1e400}', "overflow"),
            ("-1e400 in data", '{"n": -1e400}', "overflow"),
            ("big integer in data", '{"n": %s}' % big, "too big"),
            ("negative big integer in data", '{"n": -%s}' % big, "too big"),
            ("uint64 max in data", '{"n": 18446744073709551615}', "too big"),
            ("big severity", '{"n": 1, "severity": %s}' % big, "too big"),
        ]
        for i, (name, data, why) in enumerate(refused):
            with self.subTest(case=name):
                eid = event_uuid("hostile", "num-refused", i)
                body = ('{"event_id": "%s", "app": "hostile", "event_type": "num", "data": %s}'
                        % (eid, data)).encode()
                ans = self.error(self.post(body), 400, name)
                self.assertIn(why, ans.get("detail") or "", short(ans))
                self.assertEqual(self.hub.get_event(eid)[0], 404)
        for field, value in (("severity", "-0"), ("severity", "1e300"), ("http_status", "-1e300")):
            with self.subTest(case="%s %s" % (field, value)):
                ans = self.error(self.post(('{"event_type": "num", "%s": %s}' % (field, value))
                                           .encode()), 422, field)
                rej = ans.get("rejected") or []
                self.assertTrue(rej and rej[0]["error"].startswith(field + ":"), short(ans))
        self.hub_intact()

    def test_duplicate_keys(self):
        # The last value of a repeated key is the one used (jansson's rule, for every key),
        # never both, never a mix.
        eid = event_uuid("hostile", "dup", 0)
        self.assertIngested(self.post(('{"event_id": "%s", "app": "hostile", "event_type": '
                                       '"dup", "user": "first", "user": "second"}' % eid)
                                      .encode()), 1)
        self.assertEqual(self.stored_event(eid)["user"], "second")
        ids = [event_uuid("hostile", "dup", 1), event_uuid("hostile", "dup", 2)]
        self.assertIngested(self.post(('{"event_id": "%s", "event_id": "%s", "app": "hostile",'
                                       ' "event_type": "dup"}' % tuple(ids)).encode()), 1)
        self.assertEqual([self.hub.get_event(i)[0] for i in ids], [404, 200])
        eid = event_uuid("hostile", "dup", 3)
        self.assertIngested(self.post(('{"event_id": "%s", "app": "hostile", "event_type": '
                                       '"dup", "severity": 9, "severity": 4}' % eid).encode()), 1)
        self.assertEqual(self.stored_event(eid)["severity"], 4)
        self.hub_intact()

    # ---- query values ----

    def expect_ids(self, pred):
        return {eid for eid, e in self.seeds.items() if pred(e)}

    def check_query(self, params, want, what):
        status, _, body = self.hub.get("/events", list(params) + [("limit", 1000)])
        self.assertEqual(status, 200, "%s: %s" % (what, short(body)))
        got = {e["event_id"] for e in body["events"]}
        self.assertIsNone(body.get("next_cursor"), what)
        if got != want:
            def name(i):
                e = self.seeds.get(i)
                return repr(e.get("app") if e else i)
            self.fail("%s: missing %s, extra %s" % (what, sorted(map(name, want - got)),
                                                    sorted(map(name, got - want))))

    def test_filter_values_match_literally(self):
        for param, field in STR_FILTERS:
            for v in SPECIALS:
                with self.subTest(param=param, value=v):
                    want = self.expect_ids(lambda e: field in e and
                                           stored(field, e[field]) == stored(field, v))
                    if "\x00" in v:
                        # a NUL may be refused (400); it must never cut the value short
                        status, _, body = self.hub.get("/events", [(param, v), ("limit", 1000)])
                        if status == 400:
                            continue
                    self.assertTrue(want, "seed missing for %r" % v)
                    self.check_query([(param, v)], want, "%s=%r" % (param, v))
        self.hub_intact()

    def test_filter_several_values(self):
        for vals in (["a%b", "a_b"], ["%", "_", "*"], ["o'brien", "'"], ["x*y", "nothing-here"]):
            with self.subTest(values=vals):
                want = self.expect_ids(lambda e: e.get("app") in vals)
                self.check_query([("app", v) for v in vals], want, "app=%r (repeated)" % vals)
                self.check_query([("app", ",".join(vals))], want, "app=%r (commas)" % vals)
        with self.subTest(case="combined filters"):
            want = self.expect_ids(lambda e: e.get("app") == "a%b" and e.get("user") == "a%b")
            self.check_query([("app", "a%b"), ("user", "a%b"), ("level", "a%b")], want, "a%b x3")
            self.check_query([("app", "a%b"), ("user", "a_b")], set(), "a%b and a_b")
        self.hub_intact()

    def test_filter_raw_encodings(self):
        # Query strings written by hand: '+' is a space, %2B a plus, %00 a NUL, %FF no UTF-8.
        for qs, want_app in (("app=a+b", "a b"), ("app=a%2Bb", "a+b"), ("app=a%20b", "a b"),
                             ("app=%25", "%"), ("app=%5F", "_"), ("app=a%25b", "a%b"),
                             ("app=o%27brien", "o'brien"), ("app=%2A", "*")):
            with self.subTest(qs=qs):
                want = self.expect_ids(lambda e: e.get("app") == want_app)
                self.assertTrue(want)
                self.check_query(urllib.parse.parse_qsl(qs, keep_blank_values=True), want, qs)
                status, _, body = self.hub.get("/events?" + qs + "&limit=1000")
                self.assertEqual(status, 200, short(body))
                self.assertTrue({e["event_id"] for e in body["events"]} == want,
                                "%s: %d events, want %d" % (qs, len(body["events"]), len(want)))
        # bytes that are not UTF-8 match nothing; a NUL is refused, naming the parameter
        for qs in ("app=%FF", "app=%C0%AF", "user=%ED%A0%80"):
            with self.subTest(qs=qs):
                status, _, body = self.hub.get("/events?" + qs + "&limit=1000")
                self.assertEqual(status, 200, short(body))
                self.assertEqual(len(body["events"]), 0, "%s matched %d events, e.g. %s"
                                 % (qs, len(body["events"]), short(body["events"][:2])))
        for qs in ("app=nul%00", "app=%00"):
            with self.subTest(qs=qs):
                status, _, body = self.hub.get("/events?" + qs + "&limit=1000")
                self.assertEqual(status, 400, short(body))
                self.assertEqual(body.get("detail"), "app: contains a NUL byte", short(body))
        self.hub_intact()

    def test_typed_filters_with_metacharacters_are_400(self):
        for param in ("severity", "http_status", "source_ip", "src_ip", "from", "to", "limit",
                      "cursor"):
            for v in ("1' OR '1'='1", "1;--", "%", "_", "*", "1)", "\\", "\x00", "1\x002"):
                with self.subTest(param=param, value=v):
                    status, _, body = self.hub.get("/events", [(param, v)])
                    self.assertEqual(status, 400, "%s=%r: %s" % (param, v, short(body)))
                    self.assertIn(param, str(body.get("detail")), short(body))
        # /event-types?app=: each seeded app has one event type, its own name
        for v in ("1' OR '1'='1", "%", "_", "a%b", "a_b", "'", "zz' OR 1=1 --", "a%", "[ab]"):
            with self.subTest(param="event-types app", value=v):
                status, _, body = self.hub.get("/event-types", [("app", v)])
                self.assertEqual(status, 200, short(body))
                want = [v] if v in SPECIALS else []
                self.assertEqual([x["value"] for x in body["values"]], want, short(body))
        self.hub_intact()

    def test_text_search_is_literal(self):
        for q in Q_TERMS:
            with self.subTest(q=q):
                want = self.expect_ids(lambda e: e.get("app") == "qtext" and
                                       q_matches(e["message"], q))
                status, _, body = self.hub.get("/events", [("q", q), ("app", "qtext"),
                                                           ("limit", 1000)])
                if "\x00" in q and status == 400:
                    continue
                self.assertEqual(status, 200, "q=%r: %s" % (q, short(body)))
                got = {e["event_id"] for e in body["events"]}
                # the same message in the indexed segment (copy A) and the active one (B)
                for k in Q_MESSAGES:
                    a, b = (event_uuid("hostile", c, "q-" + k) in got for c in "AB")
                    self.assertEqual(a, b, "q=%r finds %r only in the %s segment"
                                     % (q, Q_MESSAGES[k], "indexed" if a else "active"))
                if q not in Q_CONSISTENT_ONLY:
                    self.check_query([("q", q), ("app", "qtext")], want, "q=%r" % q)
        with self.subTest(q="1025 bytes"):
            status, _, body = self.hub.get("/events", [("q", "a" * 1025)])
            self.assertEqual(status, 400, short(body))
        with self.subTest(q="1024 bytes of operators"):
            status, _, body = self.hub.get("/events", [("q", ("OR NEAR( " * 200)[:1024])])
            self.assertEqual(status, 200, short(body))
        with self.subTest(q="many short terms"):
            # 1024 bytes: inside the limit; 512 times the term "a" finds what "a" finds
            status, _, body = self.hub.get("/events", [("q", "a " * 512), ("app", "qtext"),
                                                       ("limit", 1000)])
            self.assertEqual(status, 200, short(body))
            want = self.expect_ids(lambda e: e.get("app") == "qtext" and
                                   q_matches(e["message"], "a"))
            self.assertEqual({e["event_id"] for e in body["events"]}, want)
        self.hub_intact()

    def test_event_id_path_values(self):
        for path, want in (("/events/' OR 1=1 --", 400), ("/events/%25", 400),
                           ("/events/%2A", 400), ("/events/" + "0" * 32, 404),
                           ("/events/" + event_uuid("hostile", "A", "sentinel-1").upper(), 200)):
            with self.subTest(path=path):
                status, _, body = self.hub.get(urllib.parse.quote(path, safe="/%"))
                self.assertEqual(status, want, "%s: %s" % (path, short(body)))
        self.hub_intact()

    # ---- paths ----

    def test_path_traversal(self):
        paths = ["/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/events/..%2f..%2fetc%2fpasswd",
                 "//etc/passwd", "/events/../../../etc/passwd", "/ui/../../etc/passwd",
                 "/%2e%2e%2f%2e%2e%2fetc%2fpasswd", "/..%5c..%5cetc%5cpasswd", "/etc/passwd%00.json",
                 "/events/%2e%2e", "/./health/../../etc/passwd", "/health/../../../etc/passwd"]
        for p in paths:
            for token in (None, False):
                with self.subTest(path=p, auth=token is None):
                    data, closed = raw_exchange(self.hub.port, (
                        "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s\r\n"
                        % (p, "Authorization: Bearer %s\r\n" % self.hub.login_token()
                           if token is None else "")).encode(), 10)
                    self.assertNotIn(b"root:", data)
                    # no route has such a path (a dot segment is not resolved, %2F is no
                    # separator); only /events/{id} exists, and "..", as an id, is no UUID
                    want = 404
                    if p == "/events/%2e%2e":
                        want = 400 if token is None else 401
                    self.assertEqual(status_of(data), want, data[:300])
        self.hub_intact()

    # ---- headers and garbage ----

    def test_huge_headers(self):
        tok = self.hub.login_token()
        cases = {
            "5000 small headers": b"GET /health HTTP/1.1\r\nHost: x\r\n" +
            b"".join(b"X-H%d: v\r\n" % i for i in range(5000)) + b"\r\n",
            "5000 headers on /events": ("GET /events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                                        "%s\r\n" % tok).encode() +
            b"".join(b"X-H%d: v\r\n" % i for i in range(5000)) + b"\r\n",
            "one 100 KB header": b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 100000 +
            b"\r\n\r\n",
            "100 KB bearer token": b"GET /events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
            b"e" * 100000 + b"\r\n\r\n",
            "100 KB API key": b"POST /ingest HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nX-API-Key: " +
            b"k" * 100000 + b"\r\n\r\n{}",
            "5000 repeated X-API-Key": b"POST /ingest HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n" +
            b"X-API-Key: " + API_KEY.encode() + b"\r\n" + b"X-API-Key: k\r\n" * 5000 + b"\r\n{}",
            "100 KB header name": b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"N" * 100000 +
            b": v\r\n\r\n",
        }
        for name, data in cases.items():
            with self.subTest(case=name):
                out, closed = raw_exchange(self.hub.port, data, CONN_TIMEOUT + 10)
                st = status_of(out)
                self.assertTrue(st in (400, 413, 414, 431) or (st is None and closed),
                                "%s: got %r (closed %s)" % (name, out[:200], closed))
                self.assertEqual(self.hub.request("GET", "/health")[0], 200, name)
        self.hub_intact()

    def test_garbage_http(self):
        cases = {
            "binary junk": bytes(range(256)) * 4,
            "NUL-led junk": b"\x00\x01\x02\xff\xfe garbage \x80\x81\r\n\r\n",
            "high bytes": b"\xff\xfe\x80 garbage\r\n\r\n",
            "empty lines": b"\r\n\r\n\r\n",
            "HTTP/0.9": b"GET /health\r\n\r\n",
            "HTTP/0.9 bare LF": b"GET /health\n",
            "absurd method": b"FROBNICATE /health HTTP/1.1\r\nHost: x\r\n\r\n",
            "10 KB method": b"A" * 10000 + b" /health HTTP/1.1\r\nHost: x\r\n\r\n",
            "binary method": b"\x01\x02 /events HTTP/1.1\r\nHost: x\r\n\r\n",
            "lower-case get": b"get /health HTTP/1.1\r\nHost: x\r\n\r\n",
            "1 MB request line": b"GET /" + b"a" * MB + b" HTTP/1.1\r\nHost: x\r\n\r\n",
            "1 MB query": b"GET /events?app=" + b"%25" * (MB // 3) + b" HTTP/1.1\r\nHost: x\r\n\r\n",
            "HTTP/9.9": b"GET /health HTTP/9.9\r\nHost: x\r\n\r\n",
            "HTTP/2 preface": b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
            "TLS hello": bytes.fromhex("16030100a5010000a10303") + b"\x00" * 160,
            "negative length": b"POST /ingest HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
            "two lengths": ("POST /ingest HTTP/1.1\r\nHost: x\r\nX-API-Key: %s\r\nContent-Length: 5"
                            "\r\nContent-Length: 50\r\n\r\n{\"a\":" % API_KEY).encode(),
            "length and chunked": ("POST /ingest HTTP/1.1\r\nHost: x\r\nX-API-Key: %s\r\n"
                                   "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
                                   % API_KEY).encode(),
            "bad chunk size": ("POST /ingest HTTP/1.1\r\nHost: x\r\nX-API-Key: %s\r\nTransfer-"
                               "Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n" % API_KEY).encode(),
            "huge chunk size": ("POST /ingest HTTP/1.1\r\nHost: x\r\nX-API-Key: %s\r\nTransfer-"
                                "Encoding: chunked\r\n\r\nffffffffffffffffff\r\nabc\r\n" % API_KEY).encode(),
            "header without colon": b"GET /health HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n",
            "space before colon": b"GET /events HTTP/1.1\r\nHost: x\r\nAuthorization : Bearer x\r\n\r\n",
        }
        results = {}

        def one(name, data):
            try:
                results[name] = raw_exchange(self.hub.port, data, CONN_TIMEOUT + 10)
            except OSError as e:  # refused or reset while connecting counts as closed
                results[name] = (repr(e).encode(), True)

        threads = [threading.Thread(target=one, args=kv, daemon=True) for kv in cases.items()]
        for t in threads:
            t.start()
        for t in threads:
            t.join(CONN_TIMEOUT + 30)
        for name in cases:
            with self.subTest(case=name):
                self.assertIn(name, results, "no result")
                out, closed = results[name]
                st = status_of(out)
                allowed = lambda s: s is not None and 400 <= s < 500 or (
                    s == 505 and "HTTP/" in name and "0.9" not in name)
                self.assertTrue(allowed(st) or (st is None and closed),
                                "%s: want 4xx or a closed connection, got %r (closed %s)"
                                % (name, out[:200], closed))
                self.assertNotIn(b"root:", out)
        self.hub_intact()

    # ---- connections ----

    def test_slow_clients_do_not_block_others(self):
        n_slow, trickle = 20, 3.0
        socks = []
        for _ in range(n_slow):
            s = socket.create_connection(("127.0.0.1", self.hub.port), timeout=10)
            socks.append(s)
        line = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"s" * 200
        stop = threading.Event()
        errors = []
        sent = [0]

        def trickler():
            end = time.monotonic() + trickle
            while time.monotonic() < end and not stop.is_set() and sent[0] < len(line):
                i = sent[0]
                try:
                    for s in socks:
                        s.sendall(line[i:i + 1])
                except OSError as e:
                    errors.append(repr(e))
                    return
                sent[0] = i + 1
                time.sleep(0.1)

        t = threading.Thread(target=trickler, daemon=True)
        t.start()
        times = []
        try:
            while t.is_alive():
                for path in ("/health", "/ready"):
                    status, took = timed_get(self.hub.port, path, 10)
                    self.assertEqual(status, 200, path)
                    times.append(took)
                status, _, _ = self.hub.get("/events", {"app": "sentinel", "limit": 5})
                self.assertEqual(status, 200)
                t0 = time.monotonic()
                self.assertIngested(self.hub.ingest({"event_id": event_uuid("hostile", "slow",
                                                                            len(times)),
                                                     "app": "hostile", "event_type": "slow"}), 1)
                times.append(time.monotonic() - t0)
                stop.wait(0.1)  # pace the rounds; the trickle's end ends the loop
        finally:
            stop.set()
            t.join(10)
        self.assertGreaterEqual(len(times), 3, "too few requests completed while clients trickled")
        self.assertLess(max(times), 5.0, "a normal request waited %.1f s behind slow clients"
                        % max(times))
        # The slow clients finish their requests well inside the header deadline (10 s) and
        # were never idle for --conn-timeout: each is answered.
        answers = []
        for s in socks:
            try:
                s.sendall(line[sent[0]:] + b"\r\n\r\n")
                s.settimeout(10)
                resp = http.client.HTTPResponse(s)
                resp.begin()
                answers.append(resp.status)
            except socket.timeout:
                answers.append("no answer in 10 s")
            except (OSError, http.client.HTTPException):
                answers.append("closed")
            finally:
                s.close()
        self.assertEqual(answers, [200] * n_slow)
        self.hub_intact()

    def test_many_idle_connections(self):
        # From other loopback addresses than the checks below: one address gets at most
        # --max-conns-per-ip connections (the rest are closed at once), others are unaffected.
        socks = []
        try:
            for i in range(500):
                src = "127.0.0.%d" % (2 + i % 8)
                s = socket.create_connection(("127.0.0.1", self.hub.port), timeout=10,
                                             source_address=(src, 0))
                socks.append(s)
                if i % 2:
                    try:
                        s.sendall(b"GET /hea")  # a request begun and left hanging
                    except OSError:
                        pass  # past the per-address limit: closed by the hub
            for i in range(10):
                status, took = timed_get(self.hub.port, "/health", 10)
                self.assertEqual(status, 200)
                self.assertLess(took, 5.0, "a request took %.1f s among idle connections" % took)
            self.assertEqual(self.hub.get("/events", {"app": "sentinel", "limit": 1})[0], 200)
            self.assertIngested(self.hub.ingest({"event_id": event_uuid("hostile", "idle"),
                                                 "app": "hostile", "event_type": "idle"}), 1)
        finally:
            for s in socks:
                s.close()
        self.hub_intact()

    def test_idle_connection_is_closed_after_conn_timeout(self):
        s = socket.create_connection(("127.0.0.1", self.hub.port), timeout=10)
        try:
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")  # never finished
            t0 = time.monotonic()
            s.settimeout(CONN_TIMEOUT + 10)
            try:
                data = s.recv(65536)
            except socket.timeout:
                self.fail("an idle half-sent request was kept over %d s (--conn-timeout %d)"
                          % (CONN_TIMEOUT + 10, CONN_TIMEOUT))
            except OSError:
                data = b""
            self.assertFalse(data.startswith(b"HTTP/1.1 2"), data[:200])
            self.assertLess(time.monotonic() - t0, CONN_TIMEOUT + 10)
        finally:
            s.close()
        self.hub_intact()

    # ---- last ----

    def test_zz_every_seed_still_stored(self):
        self.hub_intact()
        stored_ids = set()
        for app in ("filler", "sentinel", "qtext"):
            stored_ids |= {e["event_id"] for e in self.hub.all_events({"app": app})}
        want = self.expect_ids(lambda e: e.get("app") in ("filler", "sentinel", "qtext"))
        self.assertEqual(len(want), FILLER + 2 * (50 + len(Q_MESSAGES)))
        self.assertEqual(stored_ids, want, "missing %d, extra %d"
                         % (len(want - stored_ids), len(stored_ids - want)))
        for eid, e in self.seeds.items():
            if e.get("app") in ("filler", "sentinel", "qtext"):
                continue
            got = self.stored_event(eid)
            for f in ("app", "user", "source_host", "event_type", "request_id"):
                self.assertEqual(got.get(f), as_stored(e[f]), "%s of %r" % (f, e["app"]))
            for f in ("os_type", "level"):
                self.assertEqual(got.get(f), as_stored(ascii_upper(e[f])), f)
