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

from hub import HubCase, event_uuid, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLES = os.path.normpath(os.path.join(HERE, "..", "samples", "cloud"))


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
