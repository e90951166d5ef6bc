"""test_ingest_query.py — ingest a known set of events, then check every /events filter
returns exactly the expected events in the expected order, and count=true counts them (also
over many segments); body formats, aliases, normalization and the distinct-value
endpoints."""

import datetime
import http.client
import ipaddress
import json
import re
import socket

from helpers import metric, metrics_text
from hub import API_KEY, BACKEND, HubCase, event_uuid, wait_for

BASE = 1710028800  # 2024-03-10T00:00:00Z
STEP = 420  # seconds between events: 60 events span 7 hours

APPS = ["billing", "auth", "web", None]
HOSTS = ["web-01", "web-02", "db-01"]
OS_IN = ["LINUX", "windows", "APP", "PiHole", "linux"]
TYPES = ["LOGIN_FAIL", "LOGIN_SUCCESS", "SUDO_ESCALATION", "DNS_BLOCK", "http_request"]
LEVELS = ["INFO", "WARNING", "ERROR"]
USERS = ["alice", "bob", "carol", None]
SEV_NAMES = ["info", "low", "medium", "high", "critical"]
# (input, canonical output)
IPS = [("10.0.0.5", "10.0.0.5"), ("10.20.30.40", "10.20.30.40"), ("192.168.1.7", "192.168.1.7"),
       ("172.16.0.9", "172.16.0.9"), ("2001:db8::1", "2001:db8::1"),
       ("2001:DB8:0:0:0:0:0:ABCD", "2001:db8::abcd"), ("::ffff:10.1.2.3", "10.1.2.3"),
       ("fe80::1", "fe80::1"), (None, "N/A")]
MESSAGES = ["Failed password for invalid user", "Accepted publickey for user",
            "sudo session opened for root", "DNS query blocked for ads.example.com",
            "Request completed", "Passwords rotated by admin"]
PATHS = ["/api/v1/users/export", "/login", "/static/app.js", "/api/v1/orders"]
STATUSES = [200, 404, 500, 302]
RAW = "sshd[4242]: authentication failure; rhost=10.0.0.5 tty=ssh"
N = 60


