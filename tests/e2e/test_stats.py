"""The dashboard's API: GET /stats/summary, /stats/timeseries, /stats/top against known seeded
events (exact counts per bucket, per OS, top-N order and ties, bucket edges, interval widening),
the same numbers whether rollups or scans answer, and the /dashboards CRUD per user."""
import collections
import datetime
import time

import re

from hub import HubCase, event_uuid, sqlite_only, wait_for

BASE = datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)
US = 1000000


def at(seconds, micro=0):
    """ISO time BASE + seconds (+ microseconds)."""
    t = BASE + datetime.timedelta(seconds=seconds, microseconds=micro)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def iso(seconds):
    return at(seconds)


def epoch(seconds):
    return int(BASE.timestamp()) + seconds


IP_A, IP_B, IP_C, IP_D = "198.51.100.1", "198.51.100.2", "198.51.100.3", "2001:db8::1"


def seed():
    """(events, expected) — every event carries app=statsapp; offsets are seconds from BASE."""
    evs = []

    def add(off, os_type, etype, sev, micro=0, **kw):
        e = {"event_id": event_uuid("stats", len(evs)), "timestamp": at(off, micro),
             "os_type": os_type, "event_type": etype, "severity": sev, "app": "statsapp",
             "source_host": kw.pop("host", "h1")}
        e.update(kw)
        evs.append(e)

    # Failed logins: A 5 (LINUX), B 3, C 3 (LINUX) + 2 (WINDOWS), D 1 — A and C tie at 5,
    # B alone at 3 once C's Windows ones count.
    for i in range(5):
        add(60 * i + 10, "LINUX", "LOGIN_FAIL", 3, source_ip=IP_A, user="root")
    for i in range(3):
        add(60 * (i + 5) + 20, "LINUX", "LOGIN_FAIL", 3, source_ip=IP_B, user="admin")
    for i in range(3):
        add(60 * (i + 8) + 30, "LINUX", "LOGIN_FAIL", 3, source_ip=IP_C, user="root")
    for i in range(2):
        add(60 * (i + 11) + 40, "WINDOWS", "LOGIN_FAIL", 4, source_ip=IP_C, user="Administrator",
            host="dc1")
    add(60 * 13 + 50, "LINUX", "LOGIN_FAIL", 3, source_ip=IP_D, user="oracle")
    # Blocked DNS: ads 4 + 1 upper-case (normalized), track 4, a domain only in the message 2.
    for i in range(4):
        add(60 * 14 + i, "PIHOLE", "DNS_BLOCK", 2, source_ip="192.168.1.10", host="pihole",
            data={"domain": "ads.example.com", "type": "A", "status": "GRAVITY"})
    add(60 * 14 + 30, "PIHOLE", "DNS_BLOCK", 2, source_ip="192.168.1.11", host="pihole",
        data={"domain": "ADS.Example.com.", "type": "AAAA"})
    for i in range(4):
        add(60 * 15 + i, "PIHOLE", "DNS_BLOCK", 2, source_ip="192.168.1.12", host="pihole",
            data={"domain": "track.example.net", "type": "A"})
    for i in range(2):
        add(60 * 16 + i, "PIHOLE", "DNS_BLOCK", 2, host="pihole",
            message="gravity blocked evil.example.org for 192.168.1.13")
    # A DNS query that is not a block (counted for domain tops without a type filter).
    add(60 * 16 + 30, "PIHOLE", "DNS_QUERY", 1, host="pihole", data={"domain": "ads.example.com"})
    # Bucket edges: the last microsecond of minute 19 and the first of minute 20.
    add(60 * 20 - 1, "APP", "GENERIC", 1, micro=999999, host="app1")
    add(60 * 20, "APP", "GENERIC", 1, host="app1")
    add(60 * 20, "APP", "GENERIC", 1, micro=1, host="app1")
    add(60 * 25 + 5, "LINUX", "SUDO_ESCALATION", 5, user="deploy")
    add(60 * 29 + 59, "WINDOWS", "ACCOUNT_CREATE", 4, user="eve", host="dc1")
    return evs


