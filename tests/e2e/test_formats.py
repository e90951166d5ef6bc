"""test_formats.py — logs as real forwarders send them, through one hub: rsyslog's RFC 5424
template, files forwarded line by line, Python's SysLogHandler over TCP (NUL-terminated
frames), zone-less times (--syslog-timezone, a year-less date after tomorrow, the future
bound), levels in either case, and the HTTP formats of Fluent Bit, Vector, Logstash,
syslog-ng and the raw envelope on POST /ingest."""

import datetime
import json
import logging
import logging.handlers
import socket
import uuid

from hub import HubCase, wait_for
from test_syslog import syslog_ports

DEADLINE = 20.0
FAILED = "Failed password for root from 203.0.113.7 port 52114 ssh2"
MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


def tag(name):
    return "%s%s" % (name, uuid.uuid4().hex[:10])


def bsd_time(d):
    """RFC 3164 "Mmm dd HH:MM:SS" of a datetime."""
    return "%s %2d %s" % (MONTHS[d.month - 1], d.day, d.strftime("%H:%M:%S"))


def iso(d):
    return d.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


class Formats(HubCase):
    @classmethod
    def setUpClass(cls):
        cls.hub = cls.class_hub(args=["--syslog-udp", "127.0.0.1:0",
                                      "--syslog-tcp", "127.0.0.1:0",
                                      "--syslog-timezone", "UTC,tokyo-gw=Asia/Tokyo"])
        cls.ports = syslog_ports(cls.hub)

    def udp(self, *datagrams):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for d in datagrams:
                s.sendto(d.encode(), self.ports["udp"])

    def tcp_lines(self, *lines):
        with socket.create_connection(self.ports["tcp"], timeout=30) as s:
            s.sendall("".join(x + "\n" for x in lines).encode())

    def wait_events(self, params, n):
        def enough():
            ev = self.hub.all_events(params)
            self.assertLessEqual(len(ev), n, "more events than sent for %r" % params)
            return ev if len(ev) == n else None
        return wait_for(enough, DEADLINE, "%d events of %r" % (n, params))

    def full(self, ev):
        status, _, body = self.hub.get_event(ev["event_id"])
        self.assertEqual(status, 200, body)
        return body

    def assertFailedLogin(self, e, host):
        self.assertEqual(e["event_type"], "LOGIN_FAIL", e)
        self.assertEqual(e["source_ip"], "203.0.113.7", e)
        self.assertEqual(e["user"], "root", e)
        self.assertEqual(e["app"], "sshd", e)
        self.assertEqual(e["source_host"], host, e)
        self.assertEqual(e["message"], FAILED, e)

    # ---- syslog as forwarders send it ----

    def test_rsyslog_5424_template(self):
        # RSYSLOG_SyslogProtocol23Format: "%STRUCTURED-DATA% %msg%" and msg starts with a space.
        host = tag("r5424")
        self.udp("<38>1 2024-03-15T12:34:56.123456+00:00 %s sshd 4242 - -  %s" % (host, FAILED))
        (e,) = self.wait_events({"source_host": host}, 1)
        self.assertFailedLogin(e, host)

    def test_forwarded_file_lines(self):
        # rsyslog imfile (RFC 3164 and 5424 forwarding) and a forwarder without a host of
        # its own: the inner line's host, program and time; the forwarder in data.
        inner = [tag("fwd") for _ in range(3)]
        self.tcp_lines(
            "<133>Mar 15 12:40:00 relay1 authlog: Mar 15 12:34:56 %s sshd[24200]: %s"
            % (inner[0], FAILED),
            "<133>1 2024-03-15T12:40:00Z relay1 authlog - - -  Mar 15 12:34:56 %s "
            "sshd[24200]: %s" % (inner[1], FAILED),
            "<133>Mar 15 12:40:00 authlog: Mar 15 12:34:56 %s sshd[24200]: %s"
            % (inner[2], FAILED))
        for i, host in enumerate(inner):
            (e,) = self.wait_events({"source_host": host}, 1)
            self.assertFailedLogin(e, host)
            self.assertTrue(e["timestamp"].endswith("-03-15T12:34:56.000000Z"), e)
            fwd = self.full(e)["data"]["forwarder"]
            self.assertEqual(fwd["app"], "authlog")
            self.assertEqual(fwd["host"], "127.0.0.1" if i == 2 else "relay1")

    def test_python_sysloghandler_over_tcp(self):
        # The standard library's handler, as configured out of the box for TCP: each record
        # ends with a NUL and no newline.
        app = tag("py")
        log = logging.getLogger(app)
        log.propagate = False
        h = logging.handlers.SysLogHandler(address=self.ports["tcp"],
                                           socktype=socket.SOCK_STREAM)
        h.setFormatter(logging.Formatter(app + ": %(message)s"))
        log.addHandler(h)
        try:
            for i in range(200):
                log.warning("record %d", i)
        finally:
            log.removeHandler(h)
            h.close()
        ev = self.wait_events({"app": app}, 200)
        self.assertEqual({e["message"] for e in ev}, {"record %d" % i for i in range(200)})
        self.assertEqual({e["level"] for e in ev}, {"WARNING"})
        # A frame without any terminator on a connection left open is taken after a pause.
        app2 = tag("partial")
        with socket.create_connection(self.ports["tcp"], timeout=30) as s:
            s.sendall(("<14>%s: no terminator" % app2).encode())
            (e,) = self.wait_events({"app": app2}, 1)
            self.assertEqual(e["message"], "no terminator")

    def test_zoneless_times(self):
        now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        tokyo = now + datetime.timedelta(hours=9)
        # The per-host zone: Tokyo's wall clock is now.
        self.udp("<38>%s tokyo-gw %s: tokyo wall clock" % (bsd_time(tokyo), tag("tz")))
        (e,) = self.wait_events({"source_host": "tokyo-gw"}, 1)
        got = datetime.datetime.fromisoformat(e["timestamp"].replace("Z", "+00:00"))
        self.assertLess(abs((got - now).total_seconds()), 120, e)
        self.assertEqual(self.full(e)["data"]["syslog"]["timezone"], "Asia/Tokyo")
        # Any other sender is UTC: the same wall clock lies 9 hours ahead, so the event is
        # stored at its receive time and its own time kept in data.
        host = tag("ahead")
        self.udp("<38>%s %s app: nine hours ahead" % (bsd_time(tokyo), host))
        (e,) = self.wait_events({"source_host": host}, 1)
        got = datetime.datetime.fromisoformat(e["timestamp"].replace("Z", "+00:00"))
        self.assertLess(abs((got - now).total_seconds()), 120, e)
        self.assertEqual(self.full(e)["data"]["future_timestamp"], iso(tokyo))
        # A date after tomorrow is last year's ("Dec 10" read on December 6th).
        later = now + datetime.timedelta(days=3)
        host = tag("year")
        self.udp("<38>%s %s app: three days ahead" % (bsd_time(later), host))
        (e,) = self.wait_events({"source_host": host}, 1)
        tomorrow = (now + datetime.timedelta(days=1)).date()
        year = now.year + 1
        while True:
            try:
                if later.replace(year=year).date() <= tomorrow:
                    break
            except ValueError:  # Feb 29
                pass
            year -= 1
        self.assertEqual(e["timestamp"], iso(later.replace(year=year)))
        self.assertLess(year, later.year + 1)

    # ---- levels ----

    def test_level_any_case(self):
        app = tag("lvl")
        self.hub.ingest_ok([{"app": app, "level": "info", "message": "a"},
                            {"app": app, "level": "INFO", "message": "b"},
                            {"app": app, "level": "Warning", "message": "c"}])
        self.udp("<14>Mar 15 12:34:56 h %s: d" % app)
        for q in ("INFO", "info", "Info"):
            ev = self.wait_events({"app": app, "level": q}, 3)
            self.assertEqual({e["message"] for e in ev}, {"a", "b", "d"})
            self.assertEqual({e["level"] for e in ev}, {"INFO"})
        (e,) = self.hub.all_events({"app": app, "level": "warning"})
        self.assertEqual(e["level"], "WARNING")

    # ---- forwarders' HTTP formats ----

    def check_forwarded(self, host, n=1):
        ev = self.wait_events({"source_host": host}, n)
        for e in ev:
            self.assertFailedLogin(e, host)
            self.assertEqual(e["os_type"], "LINUX", e)
        return ev

    def test_fluent_bit_http(self):
        # out_http with format json (an array), json_date_key "date" in epoch seconds.
        host = tag("fb")
        line = "Mar 15 12:34:56 %s sshd[24200]: %s" % (host, FAILED)
        self.hub.ingest_ok([{"date": 1710506100.25, "log": line}])
        (e,) = self.check_forwarded(host)
        self.assertEqual(self.full(e)["data"]["forwarder"]["timestamp"],
                         "2024-03-15T12:35:00.250000Z")
        # format json_lines sent as application/json: read as NDJSON.
        host = tag("fbl")
        line = "Mar 15 12:34:56 %s sshd[24200]: %s" % (host, FAILED)
        body = b"".join(json.dumps({"date": "2024-03-15T12:35:00.000Z", "log": line}).encode()
                        + b"\n" for _ in range(2))
        status, _, data = self.hub.ingest(body)
        self.assertEqual(status, 200, data)
        self.assertEqual(data["accepted"], 2, data)
        self.check_forwarded(host, 2)

    def test_vector_http_ndjson(self):
        host, prog_host = tag("vec"), tag("vecsys")
        line = "Mar 15 12:34:56 %s sshd[24200]: %s" % (host, FAILED)
        self.hub.ingest_ok([
            {"file": "/var/log/auth.log", "host": "collector", "message": line,
             "source_type": "file", "timestamp": "2024-03-15T12:35:00.1Z"},
            {"appname": "sshd", "facility": "auth", "hostname": prog_host, "message": FAILED,
             "procid": 24200, "severity": "info", "source_type": "syslog",
             "timestamp": "2024-03-15T12:34:56Z"}], ndjson=True)
        (e,) = self.check_forwarded(host)
        full = self.full(e)
        self.assertEqual(full["data"]["forwarder"]["host"], "collector")
        self.assertEqual(full["source_file"], "/var/log/auth.log")
        (e,) = self.check_forwarded(prog_host)
        self.assertEqual(e["level"], "INFO")

    def test_logstash_http(self):
        host = tag("ls")
        line = "Mar 15 12:34:56 %s sshd[24200]: %s" % (host, FAILED)
        # format json_batch, ECS compatibility on: host is an object.
        self.hub.ingest_ok([{"@timestamp": "2024-03-15T12:35:00.000Z", "@version": "1",
                             "host": {"name": "logstash1"}, "message": line,
                             "log": {"file": {"path": "/var/log/auth.log"}},
                             "event": {"original": line}}])
        (e,) = self.check_forwarded(host)
        self.assertEqual(self.full(e)["data"]["forwarder"]["host"], "logstash1")

    def test_syslog_ng_format_json(self):
        host = tag("sng")
        self.hub.ingest_ok({"PROGRAM": "sshd", "PRIORITY": "info", "PID": "24200",
                            "MESSAGE": FAILED, "HOST": host, "FACILITY": "auth",
                            "DATE": "Mar 15 12:34:56", "ISODATE": "2024-03-15T12:34:56+00:00"})
        (e,) = self.check_forwarded(host)
        self.assertEqual(e["timestamp"], "2024-03-15T12:34:56.000000Z")
        self.assertEqual(e["level"], "INFO")

    def test_raw_envelope(self):
        host = tag("raw")
        line = "<38>Mar 15 12:34:56 %s sshd[24200]: %s" % (host, FAILED)
        self.hub.ingest_ok({"timestamp": "2024-03-15T12:35:00Z", "host": "agent-7",
                            "source": "auth.log", "raw": line})
        (e,) = self.check_forwarded(host)
        full = self.full(e)
        self.assertEqual(full["raw_message"], line)
        self.assertEqual(full["data"]["forwarder"]["host"], "agent-7")
        self.assertEqual(e["source"], "auth.log")
        # A record that names its type is left as the sender made it.
        app = tag("typed")
        self.hub.ingest_ok({"event_type": "MY_TYPE", "app": app, "raw": line})
        (e,) = self.wait_events({"app": app}, 1)
        self.assertEqual(e["event_type"], "MY_TYPE")

    # ---- CSV ----

    def test_csv_ingest(self):
        app = tag("csv")
        host = tag("csvh")
        body = ("\ufefftimestamp,host,src_ip,app,event_type,level,message\r\n"
                "2024-03-15T12:34:56Z,%s,203.0.113.7,%s,LOGIN_FAIL,info,\"bad, password\"\r\n"
                "2024-03-15T12:35:00Z,%s,,%s,NOTE,WARNING,\"two\r\nlines, \"\"quoted\"\"\"\r\n"
                "2024-03-15T12:36:00Z,%s,not-an-ip,%s,X,info,bad address\r\n"
                "2024-03-15T12:37:00Z,%s,,%s,X,info,too,many,fields\r\n"
                "2024-03-15T12:38:00Z,%s,,%s,X,info,a\"b\r\n"
                % ((host, app) * 5)).encode()
        status, _, data = self.hub.ingest(body, headers={"Content-Type": "text/csv"})
        self.assertEqual(status, 200, data)
        self.assertEqual(data["accepted"], 2, data)
        self.assertEqual([(r["index"], r["error"]) for r in data["rejected"]],
                         [(2, "src_ip: not an IP address"),
                          (3, "row 4: row has more than the header's 7 fields"),
                          (4, "row 5: malformed quoting")])
        ev = {e["event_type"]: e for e in self.wait_events({"app": app}, 2)}
        self.assertEqual(ev["LOGIN_FAIL"]["source_ip"], "203.0.113.7")
        self.assertEqual(ev["LOGIN_FAIL"]["message"], "bad, password")
        self.assertEqual(ev["LOGIN_FAIL"]["level"], "INFO")
        self.assertEqual(ev["LOGIN_FAIL"]["timestamp"], "2024-03-15T12:34:56.000000Z")
        self.assertEqual(ev["NOTE"]["message"], 'two\r\nlines, "quoted"')
        self.assertEqual(ev["NOTE"]["source_host"], host)
        # An unusable header refuses the body with the reason; no header at all too.
        status, _, data = self.hub.ingest(b"a,a\n1,2\n", headers={"Content-Type": "text/csv"})
        self.assertEqual(status, 400, data)
        self.assertEqual(data["error"], "malformed CSV")
        self.assertEqual(data["detail"], "header: column 'a' twice")
        status, _, data = self.hub.ingest(b"message\n", headers={"Content-Type": "text/csv"})
        self.assertEqual(status, 422, data)

    # ---- Windows events forwarded by Snare ----

    def test_snare_over_syslog(self):
        host = tag("dc")
        self.udp("<132>Mar 15 12:34:56 %s MSWinEventLog\t2\tSecurity\t1234\tFri Mar 15 "
                 "12:34:56 2024\t4625\tMicrosoft-Windows-Security-Auditing\tN/A\tN/A\tFailure "
                 "Audit\tDC01\tLogon\t\tAn account failed to log on.    Account For Which Logon "
                 "Failed:   Security ID:  S-1-0-0   Account Name:  administrator   Account "
                 "Domain:  CORP    Network Information:   Workstation Name: KALI   Source "
                 "Network Address: 203.0.113.7   Source Port:  51234\t88" % host)
        (e,) = self.wait_events({"source_host": host}, 1)
        self.assertEqual((e["event_type"], e["os_type"], e["user"], e["source_ip"], e["level"]),
                         ("LOGIN_FAIL", "WINDOWS", "administrator", "203.0.113.7",
                          "AUDIT_FAILURE"))
        self.assertEqual(self.full(e)["data"]["snare"]["event_id"], 4625)
