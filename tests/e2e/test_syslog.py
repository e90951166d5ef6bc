"""test_syslog.py — the syslog receivers, black-box: RFC 5424 and 3164 over UDP and TCP (both
framings), bad input kept as dead letters or truncated events, /metrics counters, a clean stop
that commits what was received, IPv6 loopback."""

import re
import socket
import threading
import time
import unittest
import uuid

from helpers import ipv6_loopback, metric, metrics_text
from hub import HubCase, read_text, wait_for

DEADLINE = 20.0
MAX_MSG = 64 * 1024  # the default --syslog-max-msg
SYSLOG_RE = re.compile(r"minisiem: syslog (udp|tcp) on (\S+):(\d+)")


def tag(name):
    return "%s%s" % (name, uuid.uuid4().hex[:10])


def syslog_ports(h):
    """{"udp": (host, port), "tcp": (host, port)} from the hub's stdout lines."""
    def found():
        got = {m.group(1): (m.group(2).strip("[]"), int(m.group(3)))
               for m in SYSLOG_RE.finditer(read_text(h.stdout_path))}
        return got if len(got) == 2 else None
    return wait_for(found, DEADLINE, "the hub's 'syslog udp/tcp on' lines")


def rfc5424(host, app, msg, pri=13):
    return ("<%d>1 2024-03-15T12:34:56.123Z %s %s 4242 ID47 - %s" % (pri, host, app, msg)).encode()


def rfc3164(host, app, msg, pri=38):
    return ("<%d>Mar 15 12:34:56 %s %s[77]: %s" % (pri, host, app, msg)).encode()


def octet(msg):
    return b"%d %s" % (len(msg), msg)