def offset_of(e):
    t = datetime.datetime.strptime(e["timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc)
    d = t - BASE
    return d.days * 86400 + d.seconds, d.microseconds


def in_range(e, lo, hi):
    """lo/hi in microseconds from BASE, inclusive."""
    s, us = offset_of(e)
    x = s * US + us
    return lo <= x <= hi


class Stats(HubCase):
    @classmethod
    def setUpClass(cls):
        cls.hub = cls.class_hub()
        cls.events = seed()
        cls.hub.ingest_ok(cls.events)

    def get(self, path, params=None, token=None):
        status, _, body = self.hub.get(path, params, token=token)
        self.assertEqual(status, 200, "%s %r: %s %r" % (path, params, status, body))
        return body

    def expect_series(self, lo_s, hi_s, width_s, key, lo_us=0, hi_us=0, only=None):
        """{key: [counts per bucket]} computed from the seed for [lo, hi] (offsets in s)."""
        lo = lo_s * US + lo_us
        hi = hi_s * US + hi_us
        b0 = (epoch(0) * US + lo) // (width_s * US)
        b1 = (epoch(0) * US + hi) // (width_s * US)
        out = collections.defaultdict(lambda: [0] * (b1 - b0 + 1))
        for e in self.events:
            if not in_range(e, lo, hi) or (only and not only(e)):
                continue
            s, us = offset_of(e)
            b = (epoch(0) * US + s * US + us) // (width_s * US) - b0
            out[str(e[key]) if key else "all"][b] += 1
        return dict(out), [(b0 + i) * width_s for i in range(b1 - b0 + 1)]

    # ---- time series ----

    def test_series_per_minute_by_os(self):
        body = self.get("/stats/timeseries", {"from": iso(0), "to": at(30 * 60 - 1, 999999),
                                              "interval": "1m", "by": "os_type"})
        want, buckets = self.expect_series(0, 30 * 60 - 1, 60, "os_type", hi_us=999999)
        self.assertEqual(body["interval"], "1m")
        self.assertEqual(body["interval_s"], 60)
        self.assertEqual(body["by"], "os_type")
        self.assertEqual(body["buckets"], buckets)
        self.assertEqual(len(buckets), 30)
        got = {s["key"]: s["counts"] for s in body["series"]}
        self.assertEqual(got, want)
        self.assertEqual(body["total"], len(self.events))
        # Most frequent series first, ties by key.
        totals = [(-s["total"], s["key"]) for s in body["series"]]
        self.assertEqual(totals, sorted(totals))
        self.assertEqual([s["key"] for s in body["series"]][:2], ["LINUX", "PIHOLE"])

    def test_bucket_edges_are_exact(self):
        # Minute 19 ends at 19:59.999999; minute 20 starts at 20:00.000000.
        body = self.get("/stats/timeseries", {"from": iso(19 * 60), "to": at(20 * 60, 1),
                                              "interval": "60s", "by": "none"})
        self.assertEqual(body["buckets"], [epoch(19 * 60), epoch(20 * 60)])
        self.assertEqual(body["series"], [{"key": "all", "counts": [1, 2], "total": 3}])
        # A range that starts and ends inside minutes counts only what is inside.
        body = self.get("/stats/timeseries", {"from": at(20 * 60, 1), "to": at(20 * 60 + 1),
                                              "by": "none"})
        self.assertEqual(body["total"], 1)

    def test_five_minute_buckets_by_severity_unaligned_from(self):
        lo, hi = 2 * 60 + 30, 27 * 60 + 10
        body = self.get("/stats/timeseries", {"from": iso(lo), "to": iso(hi), "interval": "5m",
                                              "by": "severity"})
        want, buckets = self.expect_series(lo, hi, 300, "severity")
        self.assertEqual(body["interval_s"], 300)
        self.assertEqual(body["buckets"], buckets)
        self.assertEqual(buckets[0], epoch(0))  # aligned to the interval, holding `from`
        self.assertEqual({s["key"]: s["counts"] for s in body["series"]}, want)

    def test_filters_and_event_type_split(self):
        body = self.get("/stats/timeseries", {"from": iso(0), "to": iso(3600), "interval": "10m",
                                              "by": "event_type", "os_type": "linux,windows",
                                              "min_severity": "3"})
        want, _ = self.expect_series(0, 3600, 600, "event_type",
                                     only=lambda e: e["os_type"] in ("LINUX", "WINDOWS")
                                     and e["severity"] >= 3)
        self.assertEqual({s["key"]: s["counts"] for s in body["series"]}, want)

    def test_interval_is_widened_to_at_most_1500_points(self):
        body = self.get("/stats/timeseries", {"from": iso(-30 * 86400), "to": iso(86400),
                                              "interval": "1m"})
        self.assertLessEqual(len(body["buckets"]), 1500)
        self.assertGreater(body["interval_s"], 60)
        self.assertEqual(body["interval_s"] % 60, 0)
        self.assertEqual(body["total"], len(self.events))
        week = self.get("/stats/timeseries", {"from": iso(0), "to": iso(7 * 86400), "interval": "1m"})
        self.assertLessEqual(len(week["buckets"]), 1500)
        self.assertEqual(week["interval"], "10m")  # 1m, 2m, 5m give more than 1500 buckets

    def test_series_cap_folds_the_rest_into_other(self):
        body = self.get("/stats/timeseries", {"from": iso(0), "to": iso(3600), "interval": "1h",
                                              "by": "event_type", "series": "2"})
        keys = [s["key"] for s in body["series"]]
        self.assertEqual(keys, ["LOGIN_FAIL", "DNS_BLOCK", "(other)"])
        self.assertEqual(sum(s["total"] for s in body["series"]), len(self.events))

    # ---- top ----

    def test_top_ips_order_and_ties(self):
        body = self.get("/stats/top", {"field": "source_ip", "event_type": "LOGIN_FAIL",
                                       "from": iso(0), "to": iso(3600)})
        self.assertEqual(body["values"], [{"value": IP_A, "count": 5}, {"value": IP_C, "count": 5},
                                          {"value": IP_B, "count": 3}, {"value": IP_D, "count": 1}])
        self.assertEqual(body["distinct"], 4)
        self.assertEqual(body["total"], 14)
        two = self.get("/stats/top", {"field": "source_ip", "event_type": "LOGIN_FAIL", "n": 2,
                                      "from": iso(0), "to": iso(3600)})
        self.assertEqual([v["value"] for v in two["values"]], [IP_A, IP_C])
        # Linux only: C drops to 3 and ties with B, ordered by value.
        linux = self.get("/stats/top", {"field": "src_ip", "event_type": "LOGIN_FAIL",
                                        "os_type": "LINUX", "from": iso(0), "to": iso(3600)})
        self.assertEqual(linux["values"], [{"value": IP_A, "count": 5}, {"value": IP_B, "count": 3},
                                           {"value": IP_C, "count": 3}, {"value": IP_D, "count": 1}])

    def test_top_domains(self):
        body = self.get("/stats/top", {"field": "domain", "event_type": "DNS_BLOCK",
                                       "from": iso(0), "to": iso(3600)})
        self.assertEqual(body["values"], [{"value": "ads.example.com", "count": 5},
                                          {"value": "track.example.net", "count": 4},
                                          {"value": "evil.example.org", "count": 2}])
        every = self.get("/stats/top", {"field": "domain", "from": iso(0), "to": iso(3600)})
        self.assertEqual(every["values"][0], {"value": "ads.example.com", "count": 6})

    def test_top_low_cardinality_fields(self):
        sev = self.get("/stats/top", {"field": "severity", "from": iso(0), "to": iso(3600)})
        want = collections.Counter(e["severity"] for e in self.events)
        self.assertEqual(sev["values"], [{"value": k, "count": c} for k, c in
                                         sorted(want.items(), key=lambda x: (-x[1], str(x[0])))])
        os_ = self.get("/stats/top", {"field": "os_type", "n": 1, "from": iso(0), "to": iso(3600)})
        linux = sum(1 for e in self.events if e["os_type"] == "LINUX")
        self.assertEqual(os_["values"], [{"value": "LINUX", "count": linux}])
        users = self.get("/stats/top", {"field": "user", "event_type": "LOGIN_FAIL",
                                        "from": iso(0), "to": iso(3600)})
        self.assertEqual(users["values"][:2], [{"value": "root", "count": 8},
                                               {"value": "admin", "count": 3}])

    def test_rollups_and_scans_agree(self):
        """app= forces a scan of the events; without it rollups answer where kept. Both over
        ranges with partial minutes and 10-minute periods at each end."""
        for lo, hi in ((0, 3600), (7, 29 * 60 + 59), (14 * 60 + 2, 20 * 60), (601, 1799),
                       (-61 * 86400, 86400)):
            r = {"from": iso(lo), "to": iso(hi)}
            for by in ("os_type", "event_type", "severity", "none"):
                a = self.get("/stats/timeseries", dict(r, interval="1m", by=by))
                b = self.get("/stats/timeseries", dict(r, interval="1m", by=by, app="statsapp"))
                c = self.get("/stats/timeseries", dict(r, interval="1m", by=by, rollups="0"))
                self.assertEqual(a["series"], b["series"], (lo, hi, by))
                self.assertEqual(a["series"], c["series"], (lo, hi, by))
                self.assertFalse(b["rollups"] or c["rollups"])
            for field, et in (("source_ip", "LOGIN_FAIL"), ("domain", "DNS_BLOCK"), ("user", ""),
                              ("source_host", ""), ("app", "")):
                p = dict(r, field=field, n=100)
                if et:
                    p["event_type"] = et
                a = self.get("/stats/top", p)
                b = self.get("/stats/top", dict(p, app="statsapp"))
                c = self.get("/stats/top", dict(p, rollups="0"))
                self.assertEqual((a["values"], a["total"]), (b["values"], b["total"]), (lo, hi, field))
                self.assertEqual((a["values"], a["total"]), (c["values"], c["total"]), (lo, hi, field))

    # ---- summary ----

    def test_summary(self):
        body = self.get("/stats/summary", {"from": iso(0), "to": iso(3600)})
        self.assertEqual(body["events"], len(self.events))
        want = collections.Counter(e["os_type"] for e in self.events if e["severity"] >= 3)
        self.assertEqual(body["threats_by_os"],
                         [{"os_type": k, "count": c} for k, c in
                          sorted(want.items(), key=lambda x: (-x[1], x[0]))])
        self.assertEqual(body["threats"], sum(want.values()))
        self.assertEqual(body["top_blocked_domain"], {"domain": "ads.example.com", "count": 5})
        self.assertEqual(body["blocked"], 11)
        self.assertTrue(body["alerts"] is None or isinstance(body["alerts"], int))
        sev = {v["value"]: v["count"] for v in body["by_severity"]}
        self.assertEqual(sev, dict(collections.Counter(e["severity"] for e in self.events)))
        empty = self.get("/stats/summary", {"from": iso(-86400), "to": iso(-1)})
        self.assertEqual((empty["events"], empty["threats_by_os"], empty["top_blocked_domain"]),
                         (0, [], None))

    def test_default_range_is_the_last_24_hours(self):
        body = self.get("/stats/summary")
        to = datetime.datetime.strptime(body["to"], "%Y-%m-%dT%H:%M:%S.%fZ")
        frm = datetime.datetime.strptime(body["from"], "%Y-%m-%dT%H:%M:%S.%fZ")
        self.assertEqual((to - frm), datetime.timedelta(hours=24, microseconds=-1))
        self.assertLess(abs(to.replace(tzinfo=datetime.timezone.utc).timestamp() - time.time()), 60)
        self.assertEqual(body["events"], 0)  # the seed is in 2025

    def test_bad_parameters(self):
        for path, params, name in (
                ("/stats/timeseries", {"interval": "5x"}, "interval"),
                ("/stats/timeseries", {"interval": "0"}, "interval"),
                ("/stats/timeseries", {"by": "source_ip"}, "by"),
                ("/stats/timeseries", {"series": "0"}, "series"),
                ("/stats/top", {"field": "message"}, "field"),
                ("/stats/top", {"n": "101"}, "n"),
                ("/stats/top", {"severity": "7"}, "severity"),
                ("/stats/summary", {"from": "yesterday"}, "from"),
                ("/stats/top", {"rollups": "no"}, "rollups"),
                ("/stats/summary", {"from": iso(10), "to": iso(0)}, "from")):
            status, _, body = self.hub.get(path, params)
            self.assertEqual(status, 400, (path, params, body))
            self.assertTrue(body["detail"].startswith(name + ":"), body)
        for path in ("/stats/summary", "/stats/timeseries", "/stats/top", "/dashboards"):
            status, _, _ = self.hub.get(path, token=False)
            self.assertEqual(status, 401, path)


class Dashboards(HubCase):
    @classmethod
    def setUpClass(cls):
        cls.hub = cls.class_hub()

    def call(self, method, path, body=None, user="admin"):
        if user != "admin":
            self.hub.add_user(user, "analyst")
        tok = self.hub.make_token(user, "admin" if user == "admin" else "analyst", ttl=600)
        status, _, data = self.hub.request(method, path, body,
                                           {"Authorization": "Bearer " + tok})
        return status, data

    def test_crud_per_user(self):
        widgets = [{"type": "timeseries", "title": "By OS", "query": {"by": "os_type"}},
                   {"type": "top", "query": {"field": "source_ip", "event_type": "LOGIN_FAIL"},
                    "width": 2},
                   {"type": "number", "title": "Failed logins"},
                   {"type": "table", "query": {"q": "failed", "n": 5}}]
        st, made = self.call("POST", "/dashboards", {"name": "SOC", "widgets": widgets}, "alice")
        self.assertEqual(st, 201, made)
        self.assertEqual((made["name"], made["widgets"]), ("SOC", widgets))
        did = made["id"]
        st, got = self.call("GET", "/dashboards/%d" % did, user="alice")
        self.assertEqual((st, got["widgets"]), (200, widgets))
        st, lst = self.call("GET", "/dashboards", user="alice")
        self.assertEqual([d["name"] for d in lst["dashboards"]], ["SOC"])
        # Another user sees none of alice's.
        st, lst = self.call("GET", "/dashboards", user="bob")
        self.assertEqual((st, lst["dashboards"]), (200, []))
        self.assertEqual(self.call("GET", "/dashboards/%d" % did, user="bob")[0], 404)
        self.assertEqual(self.call("DELETE", "/dashboards/%d" % did, user="bob")[0], 404)
        self.assertEqual(self.call("PUT", "/dashboards/%d" % did, {"name": "x"}, "bob")[0], 404)
        # bob may use the same name.
        self.assertEqual(self.call("POST", "/dashboards", {"name": "SOC"}, "bob")[0], 201)
        # Rename and reorder.
        st, upd = self.call("PUT", "/dashboards/%d" % did,
                            {"name": "SOC main", "widgets": widgets[::-1]}, "alice")
        self.assertEqual((st, upd["name"], upd["widgets"]), (200, "SOC main", widgets[::-1]))
        self.assertEqual(self.call("POST", "/dashboards", {"name": "SOC main"}, "alice")[0], 409)
        st, _ = self.call("DELETE", "/dashboards/%d" % did, user="alice")
        self.assertEqual(st, 200)
        self.assertEqual(self.call("GET", "/dashboards/%d" % did, user="alice")[0], 404)

    def test_invalid_dashboards(self):
        for body, status in (({"widgets": []}, 422),
                             ({"name": ""}, 422),
                             ({"name": "x" * 201}, 422),
                             ({"name": "a", "widgets": {}}, 422),
                             ({"name": "a", "widgets": [{"type": "pie"}]}, 422),
                             ({"name": "a", "widgets": [{"type": "top", "query": "x"}]}, 422),
                             ({"name": "a", "widgets": [{"type": "top"}] * 51}, 422),
                             ([1, 2], 422)):
            st, data = self.call("POST", "/dashboards", body)
            self.assertEqual(st, status, (body, data))
        status, _, data = self.hub.request(
            "POST", "/dashboards", b"{not json",
            {"Authorization": "Bearer " + self.hub.login_token(), "Content-Type": "application/json"})
        self.assertEqual(status, 400, data)
        self.assertEqual(self.call("GET", "/dashboards/abc")[0], 400)
        self.assertEqual(self.call("GET", "/dashboards/999999")[0], 404)


@sqlite_only  # the embedded store's segment files, each with its own rollups
class StatsSegmented(Stats):
    """The same numbers when the events are spread over many segments (sealed, indexed and
    active), each with its own rollups: every few seeded events come after 1000 others from
    two months earlier (outside every range asked), so that the segment fills and is sealed."""

    @classmethod
    def setUpClass(cls):
        cls.hub = cls.class_hub(args=["--segment-rows", "1000", "--retention-days", "0"])
        cls.events = seed()
        for i in range(0, len(cls.events), 5):
            filler = [{"event_id": event_uuid("filler", i, k), "timestamp": at(-60 * 86400 + k),
                       "event_type": "FILLER", "os_type": "APP", "app": "statsapp"}
                      for k in range(1000)]
            cls.hub.ingest_ok(filler)
            cls.hub.ingest_ok(cls.events[i:i + 5])
        status, _, ready = cls.hub.get("/ready")
        assert ready["segments"] >= 5, ready

        def indexed():
            _, _, text = cls.hub.request("GET", "/metrics")
            m = re.search(rb"^minisiem_store_segments_unindexed (\d+)", text, re.M)
            return m is not None and int(m.group(1)) == 0
        # Sealed segments get their per-value totals with their indices.
        wait_for(indexed, 60, "the sealed segments' indices")
