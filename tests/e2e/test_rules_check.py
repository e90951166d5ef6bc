"""test_rules_check.py — `minisiem rules check DIR...`, black-box: a folder of rule files
compiled as the hub would load them; accepted, refused (grouped by reason) and never-firing
counts as a table and as JSON; exit codes; SigmaHQ's rules of the shared data folder."""

import json
import os
import shutil
import tempfile
import unittest

import hub
from hub import cli

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.environ.get("SIEM_TEST_DATA") or os.path.normpath(
    os.path.join(HERE, "..", "..", "..", "shared", "data"))


def rule(title, logsource, detection="    sel:\n        EventID: 1\n    condition: sel\n"):
    return "title: %s\nlogsource:\n%sdetection:\n%slevel: low\n" % (title, logsource, detection)


WIN = "    product: windows\n    category: process_creation\n"
NOMAP = "    product: nosuchproduct\n    service: nosuchservice\n"
MACPROC = "    product: macos\n    category: process_creation\n"


class RulesCheck(unittest.TestCase):

    def setUp(self):
        self.d = tempfile.mkdtemp(prefix="minisiem-e2e-check-")
        self.addCleanup(shutil.rmtree, self.d)

    def write(self, rel, text):
        p = os.path.join(self.d, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write(text)
        return p

    def fill(self):
        self.write("windows/a.yml", rule("A", WIN))
        self.write("windows/sub/b.yaml", rule("B", WIN))
        self.write("windows/c.yml", rule("C", NOMAP))
        self.write("other/d.yml", rule("D", NOMAP))
        self.write("other/e.yml", rule("E", WIN, "    sel:\n        X|bogus: 1\n"
                                             "    condition: sel\n"))
        self.write("macos/f.yml", rule("F", MACPROC))
        self.write("macos/notes.txt", "not a rule")
        self.write("macos/.hidden.yml", rule("H", NOMAP))

    def test_table(self):
        self.fill()
        r = cli("rules", "check", self.d)
        self.assertEqual(r.returncode, 1, r.stderr)
        out = r.stdout
        self.assertIn("6 files: 3 accepted (50.0 %, 3 rules), 3 refused, 1 accepted but "
                      "never fire", out)
        nomap = ("unsupported: logsource product=nosuchproduct service=nosuchservice "
                 "(no mapping in rules/mapping.yml)")
        # reasons without the rule's name and line, so that equal ones group; most first
        self.assertIn("      2  " + nomap, out)
        self.assertIn("      1  unsupported: modifier 'bogus'", out)
        self.assertLess(out.index(nomap), out.index("modifier 'bogus'"))
        self.assertIn("minisiem has no macOS source", out)
        self.assertRegex(out, r"%s/windows +3 +2 +66\.7 +1 +0" % self.d)
        self.assertRegex(out, r"\nwindows +3 +2 +66\.7 +1 +0")
        self.assertNotIn("c.yml", out)
        r = cli("rules", "check", "--list", self.d)
        self.assertIn(os.path.join(self.d, "windows", "c.yml"), r.stdout)
        self.assertIn(os.path.join(self.d, "macos", "f.yml"), r.stdout)

    def test_json(self):
        self.fill()
        r = cli("rules", "check", "--json", self.d)
        self.assertEqual(r.returncode, 1, r.stderr)
        o = json.loads(r.stdout)
        self.assertEqual((o["files"], o["accepted"], o["refused"], o["never_fires"]),
                         (6, 3, 3, 1))
        reasons = {x["reason"]: x for x in o["refusals"]}
        self.assertEqual(reasons["unsupported: modifier 'bogus'"]["files"],
                         [os.path.join(self.d, "other", "e.yml")])
        self.assertEqual(o["refusals"][0]["count"], 2)
        self.assertEqual(len(o["never_fires_reasons"]), 1)
        self.assertEqual(o["never_fires_reasons"][0]["files"],
                         [os.path.join(self.d, "macos", "f.yml")])
        prods = {x["product"]: x for x in o["products"]}
        self.assertEqual(prods["macos"]["never_fires"], 1)
        self.assertEqual(prods["nosuchproduct"]["refused"], 2)

    def test_all_accepted_exits_0(self):
        self.write("a.yml", rule("A", WIN))
        f = self.write("b.yml", rule("B", WIN))
        r = cli("rules", "check", self.d)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("2 files: 2 accepted (100.0 %", r.stdout)
        r = cli("rules", "check", f)  # a file works too
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("1 files: 1 accepted", r.stdout)

    def test_usage(self):
        for args in ([], ["--bogus", self.d], ["--mapping"]):
            r = cli("rules", "check", *args)
            self.assertEqual(r.returncode, 2, "%r: %s" % (args, r.stderr))
        r = cli("rules", "check", os.path.join(self.d, "missing"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot read", r.stderr)
        r = cli("rules", "check", "--help")
        self.assertEqual(r.returncode, 0)
        for w in ("--json", "--list", "--mapping", "exit status"):
            self.assertIn(w, r.stdout)

    def test_placeholders(self):
        self.write("p.yml", rule("P", WIN, "    sel:\n        User|expand: '%Administrators%'\n"
                                           "    condition: sel\n"))
        r = cli("rules", "check", self.d)
        self.assertEqual(r.returncode, 1)
        self.assertIn("unsupported: placeholder '%Administrators%' without values "
                      "(--sigma-placeholders FILE)", r.stdout)
        ph = os.path.join(self.d, "..", os.path.basename(self.d) + ".ph")
        self.addCleanup(os.unlink, ph)
        with open(ph, "w") as f:
            f.write("Administrators: [adm_*]\n")
        r = cli("rules", "check", "--sigma-placeholders", ph, self.d)
        self.assertEqual(r.returncode, 0, r.stdout)
        ev = json.dumps({"os_type": "WINDOWS", "event_type": "x",
                         "data": {"Channel": "Microsoft-Windows-Sysmon/Operational",
                                  "EventID": 1, "User": "ADM_joe"}}) + "\n"
        r = cli("rules", "test", "--sigma-placeholders", ph, os.path.join(self.d, "p.yml"),
                stdin=ev)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('"type":"match"', r.stdout)
        with open(ph, "w") as f:
            f.write("Administrators: {a: b}\n")
        r = cli("rules", "check", "--sigma-placeholders", ph, self.d)
        self.assertEqual(r.returncode, 1)
        self.assertIn("must be a value or a list of values", r.stderr)

    def test_rules_test_warns(self):
        f = self.write("f.yml", rule("Mac rule", MACPROC))
        r = cli("rules", "test", f, stdin="")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("warning: rule 'Mac rule' can never fire: minisiem has no macOS source",
                      r.stderr)
        f = self.write("g.yml", rule("Process rule", WIN))
        r = cli("rules", "test", f, stdin="")
        self.assertNotIn("never fire", r.stderr)

    def test_sigmahq_subset_accepted(self):
        d = os.path.join(DATA, "sigma")
        if not os.path.isdir(d):
            self.skipTest("sample data %s is not on this machine" % d)
        r = cli("rules", "check", "--json", os.path.join(d, "rules"),
                os.path.join(d, "rules-emerging-threats"))
        self.assertEqual(r.returncode, 0, r.stdout[-2000:])
        o = json.loads(r.stdout)
        self.assertEqual((o["files"], o["accepted"], o["refused"]), (75, 75, 0))


if __name__ == "__main__":
    unittest.main()
