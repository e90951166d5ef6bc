"""test_sigma_coverage.py — SigmaHQ coverage end to end: a record of each cloud and SaaS
service (tests/samples/cloud/, written from the services' documentation) posted to /ingest as
docs/detection.md says to send it raises the alert of the rule with SigmaHQ's detection for
that service, and nothing else does."""

import datetime
import glob
import json
import os
import shutil
import tempfile

from hub import HubCase, cli, event_uuid, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLES = os.path.normpath(os.path.join(HERE, "..", "samples", "cloud"))
AUDIT = os.path.normpath(os.path.join(HERE, "..", "samples", "auditd"))


def rule_id(path):
    with open(path) as f:
        for line in f:
            if line.startswith("id:"):
                return line.split(":", 1)[1].strip()
    raise AssertionError("no id in %s" % path)


class Coverage(HubCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="minisiem-e2e-coverage-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cls.rules = os.path.join(cls.tmp, "rules")
        os.mkdir(cls.rules)
        for p in glob.glob(os.path.join(SAMPLES, "*.yml")):
            shutil.copy(p, cls.rules)
        cls.hub = cls.class_hub(args=["--rules-dir", cls.rules])

    def test_cloud_samples_fire_their_rules(self):
        samples = sorted(glob.glob(os.path.join(SAMPLES, "*.json")))
        self.assertEqual(len(samples), 9)
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        events, want = [], {}
        for i, p in enumerate(samples):
            with open(p) as f:
                ev = json.load(f)
            ev["timestamp"] = now  # live events, not imported history
            ev["event_id"] = event_uuid("coverage", i)
            events.append(ev)
            want[rule_id(p[:-5] + ".yml")] = ev["event_id"]
        # the same records under another app: no service's rule takes them
        for i, ev in enumerate(list(events)):
            other = dict(ev, app="custom-app", event_id=event_uuid("coverage-other", i))
            events.append(other)
        self.hub.ingest_ok(events, ndjson=True)

        def alerts():
            status, _, body = self.hub.get("/alerts", {"limit": 100})
            self.assertEqual(status, 200, body)
            got = {a["rule_id"]: a for a in body["alerts"]}
            return got if set(got) >= set(want) else None

        got = wait_for(alerts, 30, "an alert of each service's rule")
        self.assertEqual(set(got), set(want))  # and none for the custom-app copies
        for rid, a in got.items():
            status, _, body = self.hub.get("/alerts/%s" % a["id"])
            self.assertEqual(status, 200, body)
            self.assertIn(want[rid], json.dumps(body), rid)

    def test_rules_say_what_cannot_fire(self):
        tok = self.hub.login_token()
        headers = {"Authorization": "Bearer " + tok, "Content-Type": "application/yaml"}

        def post(rid, logsource, sel):
            text = ("title: r %s\nid: %s\nlogsource:\n%sdetection:\n  sel:\n%s"
                    "  condition: sel\nlevel: low\n" % (rid, rid, logsource, sel))
            status, _, body = self.hub.request("POST", "/rules", text.encode(), headers)
            self.assertEqual(status, 201, body)
            return body["rules"][0]

        # macOS process creations: no source makes them, whatever the hub receives
        r = post("5ec0c10d-0000-4000-8000-0000000000a1",
                 "  product: macos\n  category: process_creation\n",
                 "    Image|endswith: /nc\n")
        self.assertIn("can never fire: minisiem has no macOS source", r["warning"])
        # auditd: decoded, but this hub has stored no audit records
        r = post("5ec0c10d-0000-4000-8000-0000000000a4",
                 "  product: linux\n  service: auditd\n", "    type: EXECVE\n")
        self.assertIn("(it needs os_type linux with app auditd, audit, audispd or "
                      "audisp-syslog)", r["warning"])
        # sshd: a source this hub has not received yet
        rid = "5ec0c10d-0000-4000-8000-0000000000a2"
        r = post(rid, "  product: linux\n  service: sshd\n",
                 "    message|contains: 'Invalid user'\n")
        self.assertIn("cannot fire yet: no event stored on this hub is of its logsource "
                      "(it needs os_type linux with app sshd or sshd(*))", r["warning"])
        status, _, body = self.hub.get("/rules")
        self.assertEqual(status, 200, body)
        listed = {x["id"]: x for x in body["rules"]}
        self.assertIn("cannot fire yet", listed[rid]["warning"])
        # a rule any event can feed: no warning
        r = post("5ec0c10d-0000-4000-8000-0000000000a3", "  product: minisiem\n",
                 "    event_type: X\n")
        self.assertIsNone(r["warning"])
        # once such an event is stored, the warning goes
        self.hub.ingest_ok([{"event_id": event_uuid("coverage-sshd"), "os_type": "LINUX",
                             "app": "sshd", "message": "Accepted publickey for bob"}])

        def cleared():
            status, _, body = self.hub.get("/rules/" + rid)
            self.assertEqual(status, 200, body)
            return body["warning"] is None

        wait_for(cleared, 30, "the sshd rule's warning to go")


class AuditRecords(HubCase):
    """Audit records through `minisiem logtest`, then SigmaHQ's auditd detections through
    `minisiem rules test`: the raw audit.log and syslog's forms."""

    def test_audit_log_through_logtest_and_rules_test(self):
        tmp = tempfile.mkdtemp(prefix="minisiem-e2e-audit-")
        self.addCleanup(shutil.rmtree, tmp, True)
        events = []
        for name in ("audit.log", "syslog.log"):
            r = cli("logtest", os.path.join(AUDIT, name))
            self.assertEqual(r.returncode, 0, r.stderr)
            events += [json.loads(l) for l in r.stdout.splitlines() if l]
        # the five records of one process start are one event; the others stand alone
        self.assertEqual(len(events), 9)
        self.assertEqual([e["event_type"] for e in events[:5]],
                         ["PROCESS_START", "AUDIT_USER_LOGIN", "AUDIT_ADD_USER",
                          "AUDIT_EXECVE", "AUDIT_SYSCALL"])
        self.assertEqual(events[0]["data"]["records"], "SYSCALL,EXECVE,CWD,PATH,PROCTITLE")
        self.assertEqual(sum(e.get("app") == "auditd" for e in events), 8)
        path = os.path.join(tmp, "events.ndjson")
        with open(path, "w") as f:
            f.write("".join(json.dumps(e) + "\n" for e in events))
        # the detection of SigmaHQ's "ASLR Disabled Via Sysctl or Direct Syscall - Linux"
        rule = os.path.join(tmp, "aslr.yml")
        with open(rule, "w") as f:
            f.write("title: ASLR disabled\nid: 5ec0c10d-0000-4000-8000-0000000000b1\n"
                    "logsource:\n  product: linux\n  service: auditd\ndetection:\n"
                    "  sel:\n    type: EXECVE\n    a0: sysctl\n    a1: '-w'\n"
                    "    a2: 'kernel.randomize_va_space=0'\n  condition: sel\nlevel: high\n")
        r = cli("rules", "test", rule, path)
        self.assertEqual(r.returncode, 0, r.stderr)
        hits = [json.loads(l) for l in r.stdout.splitlines() if l]
        self.assertEqual([h["line"] for h in hits], [1, 8])  # audit.log, then audispd's
        self.assertNotIn("warning", r.stderr)
        # a SigmaHQ-style process_creation rule on the event put together
        rule = os.path.join(tmp, "proc.yml")
        with open(rule, "w") as f:
            f.write("title: ASLR disabled by sysctl\nid: 5ec0c10d-0000-4000-8000-0000000000b2\n"
                    "logsource:\n  product: linux\n  category: process_creation\ndetection:\n"
                    "  sel:\n    Image|endswith: '/sysctl'\n"
                    "    CommandLine|contains: 'kernel.randomize_va_space=0'\n"
                    "    CurrentDirectory: /root\n  condition: sel\nlevel: high\n")
        r = cli("rules", "test", rule, path)
        self.assertEqual(r.returncode, 0, r.stderr)
        hits = [json.loads(l) for l in r.stdout.splitlines() if l]
        self.assertEqual([h["line"] for h in hits], [1])
        self.assertNotIn("never fire", r.stderr)
