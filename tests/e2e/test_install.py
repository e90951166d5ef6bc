"""`make install` and `make run` as an operator uses them: the installed tree (binaries, the
rules where the hub looks for them, docs, configuration, systemd units checked by
`systemd-analyze verify`), the installed hub finding its rules and answering, `make
uninstall`, and `make run` passing ARGS through without running the hub as root."""
import glob
import os
import pwd
import re
import shutil
import signal
import stat
import subprocess
import tempfile
import unittest
import urllib.request

import hub as hubmod
from hub import BIN, Hub, base_env, read_text, tail, wait_for

ROOT = os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
MAKE_TIMEOUT = 900  # the agent may still have to be built for this build directory
UNITS = ("minisiem.service", "minisiem-agent.service")
TEST_RULE = """title: E2E failed login
id: 5d0f3c52-61a4-4c0e-9b0e-2b7c1e0f7a01
level: low
logsource:
    product: minisiem
detection:
    selection:
        event_type: LOGIN_FAIL
    condition: selection
"""


def make_args():
    """The make variables that name BIN's build (build/asan is SANITIZE=1), or None when BIN
    is not a build of this checkout."""
    build = os.path.relpath(os.path.dirname(os.path.realpath(BIN)), ROOT)
    if build.startswith("..") or not shutil.which("make"):
        return None
    return ["SANITIZE=1"] if build == "build/asan" else ["BUILD=" + build]


def make(*args, timeout=MAKE_TIMEOUT):
    # the make of `make check` must not hand its jobserver or its variables to this one
    env = base_env({"MAKEFLAGS": None, "MAKELEVEL": None, "MFLAGS": None})
    r = subprocess.run(["make", "--no-print-directory", "-s", *args, *make_args()], cwd=ROOT,
                       env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=timeout)
    if r.returncode != 0:
        raise AssertionError("make %s failed (%d):\n%s" % (" ".join(args), r.returncode,
                                                           tail(r.stdout, 60)))
    return r.stdout


