"""test_enrich.py — enrichment end to end: GeoIP and ASN from the MaxMind test databases,
threat-intel lists (plain and CSV) and reverse DNS against a responder of the test's own on
loopback; through POST /ingest, syslog and the JSON-lines tailer; stored and searchable
(country, asn, tag filters, /stats/top), matched by a Sigma rule, counted in /metrics;
corrupt databases named by /ready while ingest goes on; lists and databases reloaded under
ingest without losing an acknowledged event."""

import json
import os
import shutil
import socket
import struct
import tempfile
import threading
import time
import unittest

from helpers import metric, metrics_text
from hub import HubCase, Load, event_uuid, read_text, wait_for
from test_syslog import rfc3164, syslog_ports

DEADLINE = 20.0
HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.environ.get("SIEM_TEST_DATA") or os.path.join(HERE, "..", "..", "..", "shared", "data")
MM = os.path.join(DATA, "maxmind", "test-data")
CITY = os.path.join(MM, "GeoIP2-City-Test.mmdb")
COUNTRY = os.path.join(MM, "GeoIP2-Country-Test.mmdb")
ASN = os.path.join(MM, "GeoLite2-ASN-Test.mmdb")

# From maxmind/SOURCE.md (verified lookups)
LONDON = "81.2.69.142"       # GB, London, no ASN
LINKOPING = "89.160.20.112"  # SE, Linköping, AS29518
LISTED = "203.0.113.77"      # in the test's drop list (a documentation range: no geo)
RULE_ID = "0e2e0000-0000-4000-8000-00000000e001"
RULE_YAML = """title: E2E event from an intel-listed address
id: %s
level: high
logsource:
    product: minisiem
detection:
    selection:
        tags|startswith: 'intel:'
        geo.country: SE
    condition: selection
""" % RULE_ID


def stored(h, eid):
    """GET /events/{id} of an acknowledged event."""
    status, _, body = h.get("/events/" + eid)
    assert status == 200, (status, body)
    return body


def have_data():
    return all(os.path.exists(p) for p in (CITY, COUNTRY, ASN))


def ev(tag, i, ip, **kw):
    e = {"event_id": event_uuid("enrich", tag, i), "event_type": "LOGIN_FAIL",
         "message": "Failed password for root from %s" % ip, "source_ip": ip,
         "source_host": "web1", "user": "root"}
    e.update(kw)
    return e


def write_lists(d):
    with open(os.path.join(d, "drop.txt"), "w") as f:
        f.write("; Spamhaus-style list\n203.0.113.0/24 ; SBL1\n%s\n\n# domains\n"
                "evil.example\n" % LINKOPING)
    with open(os.path.join(d, "feed.csv"), "w") as f:
        f.write('indicator,tag,confidence,description\n'
                '%s,botnet,90,"a, quoted description"\n'
                '198.51.100.9,scanner,10,low confidence\n' % LINKOPING)


class DnsResponder:
    """A UDP DNS server on 127.0.0.1 answering PTR questions from a table (NXDOMAIN
    otherwise), counting the questions it gets per name."""

    def __init__(self, names):
        self.names = dict(names)  # "4.3.2.1.in-addr.arpa" -> "host.example.net"
        self.asked = {}
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    @staticmethod
    def ptr(ip):
        return ".".join(reversed(ip.split("."))) + ".in-addr.arpa"

    def run(self):
        while not self.stopping:
            try:
                q, peer = self.sock.recvfrom(512)
            except socket.timeout:
                continue
            except OSError:
                return
            if len(q) < 12:
                continue
            labels, i = [], 12
            while i < len(q) and q[i]:
                labels.append(q[i + 1:i + 1 + q[i]].decode("ascii", "replace"))
                i += 1 + q[i]
            name, qend = ".".join(labels).lower(), i + 5
            self.asked[name] = self.asked.get(name, 0) + 1
            answer = self.names.get(name)
            flags = 0x8180 if answer else 0x8183
            head = q[:2] + struct.pack(">HHHHH", flags, 1, 1 if answer else 0, 0, 0)
            out = head + q[12:qend]
            if answer:
                rdata = b"".join(bytes([len(p)]) + p.encode() for p in answer.split(".")) + b"\0"
                out += struct.pack(">HHHIH", 0xC00C, 12, 1, 60, len(rdata)) + rdata
            self.sock.sendto(out, peer)

    def close(self):
        self.stopping = True
        self.thread.join(5)
        self.sock.close()


