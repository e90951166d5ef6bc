"""test_bruteforce_logs.py — the built-in brute-force rules on real sshd logs sent over syslog:
a host whose sshd logs only PAM's lines (loghub Linux_2k) raises the PAM brute-force rule, a
host whose sshd logs its own lines too (loghub OpenSSH_2k) raises the LOGIN_FAIL one; exact
alert and hit counts, each attempt counted once per rule."""

import os
import re
import socket
import unittest

from hub import HubCase, wait_for
from test_logtest import DATA
from test_syslog import syslog_ports

DEADLINE = 60.0
BRUTEFORCE = "22b465fd-75c8-42f1-9395-8d61d9daf41a"      # rules/bruteforce.yml
BRUTEFORCE_PAM = "2b80f47b-90a0-40a2-b14e-c562e828b28a"  # rules/bruteforce_pam.yml

# What the rules raise on each file alone (5 in 5 minutes per group, a hit consumes its
# window), worked out from the decoded lines: alerts (one per group while the cooldown
# lasts) and hits folded into them. Linux_2k's LOGIN_FAIL are login(1)/ftpd failures.
EXPECT = {
    "Linux": {BRUTEFORCE: (1, 4), BRUTEFORCE_PAM: (21, 53)},
    "OpenSSH": {BRUTEFORCE: (11, 115), BRUTEFORCE_PAM: (8, 93)},
}


MONTHS = {m: i + 1 for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split())}
HEADER = re.compile(rb"^(\w{3}) +(\d{1,2}) (\d\d:\d\d:\d\d) (\S+) ([^\s\[:]+)(?:\[(\d+)\])?: ?(.*)$")


def frame(line):
    """A file line as the syslog message a forwarder sends. The RFC 3164 date has no year
    and the hub dates a line later than tomorrow in the past year, so Linux_2k's June-July
    span would be cut in two on some days of the year: its header goes as RFC 5424 with a
    fixed year, the message byte for byte."""
    m = HEADER.match(line)
    if not m:
        return b"<38>" + line + b"\n"
    mon, day, hms, host, app, pid, msg = m.groups()
    return b"<38>1 2025-%02d-%02dT%sZ %s %s %s - - %s\n" % (
        MONTHS[mon.decode()], int(day), hms, host, app, pid or b"-", msg)


class BruteforceLogs(HubCase):
    def data(self, name):
        p = os.path.join(DATA, "loghub", name, name + "_2k.log")
        if not os.path.exists(p):
            self.skipTest("sample data %s is not on this machine (SIEM_TEST_DATA names the "
                          "shared data folder)" % p)
        return p

    def send_and_count(self, name, host):
        """Send the file over syslog TCP to a fresh hub, wait for every line, and return
        {rule: (alerts, hits)} for the two brute-force rules."""
        h = self.own_hub(args=["--syslog-tcp", "127.0.0.1:0", "--syslog-udp", "127.0.0.1:0"])
        port = syslog_ports(h)["tcp"]
        with open(self.data(name), "rb") as f:
            lines = [l.rstrip(b"\r\n") for l in f if l.strip()]
        with socket.create_connection(port, timeout=30) as s:
            s.sendall(b"".join(frame(l) for l in lines))

        def stored():
            status, _, body = h.get("/events", {"source_host": host, "limit": 1,
                                                "count": "true"})
            self.assertEqual(status, 200, body)
            return body["total"] >= len(lines) or None
        wait_for(stored, DEADLINE, "the %d lines of %s" % (len(lines), name))

        want = EXPECT[name]

        def alerts():
            got = {}
            for rule in want:
                status, _, body = h.get("/alerts", {"rule": rule, "limit": 1000})
                self.assertEqual(status, 200, body)
                got[rule] = (len(body["alerts"]), sum(a["count"] for a in body["alerts"]))
            return got if all(got[r][1] >= want[r][1] for r in want) else None
        got = wait_for(alerts, DEADLINE, "the brute-force hits of %s" % name)
        return got, want, h

    def test_pam_only_host(self):
        # Linux_2k: sshd's failures are only in PAM's lines (sshd(pam_unix)[PID]: ...).
        got, want, _ = self.send_and_count("Linux", "combo")
        self.assertEqual(got, want)

    def test_sshd_and_pam_host(self):
        # OpenSSH_2k: sshd's "Failed password" lines and PAM's; each rule counts its own.
        got, want, h = self.send_and_count("OpenSSH", "LabSZ")
        self.assertEqual(got, want)

        # The PAM rule's attackers are among the LOGIN_FAIL rule's: the same attacks.
        def ips(rule):
            _, _, body = h.get("/alerts", {"rule": rule, "limit": 1000})
            return {a["group_key"].split(",")[0] for a in body["alerts"]}
        self.assertLessEqual(ips(BRUTEFORCE_PAM), ips(BRUTEFORCE))


if __name__ == "__main__":
    unittest.main()