@unittest.skipIf(make_args() is None, "the binary is not a build of this checkout (or no make)")
class Install(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="minisiem-e2e-install-")
        self.dest = os.path.join(self.tmp, "stage")
        os.chmod(self.tmp, 0o755)  # the hub may run as another user below

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def path(self, *parts):
        return os.path.join(self.dest, *parts)

    def test_install_tree_run_and_uninstall(self):
        make("install", "DESTDIR=" + self.dest)
        prefix = self.path("usr", "local")
        for b in ("minisiem", "minisiem-agent"):
            st = os.stat(os.path.join(prefix, "bin", b))
            self.assertEqual(stat.S_IMODE(st.st_mode), 0o755, b)
        want_rules = sorted(os.path.basename(p)
                            for p in glob.glob(os.path.join(ROOT, "rules", "*.yml"))
                            if not p.endswith("/mapping.yml"))
        rules_dir = os.path.join(prefix, "share", "minisiem", "rules")
        self.assertGreater(len(want_rules), 5)
        self.assertEqual(sorted(os.listdir(rules_dir)), want_rules)
        doc = os.path.join(prefix, "share", "doc", "minisiem")
        for f in ("README.md", "docs/install.md", "docs/operations.md", "minisiem.conf.example",
                  "agent.conf.example"):
            self.assertTrue(os.path.isfile(os.path.join(doc, f)), f)
        self.assertTrue(os.path.isfile(os.path.join(prefix, "lib", "sysusers.d", "minisiem.conf")))
        conf = self.path("etc", "minisiem", "minisiem.conf")
        self.assertEqual(stat.S_IMODE(os.stat(conf).st_mode), 0o640)
        # the units name the installed paths, hardened as promised
        units = {u: read_text(os.path.join(prefix, "lib", "systemd", "system", u)) for u in UNITS}
        for u, text in units.items():
            self.assertNotRegex(text, r"@[A-Z]+@", u)
            for line in ("NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes",
                         "StateDirectory=", "ReadWritePaths=/var/lib/"):
                self.assertIn(line, text, u)
        self.assertIn("ExecStart=/usr/local/bin/minisiem serve --config /etc/minisiem/minisiem.conf"
                      " --db /var/lib/minisiem/minisiem.db", units["minisiem.service"])
        self.assertRegex(units["minisiem.service"], r"(?m)^User=minisiem$")
        self.assertIn("ExecStart=/usr/local/bin/minisiem-agent --config /etc/minisiem/agent.conf",
                      units["minisiem-agent.service"])
        self.assertRegex(units["minisiem-agent.service"], r"(?m)^User=minisiem-agent$")

        # The installed hub, started from elsewhere with the installed configuration, finds
        # the installed rules beside its binary and answers.
        installed = os.path.join(prefix, "bin", "minisiem")
        h = Hub(tmpdir=os.path.join(self.tmp, "run"), args=["--config", conf])
        os.makedirs(h.tmpdir)
        saved, hubmod.BIN = hubmod.BIN, installed
        try:
            h.start()
        finally:
            hubmod.BIN = saved
        try:
            status, _, body = h.get("/rules")
            self.assertEqual(status, 200, body)
            origins = sorted({r["origin"][len("builtin:"):] for r in body["rules"]
                              if r.get("builtin")})
            self.assertEqual(origins, want_rules)
            self.assertIn("built-in rules from '%s/../share/minisiem/rules'"
                          % os.path.join(prefix, "bin"), h.stderr() + read_text(h.stdout_path))
            status, _, body = h.get("/health", token=False)
            self.assertEqual(status, 200, body)
        finally:
            h.close()
        # the README's commands work with the installed binaries
        r = subprocess.run([installed, "keys", "create", "laptop"] + h.store_args(),
                           env=base_env(), capture_output=True, text=True, timeout=60,
                           cwd=h.tmpdir)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"^\S{20,}\n$")
        r = subprocess.run([os.path.join(prefix, "bin", "minisiem-agent"), "--version"],
                           env=base_env(), capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)

        # A second install keeps an edited configuration; uninstall keeps it too.
        with open(conf, "a", encoding="utf-8") as f:
            f.write("# edited\n")
        out = make("install", "DESTDIR=" + self.dest)
        self.assertIn("kept", out)
        self.assertTrue(read_text(conf).endswith("# edited\n"))
        make("uninstall", "DESTDIR=" + self.dest)
        left = sorted(os.path.relpath(os.path.join(d, f), self.dest)
                      for d, _, fs in os.walk(self.dest) for f in fs)
        self.assertEqual(left, ["etc/minisiem/minisiem.conf"])

    def test_units_verify(self):
        """systemd-analyze verify on the units as installed under a PREFIX of their own
        (DESTDIR=/ installs there for real without making service accounts), so that the
        programs they start exist."""
        if not shutil.which("systemd-analyze"):
            self.skipTest("no systemd-analyze (Debian: apt-get install systemd)")
        prefix = os.path.join(self.tmp, "prefix")
        make("install", "DESTDIR=/", "PREFIX=" + prefix, "SYSCONFDIR=" + prefix + "/etc")
        units = [os.path.join(prefix, "lib", "systemd", "system", u) for u in UNITS]
        for u in units:
            self.assertIn("ExecStart=%s/bin/" % prefix, read_text(u))
        r = subprocess.run(["systemd-analyze", "verify", *units], capture_output=True, text=True,
                           timeout=120)
        # it reports unknown or malformed settings on stderr and still exits 0
        self.assertEqual((r.returncode, r.stdout + r.stderr), (0, ""))
        # systemd's own rating of the sandboxing: "OK" is up to 3.9 of 10; both are 1.7
        for u in units:
            r = subprocess.run(["systemd-analyze", "security", "--offline=yes", u],
                               capture_output=True, text=True, timeout=120)
            m = re.search(r"Overall exposure level for \S+: ([\d.]+)", r.stdout)
            self.assertTrue(m, r.stdout + r.stderr)
            self.assertLessEqual(float(m.group(1)), 2.0, r.stdout)
        # the units' users, made by systemd-sysusers from the installed file (in a root of
        # its own here), have no login shell
        if shutil.which("systemd-sysusers"):
            sysroot = os.path.join(self.tmp, "sysroot")
            os.makedirs(os.path.join(sysroot, "etc"))
            r = subprocess.run(["systemd-sysusers", "--root=" + sysroot,
                                os.path.join(prefix, "lib", "sysusers.d", "minisiem.conf")],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            users = {line.split(":")[0]: line.split(":")
                     for line in read_text(os.path.join(sysroot, "etc", "passwd")).splitlines()}
            for u, home in (("minisiem", "/var/lib/minisiem"),
                            ("minisiem-agent", "/var/lib/minisiem-agent")):
                self.assertEqual(users[u][5:], [home, "/usr/sbin/nologin"], u)
                self.assertLess(int(users[u][2]), 1000, u)  # a system user

    def test_hub_stays_within_the_units_system_call_filter(self):
        """The hub unit's SystemCallFilter= refuses system calls outside it (EPERM): run the
        installed hub under strace through start-up, logins, ingest, queries, a rule test
        and a clean stop, and check every system call it made is one the filter allows."""
        if not shutil.which("systemd-analyze") or not shutil.which("strace"):
            self.skipTest("needs systemd-analyze and strace (apt-get install systemd strace)")
        if make_args() == ["SANITIZE=1"]:
            self.skipTest("the sanitizer runtime makes system calls of its own; the unit runs "
                          "the release build")
        make("install", "DESTDIR=" + self.dest)
        prefix = self.path("usr", "local")
        unit = read_text(os.path.join(prefix, "lib", "systemd", "system", "minisiem.service"))
        allowed = unit_syscalls(unit)
        self.assertIn("read", allowed)
        self.assertNotIn("setuid", allowed)
        self.assertNotIn("setrlimit", allowed)
        summary = os.path.join(self.tmp, "traced", "strace.txt")
        wrapper = os.path.join(self.tmp, "traced-minisiem")
        h = TracedHub(tmpdir=os.path.join(self.tmp, "traced"))
        os.makedirs(h.tmpdir)
        # as the unit runs it: not as root (SQLite, for one, gives new files to the store's
        # owner when it runs as root)
        become = ""
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            os.chown(h.tmpdir, nobody.pw_uid, nobody.pw_gid)
            become = "setpriv --reuid=%d --regid=%d --clear-groups " % (nobody.pw_uid,
                                                                        nobody.pw_gid)
        with open(wrapper, "w", encoding="utf-8") as f:
            f.write("#!/bin/sh\nexec %sstrace -f -qq -c -o '%s' '%s' \"$@\"\n"
                    % (become, summary, os.path.join(prefix, "bin", "minisiem")))
        os.chmod(wrapper, 0o755)
        saved, hubmod.BIN = hubmod.BIN, wrapper
        try:
            h.start(timeout=120)
        finally:
            hubmod.BIN = saved
        try:
            h.ingest_ok([{"timestamp": "2026-11-21T07:00:00Z", "source_host": "web1",
                          "os_type": "LINUX", "event_type": "LOGIN_FAIL", "severity": 3,
                          "source_ip": "203.0.113.7", "user": "root",
                          "raw_message": "Failed password for root from 203.0.113.7 port 1 ssh2"}])
            status, _, body = h.get("/events")
            self.assertEqual(status, 200, body)
            self.assertEqual(len(body["events"]), 1, body)
            for path in ("/rules", "/alerts", "/metrics", "/ready"):
                status, _, body = h.get(path)
                self.assertEqual(status, 200, (path, body))
            # the scan runs on the rule-test workers, which lower their priority
            status, _, body = h.request(
                "POST", "/rules/test", body={"rule": TEST_RULE, "from": "2026-11-01T00:00:00Z"},
                headers={"Authorization": "Bearer " + h.login_token()})
            self.assertEqual((status, body.get("matched")), (200, 1), body)
            h.add_user("alice", "analyst", "correct horse battery staple")
            self.assertTrue(h.login("correct horse battery staple", "alice"))
        finally:
            h.stop(timeout=120)
        used = strace_calls(read_text(summary))
        self.assertIn("openat", used)
        self.assertEqual(sorted(used - allowed), [],
                         "system calls the unit's filter would refuse:\n" + read_text(summary))

    def test_agent_stays_within_its_units_system_call_filter(self):
        """The same for the agent: a pass over a JSON-lines folder and an auth log."""
        if not shutil.which("systemd-analyze") or not shutil.which("strace"):
            self.skipTest("needs systemd-analyze and strace (apt-get install systemd strace)")
        if make_args() == ["SANITIZE=1"]:
            self.skipTest("the sanitizer runtime makes system calls of its own; the unit runs "
                          "the release build")
        make("install", "DESTDIR=" + self.dest)
        prefix = self.path("usr", "local")
        allowed = unit_syscalls(read_text(os.path.join(prefix, "lib", "systemd", "system",
                                                       "minisiem-agent.service")))
        work = os.path.join(self.tmp, "agent")
        os.makedirs(os.path.join(work, "logs"))
        with open(os.path.join(work, "logs", "app.jsonl"), "w", encoding="utf-8") as f:
            f.write('{"timestamp": "2026-11-21T07:00:00Z", "level": "ERROR", "message": "boom"}\n')
        with open(os.path.join(work, "auth.log"), "w", encoding="utf-8") as f:
            f.write("Nov 21 07:00:00 web1 sshd[1]: Failed password for root from 203.0.113.7 "
                    "port 1 ssh2\n")
        become = []
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            for d, _, fs in os.walk(work):
                for x in [d] + [os.path.join(d, f) for f in fs]:
                    os.chown(x, nobody.pw_uid, nobody.pw_gid)
            become = ["setpriv", "--reuid=%d" % nobody.pw_uid, "--regid=%d" % nobody.pw_gid,
                      "--clear-groups"]
        summary = os.path.join(work, "strace.txt")
        r = subprocess.run(
            become + ["strace", "-f", "-qq", "-c", "-o", summary,
                      os.path.join(prefix, "bin", "minisiem-agent"), "--dry-run", "--once",
                      "--state-dir", os.path.join(work, "state"),
                      "--source", "jsonl:" + os.path.join(work, "logs"),
                      "--source", "linux-auth:" + os.path.join(work, "auth.log")],
            env=base_env(), capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("boom", r.stdout)
        self.assertIn("203.0.113.7", r.stdout)
        used = strace_calls(read_text(summary))
        self.assertIn("openat", used)
        self.assertEqual(sorted(used - allowed), [],
                         "system calls the unit's filter would refuse:\n" + read_text(summary))


def strace_calls(summary):
    """The system calls named in a `strace -c` summary."""
    calls = set(re.findall(r"^\s*[\d.]+\s+[\d.]+\s+\d+\s+\d+\s+(?:\d+\s+)?(\w+)\s*$",
                           summary, re.M))
    calls.discard("total")
    return calls


def unit_syscalls(unit):
    """The system calls a unit's SystemCallFilter= lines allow (the first line an allow
    list, then each line adding to it, or with ~ taking from it), expanded by systemd."""
    groups = {}

    def expand(name):
        if not name.startswith("@"):
            return {name}
        if name not in groups:
            out = subprocess.run(["systemd-analyze", "syscall-filter", name], check=True,
                                 capture_output=True, text=True, timeout=60).stdout
            groups[name] = set()
            for line in out.splitlines()[1:]:
                line = line.strip()
                if line and not line.startswith("#"):
                    groups[name] |= expand(line)
        return groups[name]

    allowed = None
    for value in re.findall(r"(?m)^SystemCallFilter=(.*)$", unit):
        deny = value.startswith("~")
        names = set().union(*(expand(n) for n in value.lstrip("~").split()))
        if allowed is None:
            assert not deny, "the unit's first SystemCallFilter= is an allow list"
            allowed = names
        elif deny:
            allowed -= names
        else:
            allowed |= names
    return allowed or set()


class TracedHub(Hub):
    """A hub started by strace: signals go to the hub, strace's child."""

    def signal(self, sig):
        with open("/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)) as f:
            os.kill(int(f.read().split()[0]), sig)


@unittest.skipIf(make_args() is None, "the binary is not a build of this checkout (or no make)")
class Run(unittest.TestCase):
    def test_make_run_passes_args_and_does_not_run_as_root(self):
        tmp = tempfile.mkdtemp(prefix="minisiem-e2e-run-")
        os.chmod(tmp, 0o755)
        db = os.path.join(tmp, "var", "minisiem.db")
        log = os.path.join(tmp, "make.log")
        args = ["make", "--no-print-directory", "run", *make_args(), "RUN_DB=" + db,
                "RUN_USER=nobody", "ARGS=--listen 127.0.0.1:0 --root-path /siem"]
        env = base_env({"MAKEFLAGS": None, "MAKELEVEL": None, "MFLAGS": None})
        with open(log, "wb") as out:
            p = subprocess.Popen(args, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                 stderr=subprocess.STDOUT, start_new_session=True)
        try:
            def listening():
                m = re.search(r"listening on http://127\.0\.0\.1:(\d+)/siem/", read_text(log))
                if m:
                    return int(m.group(1))
                if p.poll() is not None:
                    raise AssertionError("make run exited with %s:\n%s"
                                         % (p.returncode, tail(read_text(log))))
                return None
            port = wait_for(listening, MAKE_TIMEOUT, "make run's listening line")
            self.assertNotEqual(port, 8080)  # both flags of ARGS: --listen and --root-path
            with urllib.request.urlopen("http://127.0.0.1:%d/siem/health" % port,
                                        timeout=30) as r:
                self.assertEqual(r.status, 200)
            text = read_text(log)
            self.assertNotIn("running as root", text)
            if os.geteuid() == 0:
                self.assertIn("the hub runs as nobody", text)
                self.assertEqual(os.stat(db).st_uid, pwd.getpwnam("nobody").pw_uid)
        finally:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
            p.wait(timeout=60)
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