@unittest.skipUnless(have_data(), "the MaxMind test databases (shared/data/maxmind)")
class Enrich(HubCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="minisiem-e2e-enrich-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cls.intel = os.path.join(cls.tmp, "intel")
        cls.logs = os.path.join(cls.tmp, "logs")
        os.makedirs(cls.intel)
        os.makedirs(cls.logs)
        write_lists(cls.intel)
        cls.dns = DnsResponder({DnsResponder.ptr(LONDON): "mail.london.example.net",
                                DnsResponder.ptr("81.2.69.160"): "bad_name!$.example"})
        cls.addClassCleanup(cls.dns.close)
        cls.hub = cls.class_hub(args=[
            "--geoip-db", CITY, "--asn-db", ASN, "--intel-dir", cls.intel,
            "--intel-min-confidence", "50", "--rdns",
            "--rdns-servers", "127.0.0.1:%d" % cls.dns.port,
            "--syslog-udp", "127.0.0.1:0", "--syslog-tcp", "127.0.0.1:0",
            "--tail-dir", cls.logs])

    def get_event(self, eid):
        return stored(self.hub, eid)

    def test_geo_asn_and_tags_over_http(self):
        evs = [ev("http", 0, LONDON), ev("http", 1, LINKOPING), ev("http", 2, "10.1.2.3"),
               ev("http", 3, LISTED), ev("http", 4, "2001:db8::5"),
               ev("http", 5, "192.168.1.10", event_type="DNS_BLOCK", os_type="PIHOLE",
                  data={"domain": "ads.tracker.evil.example"}),
               ev("http", 6, "::ffff:10.0.0.1"),
               # a client cannot set the hub's fields: they end in data
               ev("http", 7, "10.9.9.9", geo={"country": "FR"}, tags=["intel:fake"])]
        self.assertIngested(self.hub.ingest(evs), len(evs))
        got = {e["event_id"]: e for e in self.hub.all_events({"user": "root"})}
        london = got[evs[0]["event_id"]]
        self.assertEqual(london["geo"]["country"], "GB")
        self.assertEqual(london["geo"]["city"], "London")
        self.assertEqual(london["geo"]["country_name"], "United Kingdom")
        self.assertAlmostEqual(london["geo"]["lat"], 51.5142, places=3)
        self.assertAlmostEqual(london["geo"]["lon"], -0.0931, places=3)
        self.assertNotIn("asn", london["geo"])
        self.assertNotIn("tags", london)
        sweden = self.get_event(evs[1]["event_id"])
        self.assertEqual(sweden["geo"]["country"], "SE")
        self.assertEqual(sweden["geo"]["city"], "Linköping")
        self.assertEqual(sweden["geo"]["asn"], 29518)
        self.assertTrue(sweden["geo"]["as_org"])
        self.assertEqual(sweden["tags"], ["intel:drop", "intel:feed", "intel:feed/botnet"])
        for i in (2, 4, 6):
            self.assertNotIn("geo", got[evs[i]["event_id"]], evs[i]["source_ip"])
        self.assertEqual(got[evs[3]["event_id"]]["tags"], ["intel:drop"])
        self.assertEqual(got[evs[5]["event_id"]]["tags"], ["intel:drop"])
        fake = self.get_event(evs[7]["event_id"])
        self.assertNotIn("geo", fake)
        self.assertNotIn("tags", fake)
        self.assertEqual(fake["data"]["geo"], {"country": "FR"})

        # filters
        ids = lambda params: {e["event_id"] for e in self.hub.all_events(params)}
        self.assertEqual(ids({"country": "gb", "user": "root"}), {evs[0]["event_id"]})
        self.assertEqual(ids({"country": "GB,SE", "user": "root"}),
                         {evs[0]["event_id"], evs[1]["event_id"]})
        self.assertEqual(ids({"asn": "AS29518"}) & set(got), {evs[1]["event_id"]})
        self.assertEqual(ids({"asn": "29518", "country": "GB"}), set())
        self.assertEqual(ids({"tag": "intel:feed/botnet"}) & set(got), {evs[1]["event_id"]})
        self.assertEqual(ids({"tag": "intel:drop", "user": "root"}),
                         {evs[i]["event_id"] for i in (1, 3, 5)})
        self.assertEqual(ids({"tag": "intel:*", "user": "root"}),
                         {evs[i]["event_id"] for i in (1, 3, 5)})
        self.assertEqual(ids({"tag": "intel:dro"}), set())  # a whole tag, not part of one
        self.assertEqual(ids({"tag": "intel:fake"}), set())
        for params, name in (({"country": "GBR"}, "country"), ({"asn": "ASX"}, "asn"),
                             ({"asn": "4294967296"}, "asn"), ({"tag": "a b"}, "tag"),
                             ({"tag": "*"}, "tag")):
            status, _, body = self.hub.get("/events", params)
            self.assertEqual(status, 400, body)
            self.assertIn(name, json.dumps(body))
        status, _, body = self.hub.get("/events", {"country": "SE", "count": "true",
                                                   "user": "root"})
        self.assertEqual((status, body["total"]), (200, 1), body)

        # top-N
        def top(field):
            status, _, body = self.hub.get("/stats/top", {"field": field, "from": "0",
                                                          "n": "10"})
            self.assertEqual(status, 200, body)
            return {v["value"]: v["count"] for v in body["values"]}
        self.assertGreaterEqual(top("country").get("GB", 0), 1)
        self.assertGreaterEqual(top("asn").get("29518", 0), 1)
        tags = top("tag")
        self.assertGreaterEqual(tags.get("intel:drop", 0), 3)
        self.assertGreaterEqual(tags.get("intel:feed/botnet", 0), 1)
        self.assertNotIn("intel:fake", tags)

        m = metrics_text(self.hub)
        self.assertGreater(metric(m, 'minisiem_enrich_hits_total{enricher="geoip"}'), 0)
        self.assertGreater(metric(m, 'minisiem_enrich_hits_total{enricher="intel"}'), 0)
        self.assertGreaterEqual(metric(m, 'minisiem_intel_indicators{kind="ip"}'), 3)
        status, _, ready = self.hub.get("/ready")
        self.assertEqual(status, 200, ready)
        self.assertNotIn("enrichment_problems", ready)

    def test_low_confidence_row_left_out(self):
        e = ev("conf", 0, "198.51.100.9")
        self.assertIngested(self.hub.ingest([e]), 1)
        self.assertNotIn("tags", self.get_event(e["event_id"]))

    def test_syslog_and_tailer_are_enriched(self):
        ports = syslog_ports(self.hub)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(rfc3164("gw1", "sshd", "Failed password for invalid user enr from %s "
                             "port 4242 ssh2" % LINKOPING), ports["udp"])
        got = wait_for(lambda: self.hub.events({"source_host": "gw1", "country": "SE"})["events"],
                       DEADLINE, "the syslog event, enriched")
        self.assertIn("intel:drop", got[0]["tags"])
        line = json.dumps({"timestamp": "2024-03-15T12:00:00Z", "level": "WARNING",
                           "app": "enrich-tail", "message": "login failed",
                           "client_ip": LONDON, "user_id": "u1"})
        with open(os.path.join(self.logs, "app.jsonl"), "a") as f:
            f.write(line + "\n")
        got = wait_for(lambda: self.hub.events({"app": "enrich-tail"})["events"], DEADLINE,
                       "the tailed event")
        self.assertEqual(got[0]["geo"]["city"], "London")

    def test_rule_matches_tags_and_country(self):
        status, _, body = self.hub.request(
            "POST", "/rules", RULE_YAML.encode(),
            {"Authorization": "Bearer " + self.hub.login_token(),
             "Content-Type": "application/yaml"})
        self.assertIn(status, (201, 409), body)
        self.assertIngested(self.hub.ingest([ev("rule", 0, LONDON), ev("rule", 1, LISTED)]), 2)
        self.assertIngested(self.hub.ingest([ev("rule", 2, LINKOPING)]), 1)

        def alert():
            status, _, body = self.hub.get("/alerts", {"rule": RULE_ID})
            return body["alerts"] if status == 200 and body["alerts"] else None
        alerts = wait_for(alert, DEADLINE, "the intel rule's alert")
        self.assertEqual(len(alerts), 1, alerts)
        status, _, full = self.hub.get("/alerts/%d" % alerts[0]["id"])
        ids = [e["event_id"] for e in full.get("events", [])]
        self.assertEqual(ids, [ev("rule", 2, LINKOPING)["event_id"]], full)

    def test_reverse_dns_fills_later_events(self):
        self.assertIngested(self.hub.ingest([ev("rdns", 0, LONDON)]), 1)
        n = [1]

        def named():
            e = ev("rdns", n[0], LONDON)
            n[0] += 1
            self.assertIngested(self.hub.ingest([e]), 1)
            return self.get_event(e["event_id"]).get("rdns")
        self.assertEqual(wait_for(named, DEADLINE, "an event with the reverse DNS name"),
                         "mail.london.example.net")
        # asked once: the answer is cached
        self.assertEqual(self.dns.asked.get(DnsResponder.ptr(LONDON)), 1)
        # a hostile answer is refused; a private address is never asked
        self.assertIngested(self.hub.ingest([ev("rdns", 100, "81.2.69.160"),
                                             ev("rdns", 101, "10.0.0.7")]), 2)
        wait_for(lambda: self.dns.asked.get(DnsResponder.ptr("81.2.69.160")), DEADLINE,
                 "the question for 81.2.69.160")
        e = ev("rdns", 102, "81.2.69.160")
        self.assertIngested(self.hub.ingest([e]), 1)
        self.assertNotIn("rdns", self.get_event(e["event_id"]))
        self.assertNotIn(DnsResponder.ptr("10.0.0.7"), self.dns.asked)
        self.assertGreater(metric(self.hub, 'minisiem_rdns_cache_hits_total'), 0)


@unittest.skipUnless(have_data(), "the MaxMind test databases (shared/data/maxmind)")
class EnrichTrouble(HubCase):
    def test_corrupt_databases_named_by_ready(self):
        bad = os.path.join(DATA, "maxmind", "test-data",
                           "GeoIP2-City-Test-Invalid-Node-Count.mmdb")
        tmp = tempfile.mkdtemp(prefix="minisiem-e2e-enrich-")
        self.addCleanup(shutil.rmtree, tmp, True)
        notdb = os.path.join(tmp, "not.mmdb")
        with open(notdb, "wb") as f:
            f.write(b"this is no MaxMind database" * 10)
        h = self.own_hub(args=["--geoip-db", notdb, "--asn-db", bad,
                               "--intel-dir", os.path.join(tmp, "missing")])
        status, _, ready = h.get("/ready")
        self.assertEqual(status, 200, ready)
        problems = ready.get("enrichment_problems", "")
        self.assertIn("geoip", problems)
        self.assertIn("not.mmdb", problems)
        self.assertIn("intel", problems)
        e = ev("corrupt", 0, LONDON)
        self.assertIngested(h.ingest([e]), 1)
        self.assertNotIn("geo", stored(h, e["event_id"]))
        self.assertIn("geoip", read_text(h.stderr_path))

    def test_lists_and_databases_reload_under_ingest(self):
        tmp = tempfile.mkdtemp(prefix="minisiem-e2e-enrich-")
        self.addCleanup(shutil.rmtree, tmp, True)
        intel = os.path.join(tmp, "intel")
        os.makedirs(intel)
        db = os.path.join(tmp, "geo.mmdb")
        shutil.copy(CITY, db)
        with open(os.path.join(intel, "watch.txt"), "w") as f:
            f.write("198.51.100.0/24\n")
        h = self.own_hub(args=["--geoip-db", db, "--intel-dir", intel,
                               "--enrich-check-interval", "1s"])
        load = Load(h, "reload-load", threads=2, batch=20, max_events=3000)
        load.start()
        try:
            # a new list, written beside and renamed in, as docs/enrichment.md says
            part = os.path.join(intel, ".new.tmp")
            with open(part, "w") as f:
                f.write("%s/32\n" % LONDON)
            os.rename(part, os.path.join(intel, "fresh.txt"))
            n = [0]

            def tagged():
                e = ev("reload", n[0], LONDON)
                n[0] += 1
                self.assertIngested(h.ingest([e]), 1)
                return "intel:fresh" in stored(h, e["event_id"]).get("tags", [])
            wait_for(tagged, DEADLINE, "events tagged by the new list")
            # a Country database in place of the City one: no more city
            shutil.copy(COUNTRY, db + ".tmp")
            os.rename(db + ".tmp", db)

            def cityless():
                e = ev("reload-db", n[0], LONDON)
                n[0] += 1
                self.assertIngested(h.ingest([e]), 1)
                g = stored(h, e["event_id"]).get("geo", {})
                return g.get("country") == "GB" and "city" not in g
            wait_for(cityless, DEADLINE, "events enriched from the new database")
        finally:
            load.join_done(timeout=120)
        self.assertEqual(load.bad, [])
        self.assertGreater(load.n_acked(), 0)
        kept = {e["event_id"] for e in h.all_events({"app": "reload-load"})}
        self.assertEqual(kept, set(load.acked))
        self.assertGreater(metric(h, 'minisiem_enrich_reloads_total{enricher="intel"}'), 0)
        self.assertGreater(metric(h, 'minisiem_enrich_reloads_total{enricher="geoip"}'), 0)


if __name__ == "__main__":
    unittest.main()