class Syslog(HubCase):
    @classmethod
    def setUpClass(cls):
        cls.hub = cls.class_hub(args=["--syslog-udp", "127.0.0.1:0",
                                      "--syslog-tcp", "127.0.0.1:0"])
        cls.ports = syslog_ports(cls.hub)

    # ---- helpers ----

    def udp(self, *datagrams):
        addr = self.ports["udp"]
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for d in datagrams:
                s.sendto(d, addr)

    def tcp(self, *chunks, pause=0.0):
        """One connection; each chunk in its own send."""
        with socket.create_connection(self.ports["tcp"], timeout=30) as s:
            for c in chunks:
                s.sendall(c)
                if pause:
                    time.sleep(pause)

    def wait_events(self, app, n):
        """Exactly n events of app, polled until they are all stored."""
        def enough():
            ev = self.hub.all_events({"app": app})
            self.assertLessEqual(len(ev), n, "more events than sent for %s" % app)
            return ev if len(ev) == n else None
        return wait_for(enough, DEADLINE, "%d events of app %s" % (n, app))

    def metrics(self):
        return metrics_text(self.hub)

    def dead_letters(self):
        status, _, body = self.hub.get("/dead-letters", {"limit": 1000})
        self.assertEqual(status, 200, body)
        return body["dead_letters"]

    def full(self, ev):
        status, _, body = self.hub.get_event(ev["event_id"])
        self.assertEqual(status, 200, body)
        return body

    def assertAlive(self):
        status, _, _ = self.hub.request("GET", "/health")
        self.assertEqual(status, 200)
        self.assertTrue(self.hub.running())

    # ---- well-formed messages ----

    def test_udp_rfc5424_and_3164(self):
        app = tag("udp")
        self.udp(rfc5424("web-01.example.com", app, "first over udp"),
                 rfc3164("db-02", app, "second over udp"),
                 b"<13>1 2024-03-15T12:00:00Z - " + app.encode() + b" - - - no hostname")
        ev = {e["message"]: e for e in self.wait_events(app, 3)}
        self.assertEqual(set(ev), {"first over udp", "second over udp", "no hostname"})
        self.assertEqual(ev["first over udp"]["source_host"], "web-01.example.com")
        self.assertEqual(ev["second over udp"]["source_host"], "db-02")
        # Without a HOSTNAME the sender's address names the host.
        self.assertEqual(ev["no hostname"]["source_host"], "127.0.0.1")
        for e in ev.values():
            self.assertEqual(e["source"], "syslog_udp")
            self.assertNotIn("truncated", e)
        self.assertEqual(ev["first over udp"]["timestamp"], "2024-03-15T12:34:56.123000Z")
        full = self.full(ev["second over udp"])
        self.assertEqual(full["raw_message"], rfc3164("db-02", app, "second over udp").decode())

    def test_decoded_sshd_over_both(self):
        host = tag("sshhost")
        line = "Failed password for root from 203.0.113.7 port 52114 ssh2"
        self.udp(b"<38>Mar 15 12:34:56 " + host.encode() + b" sshd[4242]: " + line.encode())
        self.tcp(octet(b"<38>1 2024-03-15T12:34:56Z " + host.encode() + b" sshd 4243 - - " +
                       line.encode()))
        ev = wait_for(lambda: (lambda e: e if len(e) == 2 else None)(
            self.hub.all_events({"source_host": host})), DEADLINE, "two sshd events")
        self.assertEqual({e["source"] for e in ev}, {"syslog_udp", "syslog_tcp"})
        for e in ev:
            self.assertEqual(e["event_type"], "LOGIN_FAIL", e)
            self.assertEqual(e["source_ip"], "203.0.113.7", e)
            self.assertEqual(e["user"], "root", e)
            self.assertEqual(e["app"], "sshd", e)

    def test_tcp_newline_and_octet_framing(self):
        app = tag("tcp")
        a = rfc5424("h1", app, "newline one")
        b = rfc3164("h2", app, "newline two")
        c = rfc5424("h3", app, "counted with\nan LF inside")
        d = rfc5424("h4", app, "counted two")
        stream = a + b"\n" + b + b"\r\n" + octet(c) + octet(d) + rfc5424("h5", app, "last, no LF")
        # Split at awkward places: inside a length, inside a body, byte by byte.
        cuts = [5, 6, len(a) + 3, len(a) + len(b) + 3, len(a) + len(b) + 4,
                len(a) + len(b) + 5, len(stream) - 10]
        chunks, last = [], 0
        for cut in cuts:
            chunks.append(stream[last:cut])
            last = cut
        chunks.append(stream[last:])
        self.tcp(*chunks, pause=0.01)
        ev = {e["message"]: e for e in self.wait_events(app, 5)}
        self.assertEqual(set(ev), {"newline one", "newline two", "counted with\nan LF inside",
                                   "counted two", "last, no LF"})
        self.assertEqual(ev["newline two"]["source_host"], "h2")
        self.assertEqual(ev["counted two"]["source_host"], "h4")
        for e in ev.values():
            self.assertEqual(e["source"], "syslog_tcp")
            self.assertNotIn("truncated", e)

    def test_tcp_many_connections(self):
        app = tag("conns")
        conns, per = 30, 40
        errors = []

        def sender(i):
            try:
                with socket.create_connection(self.ports["tcp"], timeout=30) as s:
                    for j in range(per):
                        m = rfc5424("c%d" % i, app, "conn %d msg %d" % (i, j))
                        s.sendall(octet(m) if j % 2 else m + b"\n")
            except OSError as e:
                errors.append(repr(e))

        threads = [threading.Thread(target=sender, args=(i,)) for i in range(conns)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(errors, [])
        ev = self.wait_events(app, conns * per)
        self.assertEqual(len({e["message"] for e in ev}), conns * per)

    # ---- bad input ----

    def test_binary_garbage_and_empty(self):
        app = tag("after-garbage")
        before = [d for d in self.dead_letters() if d["raw"] in ("", "\r\n")]
        marker = tag("garbage")
        garbage = b"\x00\xff\xfe\x01 " + marker.encode() + b" \x80\x81\xc3"
        self.udp(b"", b"\r\n", garbage)
        self.tcp(b"\n0 " + garbage + b"\n" + rfc5424("h", app, "still fine") + b"\n")
        self.udp(rfc5424("h", app, "udp still fine"))
        self.wait_events(app, 2)

        # Empty messages are dead letters with a reason; garbage is kept one way or the
        # other (a dead letter, or an event whose invalid bytes became U+FFFD).
        def settled():
            dl = self.dead_letters()
            empty = [d for d in dl if d["raw"] in ("", "\r\n")]
            kept = [d for d in dl if marker in (d["raw"] or "")]
            evs = [e for e in self.hub.all_events({"q": marker}) if marker in e["message"]]
            if len(empty) - len(before) == 4 and len(kept) + len(evs) == 2:
                return empty, kept, evs
            return None
        empty, kept, evs = wait_for(settled, DEADLINE, "4 empty dead letters, 2 garbage records")
        for d in empty + kept:
            self.assertIn(d["source"], ("syslog_udp", "syslog_tcp"))
            self.assertTrue(d["reason"])
        for e in evs:
            self.assertIn("\ufffd", e["message"])
        self.assertAlive()

    def test_invalid_utf8(self):
        app = tag("utf8")
        self.udp(b"<13>1 2024-03-15T12:00:00Z h " + app.encode() + b" - - - bad \xc3\x28 and \xff end")
        self.tcp(b"<13>1 2024-03-15T12:00:00Z h " + app.encode() + b" - - - tcp \xed\xa0\x80 x\n")
        dead = lambda: [d for d in self.dead_letters() if app in (d["raw"] or "")]
        got = wait_for(lambda: len(self.hub.all_events({"app": app})) + len(dead()) == 2 or None,
                       DEADLINE, "two records for invalid UTF-8")
        self.assertTrue(got)
        for e in self.hub.all_events({"app": app}):
            self.assertIn("\ufffd", e["message"])
        self.assertAlive()

    def test_one_megabyte_messages_are_truncated(self):
        app = tag("big")
        big = b"A" * (1 << 20)
        nl = rfc5424("h", app, "nl ") + big
        oc = rfc5424("h", app, "oc ") + big
        self.tcp(nl + b"\n" + rfc5424("h", app, "after nl") + b"\n",
                 octet(oc) + octet(rfc5424("h", app, "after oc")))
        ev = {e["message"][:9]: e for e in self.wait_events(app, 4)}
        self.assertEqual(ev["after nl"]["message"], "after nl")
        self.assertEqual(ev["after oc"]["message"], "after oc")
        for k in ("nl AAAAAA", "oc AAAAAA"):
            e = ev[k]
            self.assertIn("raw_message", e.get("truncated", []), e)
            self.assertIn("message", e.get("truncated", []), e)
            raw = self.full(e)["raw_message"]
            self.assertLessEqual(len(raw.encode()), MAX_MSG)
            self.assertGreater(len(raw.encode()), MAX_MSG - 100)
        m = self.metrics()
        self.assertGreaterEqual(metric(m, 'minisiem_syslog_truncated_total{source="syslog_tcp"}'), 2)
        self.assertAlive()

    # ---- metrics ----

    def test_metrics_count(self):
        m0 = self.metrics()
        u0 = metric(m0, 'minisiem_events_received_total{source="syslog_udp"}')
        t0 = metric(m0, 'minisiem_events_received_total{source="syslog_tcp"}')
        r0 = metric(m0, 'minisiem_events_rejected_total{source="syslog_udp"}')
        a0 = metric(m0, 'minisiem_events_accepted_total{source="syslog_udp"}')
        b0 = metric(m0, 'minisiem_events_accepted_total{source="syslog_tcp"}')
        dl0 = metric(m0, 'minisiem_dead_letters_total{source="syslog_udp"}')
        app = tag("metrics")
        self.udp(*[rfc5424("h", app, "u %d" % i) for i in range(5)] + [b""])
        self.tcp(b"".join(rfc5424("h", app, "t %d" % i) + b"\n" for i in range(7)))
        self.wait_events(app, 12)

        def counted():
            m = self.metrics()
            want = [('minisiem_events_received_total{source="syslog_udp"}', u0, 6),
                    ('minisiem_events_received_total{source="syslog_tcp"}', t0, 7),
                    ('minisiem_events_rejected_total{source="syslog_udp"}', r0, 1),
                    ('minisiem_events_accepted_total{source="syslog_udp"}', a0, 5),
                    ('minisiem_events_accepted_total{source="syslog_tcp"}', b0, 7),
                    ('minisiem_dead_letters_total{source="syslog_udp"}', dl0, 1)]
            return m if all(metric(m, k) - v0 == d for k, v0, d in want) else None
        m = wait_for(counted, DEADLINE, "the syslog counters")
        # twelve messages at leisure: nothing dropped, and the connection, closed, is gone
        for series in ("minisiem_syslog_udp_dropped_total",
                       "minisiem_syslog_udp_kernel_dropped_total",
                       "minisiem_syslog_tcp_dropped_total"):
            self.assertEqual(metric(m, series), metric(m0, series), series)
        wait_for(lambda: metric(self.metrics(), "minisiem_syslog_tcp_connections") == 0,
                 DEADLINE, "minisiem_syslog_tcp_connections back to 0")
        self.assertGreater(metric(m, "minisiem_syslog_udp_rcvbuf_bytes"), 0)

    def test_udp_burst_is_stored_or_counted(self):
        app = tag("burst")
        n = 3000
        d0 = metric(self.metrics(), "minisiem_syslog_udp_dropped_total")
        addr = self.ports["udp"]
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for i in range(n):
                s.sendto(rfc5424("h", app, "burst %d" % i), addr)

        def accounted():
            stored = len(self.hub.all_events({"app": app}))
            dropped = metric(self.metrics(), "minisiem_syslog_udp_dropped_total") - d0
            return (stored, dropped) if stored + dropped == n else None
        stored, dropped = wait_for(accounted, DEADLINE, "every datagram stored or counted")
        self.assertGreater(stored, 0)


class SyslogLifecycle(HubCase):
    def test_stop_commits_what_was_received(self):
        h = self.own_hub(args=["--syslog-udp", "127.0.0.1:0", "--syslog-tcp", "127.0.0.1:0"])
        ports = syslog_ports(h)
        app = tag("stop")
        n = 500
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for i in range(n):
                s.sendto(rfc5424("h", app, "u %d" % i), ports["udp"])
        conn = socket.create_connection(ports["tcp"], timeout=30)
        conn.sendall(b"".join(rfc5424("h", app, "t %d" % i) + b"\n" for i in range(n)))

        def received():
            m = metrics_text(h)
            return (metric(m, 'minisiem_events_received_total{source="syslog_udp"}') >= n and
                    metric(m, 'minisiem_events_received_total{source="syslog_tcp"}') >= n)
        wait_for(received, DEADLINE, "the hub to read every message")
        h.stop()  # exit 0, no sanitizer report
        conn.close()
        h.start()
        self.assertEqual(len(h.all_events({"app": app})), 2 * n)

    def test_bad_address_fails_to_start(self):
        h = self.own_hub(start=False, args=["--syslog-udp", "not-an-address"])
        with self.assertRaises(AssertionError):
            h.start(timeout=15)
        self.assertNotEqual(h.returncode, 0)

    @unittest.skipUnless(ipv6_loopback(), "this machine has no IPv6 loopback address (::1 cannot be bound)")
    def test_ipv6_loopback(self):
        h = self.own_hub(args=["--syslog-udp", "[::1]:0", "--syslog-tcp", "[::1]:0"])
        ports = syslog_ports(h)
        self.assertEqual(ports["udp"][0], "::1")
        app = tag("v6")
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.sendto(b"<13>1 2024-03-15T12:00:00Z - " + app.encode() + b" - - - over udp6",
                     ("::1", ports["udp"][1]))
        with socket.create_connection(("::1", ports["tcp"][1]), timeout=30) as c:
            c.sendall(b"<13>1 2024-03-15T12:00:00Z - " + app.encode() + b" - - - over tcp6\n")
        ev = wait_for(lambda: (lambda e: e if len(e) == 2 else None)(h.all_events({"app": app})),
                      DEADLINE, "two events over IPv6")
        self.assertEqual({e["source_host"] for e in ev}, {"::1"})
        self.assertEqual({e["source"] for e in ev}, {"syslog_udp", "syslog_tcp"})