def fmt_us(us):
    s, frac = divmod(us, 1_000_000)
    d = datetime.datetime.fromtimestamp(s, datetime.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S") + ".%06dZ" % frac


def make_dataset():
    """-> (input events, expected normalized records in insertion order)."""
    inputs, expect = [], []
    for i in range(N):
        secs = BASE + i * STEP
        kind = i % 5
        if kind == 0:
            ts_in, us = fmt_us(secs * 1_000_000)[:19] + "Z", secs * 1_000_000
        elif kind == 1:
            us = secs * 1_000_000 + 250_000
            ts_in = fmt_us(secs * 1_000_000)[:19] + ".25Z"
        elif kind == 2:
            us = secs * 1_000_000
            local = datetime.datetime.fromtimestamp(secs, datetime.timezone.utc) + \
                datetime.timedelta(hours=2)
            ts_in = local.strftime("%Y-%m-%dT%H:%M:%S") + "+02:00"
        elif kind == 3:
            ts_in, us = secs, secs * 1_000_000
        else:
            ts_in, us = secs * 1000 + 123, secs * 1_000_000 + 123_000
        sev = (i * 2 + i // 5) % 5 + 1
        ev = {
            "event_id": event_uuid("q", i),
            "timestamp": ts_in,
            "source_host": HOSTS[i % 3],
            "os_type": OS_IN[(i // 3) % 5],
            "event_type": TYPES[(i + i // 5) % 5],
            "severity": SEV_NAMES[sev - 1] if i % 7 == 0 else sev,
            "level": LEVELS[(i // 2) % 3],
            "message": MESSAGES[(i + i // 12) % 6],
        }
        app = APPS[i % 4]
        if app:
            ev["app"] = app
        ip_in, ip_out = IPS[i % 9]
        if ip_in:
            ev["source_ip"] = ip_in
        user = USERS[(i // 2) % 4]
        if user:
            ev["user"] = user
        if i % 5 != 4:
            ev["request_id"] = "req-%03d" % (i // 3)
        if ev["event_type"] == "http_request":
            ev["http_method"] = "GET" if i % 2 else "POST"
            ev["http_path"] = PATHS[i % 4]
            ev["http_status"] = STATUSES[(i // 5) % 4]
        if i % 4 == 1:
            ev["raw_message"] = RAW
        inputs.append(ev)
        rec = dict(ev)
        rec.update(seq=i, us=us, timestamp=fmt_us(us), severity=sev, os_type=ev["os_type"].upper(),
                   source_ip=ip_out, user=user or "system", app=app)
        expect.append(rec)
    return inputs, expect


def q_match(rec, q):
    """docs/storage.md: every term of q occurs, ASCII case-insensitively, in the message, the
    raw line or the HTTP path."""
    texts = [(rec.get(f) or "").encode().lower() for f in ("message", "raw_message", "http_path")]
    return all(any(t.encode().lower() in x for x in texts) for t in q.split())


def newest_first(recs):
    return [r["event_id"] for r in sorted(recs, key=lambda r: (r["us"], r["seq"]), reverse=True)]


class QueryFilters(HubCase):
    """One hub holding exactly the 60-event dataset; every test only reads."""

    @classmethod
    def setUpClass(cls):
        cls.hub = cls.class_hub()
        cls.inputs, cls.recs = make_dataset()
        # Two batches, so the data also crosses a request boundary.
        for part in (cls.inputs[:25], cls.inputs[25:]):
            status, _, body = cls.hub.ingest(part)
            assert status == 200 and body["accepted"] == len(part) and not body["rejected"], body

    def expect(self, pred):
        return newest_first([r for r in self.recs if pred(r)])

    def check(self, params, pred):
        got = self.hub.event_ids(list(params) + [("limit", 1000)])
        want = self.expect(pred)
        self.assertTrue(want, "test data must select something for %r" % (params,))
        self.assertEqual(got, want, "filter %r" % (params,))

    def test_no_filter_returns_all_newest_first(self):
        data = self.hub.events({"limit": 1000})
        self.assertEqual([e["event_id"] for e in data["events"]], self.expect(lambda r: True))
        self.assertIsNone(data["next_cursor"])

    def test_list_items_have_normalized_fields(self):
        by_id = {e["event_id"]: e for e in self.hub.events({"limit": 1000})["events"]}
        for r in self.recs:
            e = by_id[r["event_id"]]
            for f in ("timestamp", "severity", "os_type", "source_ip", "user", "source_host",
                      "event_type", "level", "message"):
                self.assertEqual(e.get(f), r[f], "%s of event %d (input %r)"
                                 % (f, r["seq"], self.inputs[r["seq"]].get(f)))

    def test_list_items_omit_raw_message_and_data(self):
        for e in self.hub.events({"limit": 1000})["events"]:
            self.assertNotIn("raw_message", e)
            self.assertNotIn("data", e)

    def test_default_limit_is_200_so_all_60_fit(self):
        data = self.hub.events()
        self.assertEqual(len(data["events"]), N)
        self.assertIsNone(data["next_cursor"])

    def test_app(self):
        self.check([("app", "billing")], lambda r: r["app"] == "billing")

    def test_app_repeated(self):
        self.check([("app", "billing"), ("app", "web")], lambda r: r["app"] in ("billing", "web"))

    def test_app_commas(self):
        self.check([("app", "billing,web")], lambda r: r["app"] in ("billing", "web"))

    def test_event_type(self):
        self.check([("event_type", "LOGIN_FAIL")], lambda r: r["event_type"] == "LOGIN_FAIL")

    def test_event_type_repeated(self):
        self.check([("event_type", "LOGIN_FAIL"), ("event_type", "DNS_BLOCK")],
                   lambda r: r["event_type"] in ("LOGIN_FAIL", "DNS_BLOCK"))

    def test_event_type_commas(self):
        self.check([("event_type", "LOGIN_FAIL,DNS_BLOCK,http_request")],
                   lambda r: r["event_type"] in ("LOGIN_FAIL", "DNS_BLOCK", "http_request"))

    def test_level(self):
        self.check([("level", "ERROR")], lambda r: r["level"] == "ERROR")

    def test_level_commas(self):
        self.check([("level", "ERROR,WARNING")], lambda r: r["level"] in ("ERROR", "WARNING"))

    def test_severity_single(self):
        self.check([("severity", "5")], lambda r: r["severity"] == 5)

    def test_severity_given_by_name_stored_as_number(self):
        named = [r for r in self.recs if isinstance(self.inputs[r["seq"]]["severity"], str)]
        self.assertEqual(len(named), 9)
        for r in named:
            got = self.hub.event_ids({"severity": str(r["severity"]), "limit": 1000})
            self.assertIn(r["event_id"], got, "severity %r" % self.inputs[r["seq"]]["severity"])

    def test_severity_repeated(self):
        self.check([("severity", "1"), ("severity", "2")], lambda r: r["severity"] in (1, 2))

    def test_severity_commas(self):
        self.check([("severity", "4,5")], lambda r: r["severity"] in (4, 5))

    def test_os_type_matches_upper_cased_input(self):
        self.check([("os_type", "LINUX")], lambda r: r["os_type"] == "LINUX")

    def test_os_type_commas(self):
        self.check([("os_type", "WINDOWS,PIHOLE")], lambda r: r["os_type"] in ("WINDOWS", "PIHOLE"))

    def test_source_host(self):
        self.check([("source_host", "db-01")], lambda r: r["source_host"] == "db-01")

    def test_source_host_repeated(self):
        self.check([("source_host", "db-01"), ("source_host", "web-02")],
                   lambda r: r["source_host"] in ("db-01", "web-02"))

    def test_user(self):
        self.check([("user", "alice")], lambda r: r["user"] == "alice")

    def test_user_id_alias(self):
        self.check([("user_id", "bob")], lambda r: r["user"] == "bob")

    def test_user_commas(self):
        self.check([("user", "alice,carol")], lambda r: r["user"] in ("alice", "carol"))

    def test_user_system_for_events_without_user(self):
        self.check([("user", "system")], lambda r: r["user"] == "system")

    def test_source_ip_exact_v4(self):
        self.check([("source_ip", "192.168.1.7")], lambda r: r["source_ip"] == "192.168.1.7")

    def test_source_ip_exact_v6(self):
        self.check([("source_ip", "2001:db8::abcd")], lambda r: r["source_ip"] == "2001:db8::abcd")

    def test_source_ip_v6_non_canonical_query_value(self):
        self.check([("source_ip", "2001:DB8:0::ABCD")], lambda r: r["source_ip"] == "2001:db8::abcd")

    def test_src_ip_alias(self):
        self.check([("src_ip", "172.16.0.9")], lambda r: r["source_ip"] == "172.16.0.9")

    def _in(self, r, *nets):
        if r["source_ip"] == "N/A":
            return False
        a = ipaddress.ip_address(r["source_ip"])
        return any(a.version == n.version and a in n for n in map(ipaddress.ip_network, nets))

    def test_source_ip_cidr_v4_includes_mapped_address(self):
        self.check([("source_ip", "10.0.0.0/8")], lambda r: self._in(r, "10.0.0.0/8"))
        self.assertIn("10.1.2.3", [r["source_ip"] for r in self.recs])

    def test_source_ip_cidr_v4_narrow(self):
        self.check([("source_ip", "10.0.0.0/24")], lambda r: self._in(r, "10.0.0.0/24"))

    def test_source_ip_cidr_v6(self):
        self.check([("source_ip", "2001:db8::/32")], lambda r: self._in(r, "2001:db8::/32"))

    def test_source_ip_cidr_v4_and_v6_commas(self):
        self.check([("source_ip", "192.168.0.0/16,fe80::/10")],
                   lambda r: self._in(r, "192.168.0.0/16", "fe80::/10"))

    def test_source_ip_cidr_repeated_with_address(self):
        self.check([("src_ip", "172.16.0.0/12"), ("src_ip", "2001:db8::1")],
                   lambda r: self._in(r, "172.16.0.0/12", "2001:db8::1/128"))

    def test_request_id(self):
        self.check([("request_id", "req-004")], lambda r: r.get("request_id") == "req-004")

    def test_request_id_commas(self):
        self.check([("request_id", "req-004,req-010")],
                   lambda r: r.get("request_id") in ("req-004", "req-010"))

    def test_http_status(self):
        self.check([("http_status", "404")], lambda r: r.get("http_status") == 404)

    def test_http_status_repeated(self):
        self.check([("http_status", "500"), ("http_status", "302")],
                   lambda r: r.get("http_status") in (500, 302))

    def test_from_to_iso_bounds_are_inclusive(self):
        lo, hi = self.recs[11], self.recs[37]  # 11 has a .25 s fraction, 37 an offset input
        self.check([("from", lo["timestamp"]), ("to", hi["timestamp"])],
                   lambda r: lo["us"] <= r["us"] <= hi["us"])
        self.assertEqual(len(self.expect(lambda r: lo["us"] <= r["us"] <= hi["us"])), 27)

    def test_from_only(self):
        lo = self.recs[44]  # epoch-ms input: .123 s
        self.check([("from", lo["timestamp"])], lambda r: r["us"] >= lo["us"])

    def test_to_only(self):
        hi = self.recs[9]
        self.check([("to", hi["timestamp"])], lambda r: r["us"] <= hi["us"])

    def test_from_to_epoch_seconds(self):
        lo, hi = BASE + 10 * STEP, BASE + 20 * STEP  # event 20's timestamp is a whole second
        self.check([("from", str(lo)), ("to", str(hi))],
                   lambda r: lo * 1_000_000 <= r["us"] <= hi * 1_000_000)

    def test_to_epoch_excludes_fraction_after_it(self):
        hi = BASE + 21 * STEP  # event 21 is at +0.25 s, so it is after `to`
        self.check([("to", str(hi))], lambda r: r["us"] <= hi * 1_000_000)
        self.assertNotIn(self.recs[21]["event_id"], self.hub.event_ids({"to": str(hi), "limit": 1000}))

    def test_from_with_offset_timezone(self):
        lo = self.recs[30]
        local = datetime.datetime.fromtimestamp(lo["us"] // 1_000_000, datetime.timezone.utc) + \
            datetime.timedelta(hours=-5)
        self.check([("from", local.strftime("%Y-%m-%dT%H:%M:%S") + "-05:00")],
                   lambda r: r["us"] >= lo["us"])

    def test_from_after_everything_is_empty(self):
        data = self.hub.events({"from": fmt_us((BASE + N * STEP) * 1_000_000)})
        self.assertEqual(data["events"], [])
        self.assertIsNone(data["next_cursor"])

    def test_combined_filters(self):
        self.check([("app", "web,auth"), ("level", "INFO"), ("from", self.recs[5]["timestamp"])],
                   lambda r: r["app"] in ("web", "auth") and r["level"] == "INFO"
                   and r["us"] >= self.recs[5]["us"])

    def test_q_single_word(self):
        self.check([("q", "blocked")], lambda r: q_match(r, "blocked"))

    def test_q_is_case_insensitive(self):
        self.check([("q", "FAILED")], lambda r: q_match(r, "failed"))
        self.check([("q", "failed")], lambda r: q_match(r, "failed"))

    def test_q_two_words_all_must_match(self):
        self.check([("q", "failed password")], lambda r: q_match(r, "failed password"))
        self.assertLess(len(self.expect(lambda r: q_match(r, "failed password"))),
                        len(self.expect(lambda r: q_match(r, "password"))))

    def test_q_word_prefix(self):
        # "pass" is a prefix of "password" and of "passwords"
        self.check([("q", "pass")], lambda r: q_match(r, "pass"))
        self.assertGreater(len(self.expect(lambda r: q_match(r, "pass"))),
                           len(self.expect(lambda r: q_match(r, "failed"))))

    def test_q_matches_inside_a_word(self):
        # "word" is inside "password": q finds substrings (docs/storage.md)
        self.check([("q", "word")], lambda r: q_match(r, "word"))
        self.assertTrue(any(q_match(r, "word") for r in self.recs))

    def test_q_searches_http_path(self):
        self.check([("q", "export")], lambda r: q_match(r, "export"))
        self.assertTrue(all(r.get("http_path") for r in self.recs if q_match(r, "export")))

    def test_q_searches_raw_message(self):
        self.check([("q", "sshd")], lambda r: q_match(r, "sshd"))

    def test_q_dotted_domain_word(self):
        self.check([("q", "example")], lambda r: q_match(r, "example"))

    def test_q_no_match(self):
        data = self.hub.events({"q": "zebra"})
        self.assertEqual(data["events"], [])
        self.assertIsNone(data["next_cursor"])

    def test_q_with_other_filter(self):
        self.check([("q", "password"), ("level", "WARNING")],
                   lambda r: q_match(r, "password") and r["level"] == "WARNING")

    def test_limit_returns_newest_and_a_cursor(self):
        data = self.hub.events({"limit": 5})
        self.assertEqual([e["event_id"] for e in data["events"]], self.expect(lambda r: True)[:5])
        self.assertIsInstance(data["next_cursor"], str)

    def test_limit_with_cursor_continues(self):
        first = self.hub.events({"limit": 7, "app": "billing"})
        second = self.hub.events({"limit": 7, "app": "billing", "cursor": first["next_cursor"]})
        want = self.expect(lambda r: r["app"] == "billing")
        self.assertEqual([e["event_id"] for e in first["events"] + second["events"]], want[:14])

    def test_limit_1000_allowed_1001_refused(self):
        self.assertStatus(self.hub.get("/events", {"limit": 1000}), 200)
        body = self.assertStatus(self.hub.get("/events", {"limit": 1001}), 400)
        self.assertIn("limit", str(body))

    def test_bad_filter_values_are_400_naming_the_parameter(self):
        cases = [("from", "yesterday"), ("to", "2024-13-45T99:00:00Z"), ("source_ip", "10.0.0.0/99"),
                 ("source_ip", "not-an-ip"), ("src_ip", "300.1.2.3"), ("cursor", "garbage!!"),
                 ("severity", "high-ish"), ("severity", "abc"), ("limit", "ten"),
                 ("http_status", "abc"), ("count", "yes")]
        for name, value in cases:
            with self.subTest(param=name, value=value):
                status, _, body = self.hub.get("/events", {name: value})
                self.assertEqual(status, 400, "%s=%s: %r" % (name, value, body))
                self.assertIsInstance(body, dict)
                self.assertIn("error", body)
                canonical = {"src_ip": "source_ip"}.get(name, name)
                text = str(body)
                self.assertTrue(name in text or canonical in text,
                                "%s=%s: error does not name the parameter: %r" % (name, value, body))

    # ---- count=true ----

    def check_count(self, params, pred):
        """count=true: total is every matching event (exact at this size), beside a page of 5."""
        data = self.hub.events(list(params) + [("count", "true"), ("limit", 5)])
        want = self.expect(pred)
        self.assertEqual((data.get("total"), data.get("total_exact")), (len(want), True),
                         "count of %r" % (params,))
        self.assertEqual([e["event_id"] for e in data["events"]], want[:5], "page of %r" % (params,))

    def test_count_filter_combinations(self):
        lo, hi = self.recs[11], self.recs[37]
        cases = [
            ([], lambda r: True),
            ([("app", "billing,web")], lambda r: r["app"] in ("billing", "web")),
            ([("event_type", "LOGIN_FAIL"), ("level", "ERROR,WARNING")],
             lambda r: r["event_type"] == "LOGIN_FAIL" and r["level"] in ("ERROR", "WARNING")),
            ([("severity", "4,5"), ("os_type", "LINUX")],
             lambda r: r["severity"] in (4, 5) and r["os_type"] == "LINUX"),
            ([("user", "alice"), ("source_host", "web-01,db-01")],
             lambda r: r["user"] == "alice" and r["source_host"] in ("web-01", "db-01")),
            ([("request_id", "req-004,req-010")],
             lambda r: r.get("request_id") in ("req-004", "req-010")),
            ([("http_status", "404,500")], lambda r: r.get("http_status") in (404, 500)),
            ([("from", lo["timestamp"]), ("to", hi["timestamp"])],
             lambda r: lo["us"] <= r["us"] <= hi["us"]),
            ([("to", self.recs[9]["timestamp"])], lambda r: r["us"] <= self.recs[9]["us"]),
            ([("source_ip", "10.0.0.0/8")], lambda r: self._in(r, "10.0.0.0/8")),
            ([("source_ip", "192.168.0.0/16,2001:db8::/32"), ("from", self.recs[20]["timestamp"])],
             lambda r: self._in(r, "192.168.0.0/16", "2001:db8::/32")
             and r["us"] >= self.recs[20]["us"]),
            ([("source_ip", "2001:db8::abcd")], lambda r: r["source_ip"] == "2001:db8::abcd"),
            ([("q", "password")], lambda r: q_match(r, "password")),
            ([("q", "word")], lambda r: q_match(r, "word")),
            ([("q", "failed password"), ("level", "WARNING")],
             lambda r: q_match(r, "failed password") and r["level"] == "WARNING"),
            ([("q", "sshd"), ("from", lo["timestamp"]), ("to", hi["timestamp"])],
             lambda r: q_match(r, "sshd") and lo["us"] <= r["us"] <= hi["us"]),
            ([("q", "api"), ("source_ip", "10.0.0.0/8,2001:db8::/32")],
             lambda r: q_match(r, "api") and self._in(r, "10.0.0.0/8", "2001:db8::/32")),
            ([("app", "web,auth"), ("level", "INFO"), ("from", self.recs[5]["timestamp"])],
             lambda r: r["app"] in ("web", "auth") and r["level"] == "INFO"
             and r["us"] >= self.recs[5]["us"]),
        ]
        for params, pred in cases:
            with self.subTest(params=params):
                self.assertTrue(self.expect(pred), "test data must select something for %r"
                                % (params,))
                self.check_count(params, pred)

    def test_count_of_nothing_is_exact_zero(self):
        for params in ([("q", "zebra")], [("from", fmt_us((BASE + N * STEP) * 1_000_000))],
                       [("app", "billing"), ("event_type", "no-such-type")]):
            with self.subTest(params=params):
                data = self.hub.events(params + [("count", "true")])
                self.assertEqual((data["events"], data["total"], data["total_exact"]),
                                 ([], 0, True))

    def test_count_only_when_asked(self):
        for params in ({}, {"count": "false"}, {"count": ""}):
            with self.subTest(params=params):
                data = self.hub.events(params)
                self.assertNotIn("total", data)
                self.assertNotIn("total_exact", data)
                self.assertEqual(len(data["events"]), N)

    def test_count_bad_values_are_400_naming_it(self):
        for value in ("yes", "1", "TRUE", "true,false"):
            with self.subTest(value=value):
                body = self.assertStatus(self.hub.get("/events", {"count": value}), 400)
                self.assertEqual(body, {"error": "invalid query",
                                        "detail": "count: true or false"})

    def test_count_is_of_every_page(self):
        """The cursor and before_ts/before_id say where a page starts, not what is counted."""
        want = len(self.expect(lambda r: r["app"] == "billing"))
        first = self.hub.events({"limit": 4, "app": "billing", "count": "true"})
        last = first["events"][-1]
        pages = [first,
                 self.hub.events({"limit": 4, "app": "billing", "count": "true",
                                  "cursor": first["next_cursor"]}),
                 self.hub.events({"limit": 4, "app": "billing", "count": "true",
                                  "before_ts": last["timestamp"], "before_id": last["event_id"]}),
                 self.hub.events({"limit": 4, "app": "billing", "count": "true",
                                  "before_ts": last["timestamp"]})]
        for i, page in enumerate(pages):
            self.assertEqual((page["total"], page["total_exact"]), (want, True), "request %d" % i)
        self.assertEqual(pages[1]["events"], pages[2]["events"])

    def test_get_event_by_id_has_raw_message_and_fields(self):
        r = self.recs[13]  # i % 4 == 1: has raw_message
        status, _, e = self.hub.get_event(r["event_id"])
        self.assertEqual(status, 200, e)
        self.assertEqual(e["event_id"], r["event_id"])
        self.assertEqual(e["raw_message"], RAW)
        for f in ("timestamp", "severity", "os_type", "source_ip", "user", "app", "source_host",
                  "event_type", "level", "message", "request_id"):
            self.assertEqual(e.get(f), r[f], f)

    def test_get_event_unknown_is_404(self):
        status, _, body = self.hub.get_event(event_uuid("never", "stored"))
        self.assertEqual(status, 404, body)
        self.assertIn("error", body)

    def test_get_event_malformed_id(self):
        status, _, body = self.hub.get_event("not-a-uuid")
        self.assertEqual(status, 400, body)
        self.assertEqual(body, {"error": "invalid event id", "detail": "not a UUID"})

    def _values(self, path, params=None):
        status, _, body = self.hub.get(path, params)
        self.assertEqual(status, 200, body)
        vals = body["values"]
        out = {}
        for v in vals:
            self.assertEqual(set(v), {"value", "count"}, v)
            if v["value"] not in (None, ""):
                self.assertNotIn(v["value"], out, "value listed twice")
                out[v["value"]] = v["count"]
        return out

    def _counts(self, field, pred=lambda r: True):
        c = {}
        for r in self.recs:
            if pred(r) and r.get(field):
                c[r[field]] = c.get(r[field], 0) + 1
        return c

    def test_apps(self):
        self.assertEqual(self._values("/apps"), self._counts("app"))

    def test_hosts(self):
        self.assertEqual(self._values("/hosts"), self._counts("source_host"))

    def test_event_types(self):
        self.assertEqual(self._values("/event-types"), self._counts("event_type"))

    def test_event_types_of_one_app(self):
        self.assertEqual(self._values("/event-types", {"app": "web"}),
                         self._counts("event_type", lambda r: r["app"] == "web"))


SEG_N = 2600  # with --segment-rows 1000: two sealed (indexed) segments and the active one
SEG_BASE = 1712000000  # 2024-04-01T19:33:20Z; one event a second


def seg_event(i):
    return {"event_id": event_uuid("seg", i), "timestamp": SEG_BASE + i,
            "event_type": TYPES[i % 5], "app": "seg%d" % (i % 3),
            "source_ip": "10.0.%d.%d" % (i // 256, i % 256),
            "message": ("needle in segment %d" if i % 7 == 0 else "hay %d") % i}


class QueryCountSegmented(HubCase):
    """count=true over events spread across segments: whole segments inside the time range,
    ranges cutting through segments, the text index of indexed ones and the active one."""

    @classmethod
    def setUpClass(cls):
        cls.hub = cls.class_hub(args=["--segment-rows", "1000", "--retention-days", "0"])
        cls.evs = [seg_event(i) for i in range(SEG_N)]
        for k in range(0, SEG_N, 500):
            cls.hub.ingest_ok(cls.evs[k:k + 500])
        if BACKEND == "sqlite":
            _, _, ready = cls.hub.get("/ready")
            assert ready["segments"] == 3, ready

        def indexed():
            _, _, text = cls.hub.request("GET", "/metrics")
            m = re.search(rb"^minisiem_store_segments_unindexed (\d+)", text, re.M)
            return m is not None and int(m.group(1)) == 0
        wait_for(indexed, 60, "the sealed segments' indices")

    def check(self, params, pred):
        want = sum(1 for i in range(SEG_N) if pred(i))
        data = self.hub.events(list(params) + [("count", "true"), ("limit", 1)])
        self.assertEqual((data["total"], data["total_exact"]), (want, True), "count of %r" % (params,))

    def at(self, i):
        return str(SEG_BASE + i)

    def test_all(self):
        self.check([], lambda i: True)

    def test_time_range_across_segments(self):
        self.check([("from", self.at(500)), ("to", self.at(2100))], lambda i: 500 <= i <= 2100)
        self.check([("from", self.at(1000)), ("to", self.at(1999))], lambda i: 1000 <= i <= 1999)
        self.check([("from", self.at(2599))], lambda i: i == 2599)

    def test_filters(self):
        self.check([("event_type", "DNS_BLOCK")], lambda i: i % 5 == 3)
        self.check([("app", "seg1"), ("from", self.at(700)), ("to", self.at(2300))],
                   lambda i: i % 3 == 1 and 700 <= i <= 2300)
        self.check([("source_ip", "10.0.4.0/22")], lambda i: 4 <= i // 256 <= 7)

    def test_stage_counters_moved(self):
        """Every stage an event went through counts it and the CPU time it took (/metrics)."""
        text = metrics_text(self.hub)

        def stage(name):
            return (metric(text, 'minisiem_stage_cpu_seconds_total{stage="%s"}' % name),
                    metric(text, 'minisiem_stage_events_total{stage="%s"}' % name))
        # JSON bodies are read and normalized event by event in one pass, counted as parse;
        # normalize counts only bodies jansson parses whole (none here), but is listed
        timed = ["parse", "insert", "commit", "detect"]
        self.assertIsNotNone(stage("normalize")[1])
        counted = timed + ["enrich"]
        if BACKEND == "sqlite":
            timed += ["postings", "indexer"]
            counted += ["postings"]
        for name in counted:
            self.assertGreaterEqual(stage(name)[1], SEG_N, name)
        for name in timed:
            self.assertGreater(stage(name)[0], 0, name)
        if BACKEND == "sqlite":  # the rows of the two sealed segments
            self.assertGreaterEqual(stage("indexer")[1], 2000)

    def test_text(self):
        self.check([("q", "needle")], lambda i: i % 7 == 0)
        self.check([("q", "NEEDLE segment"), ("event_type", "LOGIN_FAIL")],
                   lambda i: i % 7 == 0 and i % 5 == 0)
        self.check([("q", "hay"), ("from", self.at(900)), ("to", self.at(2050))],
                   lambda i: i % 7 != 0 and 900 <= i <= 2050)


class IngestFormats(HubCase):
    """Body formats, aliases and normalization. Each test uses its own ids and markers."""

    @classmethod
    def setUpClass(cls):
        cls.hub = cls.class_hub()

    def batch(self, tag, n, **extra):
        evs = []
        for i in range(n):
            e = {"event_id": event_uuid(tag, i), "timestamp": BASE + i, "event_type": "fmt_test",
                 "request_id": tag, "message": "%s event %d" % (tag, i)}
            e.update(extra)
            evs.append(e)
        return evs

    def stored_ids(self, tag):
        return sorted(self.hub.event_ids({"request_id": tag, "limit": 1000}))

    def full(self, event_id):
        status, _, e = self.hub.get_event(event_id)
        self.assertEqual(status, 200, e)
        return e

    def test_array_body(self):
        evs = self.batch("fmt-array", 4)
        self.assertIngested(self.hub.ingest(evs), 4)
        self.assertEqual(self.stored_ids("fmt-array"), sorted(e["event_id"] for e in evs))

    def test_single_object_body(self):
        ev = self.batch("fmt-single", 1)[0]
        self.assertIngested(self.hub.ingest(ev), 1)
        self.assertEqual(self.stored_ids("fmt-single"), [ev["event_id"]])

    def test_ndjson_body(self):
        evs = self.batch("fmt-ndjson", 5)
        self.assertIngested(self.hub.ingest(evs, ndjson=True), 5)
        self.assertEqual(self.stored_ids("fmt-ndjson"), sorted(e["event_id"] for e in evs))

    def test_ndjson_blank_lines_and_crlf(self):
        evs = self.batch("fmt-ndjson-crlf", 3)
        body = b"\r\n".join(json.dumps(e).encode() for e in evs[:2]) + b"\r\n\r\n\n" + \
            json.dumps(evs[2]).encode()  # no final newline
        self.assertIngested(self.hub.ingest(body, ndjson=True), 3)
        self.assertEqual(self.stored_ids("fmt-ndjson-crlf"), sorted(e["event_id"] for e in evs))

    def test_gzip_array_body(self):
        evs = self.batch("fmt-gzip", 6)
        self.assertIngested(self.hub.ingest(evs, gzip=True), 6)
        self.assertEqual(self.stored_ids("fmt-gzip"), sorted(e["event_id"] for e in evs))

    def test_gzip_ndjson_body(self):
        evs = self.batch("fmt-gzip-nd", 3)
        self.assertIngested(self.hub.ingest(evs, ndjson=True, gzip=True), 3)
        self.assertEqual(self.stored_ids("fmt-gzip-nd"), sorted(e["event_id"] for e in evs))

    def test_json_with_charset_parameter(self):
        evs = self.batch("fmt-charset", 2)
        self.assertIngested(self.hub.ingest(
            evs, headers={"Content-Type": "application/json; charset=utf-8"}), 2)
        self.assertEqual(self.stored_ids("fmt-charset"), sorted(e["event_id"] for e in evs))

    def test_missing_content_type_is_json(self):
        evs = self.batch("fmt-noctype", 2)
        self.assertIngested(self.hub.ingest(evs, headers={"Content-Type": None}), 2)
        self.assertEqual(self.stored_ids("fmt-noctype"), sorted(e["event_id"] for e in evs))

    def test_aliases_round_trip_to_canonical_names(self):
        eid = event_uuid("alias", 1)
        ev = {"event_id": eid, "ts": "2024-04-01T08:00:00Z", "host": "alias-host",
              "src_ip": "10.9.8.7", "user_id": "alias-user", "msg": "alias message",
              "raw": "alias raw line", "event_type": "alias_test"}
        self.assertIngested(self.hub.ingest(ev), 1)
        e = self.full(eid)
        self.assertEqual(e["timestamp"], "2024-04-01T08:00:00.000000Z")
        self.assertEqual(e["source_host"], "alias-host")
        self.assertEqual(e["source_ip"], "10.9.8.7")
        self.assertEqual(e["user"], "alias-user")
        self.assertEqual(e["message"], "alias message")
        self.assertEqual(e["raw_message"], "alias raw line")
        for alias in ("ts", "host", "src_ip", "user_id", "msg", "raw"):
            self.assertNotIn(alias, e.get("data") or {}, "alias %s also kept in data" % alias)
        self.assertEqual(self.hub.event_ids({"source_host": "alias-host"}), [eid])
        self.assertEqual(self.hub.event_ids({"user": "alias-user"}), [eid])

    def test_unknown_fields_go_into_data(self):
        eid = event_uuid("unknown", 1)
        ev = {"event_id": eid, "event_type": "unk_test", "message": "m", "colour": "blue",
              "nested": {"a": 1, "b": [1, 2, "x"]}, "count": 7}
        self.assertIngested(self.hub.ingest(ev), 1)
        e = self.full(eid)
        self.assertEqual(e["data"], {"colour": "blue", "nested": {"a": 1, "b": [1, 2, "x"]},
                                     "count": 7})
        for k in ("colour", "nested", "count"):
            self.assertNotIn(k, e, "unknown field %s at the top level" % k)

    def test_data_object_preserved(self):
        eid = event_uuid("data", 1)
        data = {"EventID": 4625, "TargetUserName": "bob", "list": [True, None, 1.5]}
        self.assertIngested(self.hub.ingest({"event_id": eid, "event_type": "data_test",
                                             "data": data}), 1)
        self.assertEqual(self.full(eid)["data"], data)

    def test_raw_message_returned_by_id(self):
        eid = event_uuid("raw", 1)
        raw = "<34>Mar 10 12:00:00 host sshd[1]: Failed password for root"
        self.assertIngested(self.hub.ingest({"event_id": eid, "raw_message": raw}), 1)
        self.assertEqual(self.full(eid)["raw_message"], raw)

    def test_timestamp_normalization(self):
        cases = [("2024-05-01T12:30:45+02:00", "2024-05-01T10:30:45.000000Z"),
                 ("2024-05-01T05:00:45-05:30", "2024-05-01T10:30:45.000000Z"),
                 ("2024-05-01T10:30:45Z", "2024-05-01T10:30:45.000000Z"),
                 ("2024-05-01T10:30:45.5Z", "2024-05-01T10:30:45.500000Z"),
                 ("2024-05-01T10:30:45.123456Z", "2024-05-01T10:30:45.123456Z"),
                 ("2024-05-01T10:30:45.123+00:00", "2024-05-01T10:30:45.123000Z"),
                 (1714559445, "2024-05-01T10:30:45.000000Z"),
                 (1714559445123, "2024-05-01T10:30:45.123000Z")]
        for n, (given, want) in enumerate(cases):
            with self.subTest(timestamp=given):
                eid = event_uuid("ts", n)
                self.assertIngested(self.hub.ingest({"event_id": eid, "timestamp": given,
                                                     "event_type": "ts_test"}), 1)
                self.assertEqual(self.full(eid)["timestamp"], want)

    def test_source_ip_canonical_output(self):
        cases = [("2001:DB8::1", "2001:db8::1"), ("::ffff:1.2.3.4", "1.2.3.4"),
                 ("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
                 ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"), ("192.168.001.010", None),
                 ("8.8.8.8", "8.8.8.8")]
        for n, (given, want) in enumerate(cases):
            if want is None:
                continue  # leading zeros are ambiguous; not part of the contract
            with self.subTest(source_ip=given):
                eid = event_uuid("ip", n)
                self.assertIngested(self.hub.ingest({"event_id": eid, "source_ip": given,
                                                     "event_type": "ip_test"}), 1)
                self.assertEqual(self.full(eid)["source_ip"], want)

    def test_defaults_for_absent_fields(self):
        eid = event_uuid("defaults", 1)
        self.assertIngested(self.hub.ingest({"event_id": eid, "event_type": "defaults_test",
                                             "os_type": "linux"}), 1)
        e = self.full(eid)
        self.assertEqual(e["source_ip"], "N/A")
        self.assertEqual(e["user"], "system")
        self.assertEqual(e["os_type"], "LINUX")
        self.assertRegex(e["timestamp"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")

    def test_severity_names(self):
        for n, (name, num) in enumerate([("info", 1), ("low", 2), ("medium", 3), ("high", 4),
                                         ("critical", 5)]):
            with self.subTest(severity=name):
                eid = event_uuid("sevname", n)
                self.assertIngested(self.hub.ingest({"event_id": eid, "severity": name,
                                                     "event_type": "sev_test"}), 1)
                self.assertEqual(self.full(eid)["severity"], num)

    def test_generated_event_id_is_a_uuid(self):
        self.assertIngested(self.hub.ingest({"event_type": "genid_test", "request_id": "fmt-genid"}), 1)
        ids = self.hub.event_ids({"request_id": "fmt-genid"})
        self.assertEqual(len(ids), 1)
        self.assertRegex(ids[0], r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
        self.assertEqual(self.full(ids[0])["event_id"], ids[0])

    def test_event_id_upper_case_is_canonicalized(self):
        eid = event_uuid("upper", 1)
        self.assertIngested(self.hub.ingest({"event_id": eid.upper(), "event_type": "upper_test"}), 1)
        self.assertEqual(self.full(eid)["event_id"], eid)

    def test_http_fields_round_trip(self):
        eid = event_uuid("http", 1)
        ev = {"event_id": eid, "event_type": "http_request", "http_method": "DELETE",
              "http_path": "/api/items/7", "http_status": 204, "latency_ms": 12.5,
              "user_agent": "curl/8.0", "error_type": "none", "request_id": "fmt-http"}
        self.assertIngested(self.hub.ingest(ev), 1)
        e = self.full(eid)
        for k, v in ev.items():
            self.assertEqual(e.get(k), v, k)

    def test_default_max_body_is_8_mib(self):
        # announced one byte over the default --max-body: refused from the header alone
        s = socket.create_connection(("127.0.0.1", self.hub.port), timeout=20)
        try:
            s.sendall(b"POST /ingest HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"X-API-Key: " + API_KEY.encode() + b"\r\nContent-Length: 8388609\r\n\r\n[")
            resp = http.client.HTTPResponse(s)
            resp.begin()
            self.assertEqual(resp.status, 413, resp.read()[:200])
        finally:
            s.close()
        # a 2 MB batch is well under it
        evs = self.batch("fmt-big", 500, message="m" * 4000)
        self.assertIngested(self.hub.ingest(evs), 500)
        self.assertEqual(len(self.stored_ids("fmt-big")), 500)

    def test_long_message_is_capped_and_marked(self):
        eid = event_uuid("cap", 1)
        msg = "é" * 6000  # 12,000 bytes of UTF-8, over the 8 KiB message cap
        self.assertIngested(self.hub.ingest({"event_id": eid, "event_type": "cap_test",
                                             "message": msg}), 1)
        e = self.full(eid)
        stored = e["message"]
        self.assertTrue(msg.startswith(stored), "capped message is not a prefix of the input")
        self.assertLessEqual(len(stored.encode()), 8 * 1024)
        self.assertGreater(len(stored), 0)
        self.assertIn("message", json.dumps(e.get("truncated")),
                      "a capped value must be marked (DESIGN §2): %r" % {k: v for k, v in e.items()
                                                                         if k != "message"})
