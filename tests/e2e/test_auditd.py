"""test_auditd.py — Linux audit events put together from their records, wherever they arrive:
audispd's lines to the hub's syslog receivers (UDP and TCP, interleaved, an event without
PROCTITLE or EOE that the wait ends), the agent's auditd source (and its position across a
restart), and a SigmaHQ-style process_creation rule alerting on the assembled event. One hub
for the module."""

import json
import os
import shutil
import socket
import tempfile
import unittest
import uuid

from helpers import require_agent
from hub import HubCase, cli, wait_for
from test_agent import Agent
from test_syslog import syslog_ports

HERE = os.path.dirname(os.path.abspath(__file__))
EVENTS = os.path.join(HERE, "..", "samples", "auditd", "events.log")
DEADLINE = 30.0

RULE = """title: Shell of a build started from its source tree
id: 5ec0c10d-0000-4000-8000-0000000000c1
logsource:
  product: linux
  category: process_creation
detection:
  sel:
    Image|endswith: '/sh4'
    CommandLine|contains: '-soname libz.so.1'
    CurrentDirectory|startswith: '/usr/src/RPM/BUILD/'
  condition: sel
level: high
"""


def sample_lines():
    with open(EVENTS) as f:
        return [l.rstrip("\n") for l in f]


class AuditAssembly(HubCase):
    @classmethod
    def setUpClass(cls):
        cls.hub = cls.class_hub(args=["--syslog-udp", "127.0.0.1:0",
                                      "--syslog-tcp", "127.0.0.1:0"])
        cls.ports = syslog_ports(cls.hub)

    def whole(self, e):
        """The stored event with its data (the list view leaves data out)."""
        status, _, body = self.hub.get_event(e["event_id"])
        self.assertEqual(status, 200, body)
        return body

    def events_of(self, host, n, **params):
        def enough():
            ev = self.hub.all_events(dict(params, source_host=host))
            self.assertLessEqual(len(ev), n, ev)
            return ev if len(ev) == n else None
        return [self.whole(e) for e in wait_for(enough, DEADLINE, "%d events of %s" % (n, host))]

    def test_logtest(self):
        r = cli("logtest", EVENTS)
        self.assertEqual(r.returncode, 0, r.stderr)
        ev = [json.loads(l) for l in r.stdout.splitlines() if l]
        self.assertEqual([e["event_type"] for e in ev],
                         ["PROCESS_START", "FILE_ACCESS", "AUDIT_USER_ACCT", "FILE_ACCESS"])
        self.assertEqual(ev[0]["data"]["Image"], "/bin/sh4")
        self.assertEqual(ev[1]["data"]["TargetFilename"], "/etc/ssh/sshd_config")
        self.assertEqual(ev[3]["data"]["TargetFilename"], "/var/spool/postfix/maildrop")

    def test_syslog_udp_and_tcp(self):
        host = "audit-%s" % uuid.uuid4().hex[:8]
        lines = sample_lines()
        wrap = ["<86>Dec  2 10:10:18 %s audispd: %s" % (host, l) for l in lines]
        # the two first events interleaved over UDP, in one sender's order
        first, second = wrap[0:8], wrap[8:12]
        order = [first[0], second[0], first[1], second[1], first[2], second[2]] + \
            first[3:] + second[3:]
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for d in order:
                s.sendto(d.encode(), self.ports["udp"])
        # the rest over TCP (newline-framed): a record alone and an event without PROCTITLE
        # or EOE, which the wait ends
        with socket.create_connection(self.ports["tcp"], timeout=30) as s:
            s.sendall("".join(w + "\n" for w in wrap[12:]).encode())
        ev = self.events_of(host, 4)
        by_type = {}
        for e in ev:
            by_type.setdefault(e["event_type"], []).append(e)
        self.assertEqual(sorted(by_type), ["AUDIT_USER_ACCT", "FILE_ACCESS", "PROCESS_START"])
        p = by_type["PROCESS_START"][0]
        self.assertEqual(p["app"], "auditd")
        self.assertEqual(p["data"]["records"], "SYSCALL,EXECVE,CWD,PATH,PATH,PATH,PROCTITLE")
        self.assertEqual(p["data"]["Image"], "/bin/sh4")
        self.assertTrue(p["data"]["CommandLine"].startswith("/bin/sh -efu /usr/bin/ld "))
        files = sorted(e["data"]["TargetFilename"] for e in by_type["FILE_ACCESS"])
        self.assertEqual(files, ["/etc/ssh/sshd_config", "/var/spool/postfix/maildrop"])

    def test_agent_source_across_a_restart_and_rule(self):
        require_agent()
        tok = self.hub.login_token()
        status, _, body = self.hub.request(
            "POST", "/rules", RULE.encode(),
            {"Authorization": "Bearer " + tok, "Content-Type": "application/yaml"})
        self.assertEqual(status, 201, body)
        tmp = tempfile.mkdtemp(prefix="minisiem-e2e-auditd-")
        self.addCleanup(shutil.rmtree, tmp, True)
        log = os.path.join(tmp, "audit.log")
        host = "audit-agent-%s" % uuid.uuid4().hex[:8]
        with open(log, "w") as f:
            f.write("".join(l + "\n" for l in sample_lines()))
        a = Agent(tmp, self.hub.port, ["auditd:" + log], extra=["--host", host])
        a.start()
        self.addCleanup(a.kill)
        # the process start and the file read end with their PROCTITLE, the denial by the
        # wait; the user-space record is sent alone
        ev = self.events_of(host, 4)
        by_type = {}
        for e in ev:
            by_type.setdefault(e["event_type"], []).append(e)
        self.assertEqual(sorted(by_type), ["AUDIT_USER_ACCT", "FILE_ACCESS", "PROCESS_START"])
        p = by_type["PROCESS_START"][0]
        self.assertEqual(p["source_offset"], 0)
        self.assertEqual(p["data"]["records"], "SYSCALL,EXECVE,CWD,PATH,PATH,PATH,PROCTITLE")
        self.assertEqual(p["data"]["CurrentDirectory"], "/usr/src/RPM/BUILD/zlib-1.2.11-alt1")
        a.stop()
        # restarted, it reads on from the saved position: nothing is sent twice
        a.start()
        with open(log, "a") as f:
            f.write(sample_lines()[12] + "\n")  # the user-space record once more
        self.events_of(host, 5)
        a.stop()

        rid = RULE.split("id: ")[1][:36]

        def alerted():
            status, _, body = self.hub.get("/alerts", {"limit": 100})
            self.assertEqual(status, 200, body)
            got = [x for x in body.get("alerts", []) if x.get("rule_id") == rid and
                   p["event_id"] in x.get("event_ids", [])]
            return got or None
        wait_for(alerted, DEADLINE, "the process_creation rule's alert")


if __name__ == "__main__":
    unittest.main()
