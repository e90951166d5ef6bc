"""test_logtest.py — `minisiem logtest`, black-box: raw lines in (files and stdin, every
format), one NDJSON object out per input line, decoders checked against the loghub OpenSSH
truth, bad lines as error objects, hostile input, exit codes and --help."""

import csv
import json
import os
import re
import subprocess
import unittest

import hub

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.environ.get("SIEM_TEST_DATA") or os.path.normpath(
    os.path.join(HERE, "..", "..", "..", "shared", "data"))


def run(*args, stdin=b""):
    """minisiem logtest ARGS with bytes on stdin -> (exit code, [parsed lines], stderr)."""
    r = subprocess.run([hub.BIN, "logtest"] + [str(a) for a in args], input=stdin,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=hub.base_env(),
                       cwd=hub.cli_cwd(), timeout=120)
    err = r.stderr.decode("utf-8", "replace")
    hub.check_sanitizers(err, "minisiem logtest " + " ".join(str(a) for a in args))
    out = r.stdout.decode("utf-8")  # must be valid UTF-8
    lines = [json.loads(l) for l in out.split("\n") if l != ""]
    assert out == "" or out.endswith("\n"), "output does not end with a newline"
    return r.returncode, lines, err


class Logtest(unittest.TestCase):

    def data(self, *parts):
        p = os.path.join(DATA, *parts)
        if not os.path.exists(p):
            # the public samples live in the shared data folder beside the repository, not
            # in it; a checkout without that folder cannot run these comparisons
            self.skipTest("sample data %s is not on this machine (SIEM_TEST_DATA names the "
                          "shared data folder)" % p)
        return p

    def test_help_lists_every_option(self):
        for flag in ("--help", "-h"):
            r = subprocess.run([hub.BIN, "logtest", flag], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=30)
            self.assertEqual(r.returncode, 0)
            hub.check_sanitizers(r.stderr.decode("utf-8", "replace"), "logtest " + flag)
        text = r.stdout.decode()
        for opt in ("--format", "--explain", "--help", "auto", "syslog", "auth", "jsonl",
                    "exit status", "FILE"):
            self.assertIn(opt, text)

    def test_usage_errors_exit_2(self):
        for args in (["--format", "xml"], ["--bogus"], ["-x"], ["a", "b"], ["--format"]):
            r = subprocess.run([hub.BIN, "logtest"] + args, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30,
                               env=hub.base_env(), cwd=hub.cli_cwd())
            self.assertEqual(r.returncode, 2, "%r: %s" % (args, r.stderr))
            self.assertEqual(r.stdout, b"", args)
            self.assertIn(b"minisiem logtest", r.stderr)

    def test_missing_file_exits_1(self):
        rc, lines, err = run("/nonexistent/auth.log")
        self.assertEqual(rc, 1)
        self.assertEqual(lines, [])
        self.assertIn("cannot open '/nonexistent/auth.log'", err)

    def test_openssh_failed_password_against_csv(self):
        log = self.data("loghub", "OpenSSH", "OpenSSH_2k.log")
        truth = self.data("loghub", "OpenSSH", "OpenSSH_2k.log_structured.csv")
        rc, events, _ = run("--format", "auth", "--explain", log)
        self.assertEqual(rc, 0)
        with open(truth, newline="") as f:
            rows = list(csv.DictReader(f))
        self.assertEqual(len(events), 2000)
        self.assertEqual(len(rows), 2000)
        failed = re.compile(r"Failed password for (?:invalid user )?(.*?) from (\S+) port")
        n = 0
        for i, (row, ev) in enumerate(zip(rows, events)):
            self.assertNotIn("error", ev, "line %d" % (i + 1))
            self.assertEqual(ev["source_host"], "LabSZ")
            self.assertEqual(ev["app"], "sshd")
            self.assertEqual(ev["os_type"], "LINUX")
            self.assertIn("_explain", ev)
            m = failed.search(row["Content"])
            if m:
                n += 1
                self.assertEqual(ev["event_type"], "LOGIN_FAIL", row["Content"])
                self.assertEqual(ev["severity"], 3)
                self.assertEqual(ev["user"], m.group(1), row["Content"])
                self.assertEqual(ev["source_ip"], m.group(2), row["Content"])
                self.assertEqual(ev["_explain"]["decoder"], "sshd")
            elif row["EventId"] == "E13":  # Invalid user <*> from <*>
                self.assertEqual(ev["event_type"], "LOGIN_FAIL")
            elif row["EventId"] == "E1":  # Accepted password
                self.assertEqual(ev["event_type"], "LOGIN_SUCCESS")
                self.assertEqual(ev["user"], "fztu")
        self.assertEqual(n, 520)  # E9 383 + E10 135 + E14 2

    def test_beats_auth_log(self):
        log = self.data("authlog", "beats", "test.log")
        rc, events, _ = run(log)
        self.assertEqual(rc, 0)
        got = [(e["event_type"], e["user"]) for e in events]
        self.assertEqual(got, [
            ("LOGIN_SUCCESS", "vagrant"), ("LOGIN_SUCCESS", "vagrant"), ("LOGIN_FAIL", "test"),
            ("LOGIN_FAIL", "root"), ("SUDO_ESCALATION", "vagrant"), ("SSH_PROBE", "system"),
            ("SUDO_ESCALATION", "vagrant"), ("LOGIN_FAIL", "tsg"), ("GROUP_CREATE", "system"),
            ("ACCOUNT_CREATE", "apache")])
        self.assertEqual(events[7]["severity"], 4)
        self.assertEqual(events[6]["data"]["command"], "/bin/cat /var/log/secure")
        self.assertEqual(events[6]["data"]["target_user"], "root")

    def test_mixed_stdin_one_output_per_line(self):
        lines = [
            b"<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - 'su root' "
            b"failed for lonvick on /dev/pts/8",
            b'{"timestamp": "2026-11-21T07:00:00Z", "app": "web", "message": "hello"}',
            b"",
            b'{"broken": ',
            b"Nov 21 07:55:49 host sudo: alice : TTY=pts/0 ; PWD=/ ; USER=root ; "
            b"COMMAND=/usr/bin/sudo",
            b"plain text",
        ]
        rc, out, _ = run("--explain", "-", stdin=b"\r\n".join(lines) + b"\r\n")
        self.assertEqual(rc, 1)  # some lines failed
        self.assertEqual(len(out), len(lines))
        self.assertEqual(out[0]["event_type"], "LOGIN_FAIL")
        self.assertEqual(out[0]["user"], "lonvick")
        self.assertEqual(out[0]["level"], "CRIT")
        self.assertEqual(out[0]["data"]["syslog"]["msgid"], "ID47")
        self.assertEqual(out[0]["_explain"]["decoder"], "su")
        self.assertEqual(out[1]["app"], "web")
        self.assertEqual(out[1]["message"], "hello")
        self.assertEqual(out[2], {"error": "empty line", "line": 3})
        self.assertEqual(out[3]["line"], 4)
        self.assertIsInstance(out[3]["error"], str)
        self.assertEqual(out[4]["event_type"], "SUDO_ESCALATION")
        self.assertEqual(out[4]["data"]["command"], "/usr/bin/sudo")
        self.assertEqual(out[4]["_explain"]["pattern"], "command")
        self.assertIn("target_user=root", out[4]["_explain"]["fields"])
        self.assertEqual(out[5]["event_type"], "SYSLOG")
        self.assertIsNone(out[5]["_explain"]["decoder"])
        for o in out:
            if "error" not in o:
                self.assertRegex(o["event_id"], r"^[0-9a-f-]{36}$")
                self.assertEqual(o["source"], "logtest")

    def test_formats(self):
        line = b"Nov 21 07:55:49 host sshd[1]: Invalid user bob from 192.0.2.7\n"
        for fmt in ("auto", "syslog", "auth"):
            rc, out, _ = run("--format", fmt, stdin=line)
            self.assertEqual(rc, 0, fmt)
            self.assertEqual((out[0]["event_type"], out[0]["user"], out[0]["source_ip"]),
                             ("LOGIN_FAIL", "bob", "192.0.2.7"), fmt)
            self.assertEqual(out[0]["timestamp"][5:], "11-21T07:55:49.000000Z")
        rc, out, _ = run("--format", "jsonl", stdin=line)
        self.assertEqual(rc, 1)
        self.assertEqual(out[0]["line"], 1)
        rc, out, _ = run("--format", "auth", stdin=b"no timestamp here\n")
        self.assertEqual(rc, 1)
        self.assertIn("not an auth log line", out[0]["error"])
        rc, out, _ = run("--format=syslog", stdin=b"no timestamp here")
        self.assertEqual(rc, 0)
        self.assertEqual(out[0]["message"], "no timestamp here")
        rc, out, _ = run(stdin=b"")
        self.assertEqual((rc, out), (0, []))

    def test_syslog_timezone(self):
        line = (b"<38>Nov 21 2024 16:55:49 tokyo-gw sshd[1]: x\n"
                b"<38>Nov 21 2024 16:55:49 web1 sshd[1]: y\n")
        rc, out, _ = run("--syslog-timezone", "UTC,tokyo-gw=Asia/Tokyo", stdin=line)
        self.assertEqual(rc, 0)
        self.assertEqual(out[0]["timestamp"], "2024-11-21T07:55:49.000000Z")
        self.assertEqual(out[1]["timestamp"], "2024-11-21T16:55:49.000000Z")
        self.assertEqual(out[0]["data"]["syslog"]["timezone"], "Asia/Tokyo")
        self.assertNotIn("timezone", out[1]["data"]["syslog"])
        rc, out, err = run("--syslog-timezone", "Mars/Olympus", stdin=line)
        self.assertEqual((rc, out), (2, []))
        self.assertIn("unknown time zone 'Mars/Olympus'", err)

    def test_csv(self):
        # The header prints nothing; a record over two lines prints once; a bad row is an
        # error naming its first line; an open quote at the end too.
        body = (b"timestamp,host,src_ip,event_type,message\r\n"
                b'2024-03-15T12:00:00Z,web1,203.0.113.7,LOGIN_FAIL,"a, b"\r\n'
                b'2024-03-15T12:00:01Z,web2,,X,"two\nlines, ""quoted"""\n'
                b"bad,row,with,too,many,fields\n"
                b'2024-03-15T12:00:02Z,web3,,X,"never closed\n')
        rc, out, _ = run("--format", "csv", stdin=body)
        self.assertEqual(rc, 1)
        self.assertEqual(len(out), 4, out)
        self.assertEqual((out[0]["event_type"], out[0]["source_ip"], out[0]["message"]),
                         ("LOGIN_FAIL", "203.0.113.7", "a, b"))
        self.assertEqual(out[1]["message"], 'two\nlines, "quoted"')
        self.assertEqual(out[2], {"error": "row has more than the header's 5 fields",
                                  "line": 5})
        self.assertEqual(out[3], {"error": "unterminated quoted field", "line": 6})
        rc, out, _ = run("--format", "csv", stdin=b"a,,b\n1,2,3\n")
        self.assertEqual(rc, 1)
        self.assertEqual(out[0]["line"], 1)
        self.assertIn("column 2 has no name", out[0]["error"])

    def test_hostile_lines(self):
        big = b"<13>Oct 11 22:14:15 h sshd[1]: " + b"A" * (1 << 20) + b" tail"
        bad = b"<13>Oct 11 22:14:15 h\xff sshd[1]: Failed password for r\x00o\xc3t from " \
              b"1.2.3.4 port 2 ssh2 \xed\xa0\x80"
        nul = b"\x00\x00\x00"
        bom = b"\xef\xbb\xbf<14>1 - - - - - [a@1 b=\"c\\\"]\"] \xef\xbb\xbfmsg"
        rc, out, _ = run(stdin=b"\n".join([big, bad, nul, bom, b"x"]))
        self.assertEqual(len(out), 5)
        self.assertEqual(rc, 1)  # the NUL-only line is empty
        self.assertIn("raw_message", out[0]["truncated"])
        self.assertIn("message", out[0]["truncated"])
        self.assertLessEqual(len(out[0]["raw_message"].encode()), 64 * 1024)
        self.assertNotIn("error", out[1])
        self.assertIn("\ufffd", out[1]["raw_message"])
        self.assertGreater(out[1]["data"]["invalid_utf8"], 0)
        self.assertNotIn("\x00", json.dumps(out[1], ensure_ascii=False).replace("\\u0000", ""))
        self.assertEqual(out[2], {"error": "empty line", "line": 3})
        self.assertEqual(out[3]["message"], "msg")
        self.assertEqual(out[3]["data"]["syslog"]["sd"], {"a@1": {"b": "c\"]"}})
        self.assertEqual(out[4]["message"], "x")

    def test_line_over_one_mib_is_cut(self):
        huge = b"Nov 21 07:55:49 host app: " + b"x" * (2 << 20)
        rc, out, _ = run(stdin=huge + b"\nNov 21 07:55:50 host app: next\n")
        self.assertEqual(rc, 0)
        self.assertEqual(len(out), 2)
        self.assertIn("raw_message", out[0]["truncated"])
        self.assertEqual(out[1]["message"], "next")
        rc, out, _ = run("--format", "jsonl",
                         stdin=b'{"message": "' + b"y" * (2 << 20) + b'"}\n')
        self.assertEqual(rc, 1)
        self.assertIn("longer than 1048576", out[0]["error"])
        self.assertEqual(out[0]["line"], 1)


if __name__ == "__main__":
    unittest.main()
