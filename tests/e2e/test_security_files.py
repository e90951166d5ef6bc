"""test_security_files.py — the hub's files against a hostile neighbour ("Security hardening
II"): symbolic links in --tail-dir are never followed (present at start, made later, or put in
place of a file being followed); --user gives away neither the target of a link planted in
the store nor a folder the hub did not create; the store is private under a 022 umask; the
agent refuses an http:// hub unless --insecure-http says otherwise."""

import json
import os
import pwd
import shutil
import socket
import stat
import subprocess
import tempfile
import unittest
import uuid

import hub
from helpers import agent_bin, metric, require_agent
from hub import HubCase, cli, event_uuid, sqlite_only, wait_for

DEADLINE = 30.0
TS = "2024-03-15T12:00:00Z"


def write(path, text, mode="w"):
    with open(path, mode) as f:
        f.write(text)


def jline(app, message):
    return json.dumps({"ts": TS, "app": app, "message": message}) + "\n"


class Base(HubCase):
    def tmp(self, mode=None):
        d = tempfile.mkdtemp(prefix="minisiem-e2e-secfiles-")
        self.addCleanup(shutil.rmtree, d, True)
        if mode is not None:
            os.chmod(d, mode)
        return d

    def dump(self, h, token):
        """Every event whose text has token, and the whole of /dead-letters, as text."""
        status, _, by_q = h.get("/events", {"q": token, "limit": 1000})
        self.assertEqual(status, 200, by_q)
        events = h.all_events()
        status, _, dead = h.get("/dead-letters", {"limit": 1000})
        self.assertEqual(status, 200, dead)
        return by_q["events"], json.dumps(events), json.dumps(dead)


class TailSymlinks(Base):
    """A link in the tailed folder must not read a file from elsewhere into events or dead
    letters (readable over the API)."""

    def test_links_in_the_tailed_folder_are_not_followed(self):
        base = self.tmp()
        token = "SECRET-%s" % uuid.uuid4().hex
        app, leak = "sec-tail-%s" % uuid.uuid4().hex[:8], "sec-leak-%s" % uuid.uuid4().hex[:8]
        logs, outside = os.path.join(base, "logs"), os.path.join(base, "outside")
        os.makedirs(os.path.join(logs, "real"))
        os.makedirs(os.path.join(outside, "dir"))
        # What a link could reach: lines that are not JSON (they would be dead letters,
        # raw text included) and one that is (it would be an event).
        secret_text = ("root:$6$%s$hash:19000:0:99999:7:::\n%s not json\n" % (token, token)
                       + jline(leak, token))
        secret = os.path.join(outside, "shadow")
        write(secret, secret_text)
        write(os.path.join(outside, "dir", "leak.jsonl"), secret_text)
        write(os.path.join(logs, "good.jsonl"), "".join(jline(app, "good %d" % i)
                                                        for i in range(3)))
        write(os.path.join(logs, "real", "inner.jsonl"), jline(app, "inner"))
        swap = os.path.join(logs, "swap.jsonl")
        write(swap, jline(app, "swap before"))
        os.symlink(secret, os.path.join(logs, "link.jsonl"))       # a file
        os.symlink(os.path.join(outside, "dir"), os.path.join(logs, "sub"))  # a folder
        h = self.own_hub(args=["--tail-dir", logs])

        def messages():
            return sorted(e["message"] for e in h.all_events({"app": app}))
        want = ["good 0", "good 1", "good 2", "inner", "swap before"]
        wait_for(lambda: messages() == want, DEADLINE, "the regular files read")

        # After the start: a new link, and the file being followed replaced by one.
        os.symlink(secret, os.path.join(logs, "late.jsonl"))
        staged = os.path.join(outside, "staged")
        os.symlink(secret, staged)
        os.rename(staged, swap)
        write(os.path.join(logs, "good.jsonl"), jline(app, "marker"), "a")
        wait_for(lambda: "marker" in messages(), DEADLINE, "the line written after the links")

        found, events, dead = self.dump(h, token)
        self.assertEqual(found, [], "events with the secret text")
        self.assertNotIn(token, events, "the secret text is in an event")
        self.assertNotIn(leak, events, "an event read through a link")
        self.assertNotIn(token, dead, "the secret text is in a dead letter")
        self.assertEqual(messages(), sorted(want + ["marker"]))
        # Seen and skipped, not merely missed: link.jsonl, sub, late.jsonl, swap.jsonl.
        wait_for(lambda: metric(h, "minisiem_tail_links_skipped_total", 0) >= 4,
                 DEADLINE, "four links counted as skipped")
        self.assertIn("symbolic links in the tailed folder are not followed", h.stderr())


class AgentSymlinks(Base):
    """The agent often runs as root: a link among the files it reads (its jsonl folder, the
    auth log path) must not read a file from elsewhere into events."""

    def test_links_among_the_agents_files_are_not_followed(self):
        require_agent()
        base = self.tmp()
        token = "SECRET-%s" % uuid.uuid4().hex
        app = "sec-agent-%s" % uuid.uuid4().hex[:8]
        logs, outside = os.path.join(base, "logs"), os.path.join(base, "outside")
        os.makedirs(os.path.join(logs, "real"))
        os.makedirs(os.path.join(outside, "dir"))
        secret = os.path.join(outside, "shadow")
        write(secret, "Nov 21 07:00:00 h sshd[1]: %s\n" % token + jline(app, token))
        write(os.path.join(outside, "dir", "leak.jsonl"), jline(app, token))
        write(os.path.join(logs, "good.jsonl"), jline(app, "good"))
        write(os.path.join(logs, "real", "inner.jsonl"), jline(app, "inner"))
        os.symlink(secret, os.path.join(logs, "link.jsonl"))                  # a file
        os.symlink(os.path.join(outside, "dir"), os.path.join(logs, "sub"))  # a folder
        auth = os.path.join(base, "auth.log")
        os.symlink(secret, auth)
        r = subprocess.run([agent_bin(), "--dry-run", "--once", "--source", "jsonl:" + logs,
                            "--source", "linux-auth:" + auth], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=60, env=hub.base_env())
        hub.check_sanitizers(r.stderr, "minisiem-agent --dry-run")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn(token, r.stdout, "the secret text is in an event")
        messages = sorted(json.loads(x)["message"] for x in r.stdout.splitlines())
        self.assertEqual(messages, ["good", "inner"])
        self.assertIn("symbolic links are not followed", r.stderr)


def nobody():
    try:
        return pwd.getpwnam("nobody")
    except KeyError:
        return None


@unittest.skipUnless(os.geteuid() == 0, "needs root: --user acts only when the hub is started "
                     "as root")
@unittest.skipUnless(nobody(), "no unprivileged account 'nobody' to run the hub as")
class UserDrop(Base):
    """Started as root with --user, the hub gives its store to the account: never the target
    of a link, a hard-linked file, or a folder it did not create."""

    @sqlite_only  # links planted in the segments folder of the SQLite store
    def test_links_planted_in_the_store_keep_their_targets_owner(self):
        pw = nobody()
        base = self.tmp(0o755)  # nobody must reach the store
        secret, secret2 = os.path.join(base, "root-secret"), os.path.join(base, "root-secret-2")
        for p in (secret, secret2):
            write(p, "root only\n")
            os.chmod(p, 0o600)
        # A store folder that was there before (root's, writable by the account), and the
        # account's own segments folder holding what it planted while it ran.
        store = os.path.join(base, "store")
        os.mkdir(store)
        os.chmod(store, 0o777)
        segs = os.path.join(store, "store.db-segments")
        os.mkdir(segs, 0o700)
        os.chown(segs, pw.pw_uid, pw.pw_gid)
        os.symlink(secret, os.path.join(segs, "evil-link"))
        os.link(secret2, os.path.join(segs, "evil-hardlink"))

        h = self.own_hub(start=False, tmpdir=base, db=os.path.join(store, "store.db"),
                         args=["--user", "nobody"])
        h.start()
        for p in (secret, secret2):
            st = os.stat(p)
            self.assertEqual((st.st_uid, st.st_gid), (0, 0), "%s was given away" % p)
        st = os.stat(store)
        self.assertEqual((st.st_uid, stat.S_IMODE(st.st_mode)), (0, 0o777),
                         "the folder the hub did not create changed")
        self.assertEqual(os.stat(segs).st_uid, pw.pw_uid)
        self.assertEqual(os.stat(h.db).st_uid, pw.pw_uid)  # made by the hub as nobody
        self.assertIngested(h.ingest({"event_id": event_uuid("secfiles-user", 0),
                                      "app": "secfiles-user", "message": "stored"}), 1)
        self.assertEqual(len(h.all_events({"app": "secfiles-user"})), 1)
        self.assertRegex(h.stderr(), r"not giving '[^']*evil-link' to nobody: a symbolic link")
        self.assertRegex(h.stderr(), r"not giving '[^']*evil-hardlink' to nobody: .*hard link")
        h.stop()
        for p in (secret, secret2):
            self.assertEqual(os.stat(p).st_uid, 0)

    @sqlite_only  # the folders of the SQLite store's path
    def test_folders_it_creates_are_given_and_private(self):
        pw = nobody()
        base = self.tmp(0o755)
        made = os.path.join(base, "made")
        h = self.own_hub(start=False, tmpdir=base,
                         db=os.path.join(made, "by", "hub", "store.db"), args=["--user", "nobody"])
        h.start()
        for d in (made, os.path.join(made, "by"), os.path.join(made, "by", "hub")):
            st = os.stat(d)
            self.assertEqual((st.st_uid, stat.S_IMODE(st.st_mode)), (pw.pw_uid, 0o700), d)
        self.assertEqual(os.stat(base).st_uid, 0, "a folder that was there was given away")
        self.assertIngested(h.ingest({"event_id": event_uuid("secfiles-made", 0),
                                      "app": "secfiles-made", "message": "stored"}), 1)


class StoreModes(Base):
    """Under the common 022 umask nothing of the store may be readable by others."""

    def assertPrivate(self, paths):
        bad = {}
        for p in paths:
            try:  # a sealed segment's -wal and -shm come and go with the indexer's builds
                mode = stat.S_IMODE(os.lstat(p).st_mode)
            except FileNotFoundError:
                continue
            if mode & 0o077:
                bad[os.path.relpath(p, self.base)] = oct(mode)
        self.assertEqual(bad, {}, "store files or folders open to group or others")

    def tree(self, root):
        out = [root]
        for d, dirs, files in os.walk(root):
            out += [os.path.join(d, x) for x in dirs + files]
        return out

    @sqlite_only  # modes of the SQLite files, -wal, -shm, segments and a backup
    def test_store_files_and_folders_private_under_umask_022(self):
        self.base = base = self.tmp()
        db = os.path.join(base, "new", "store.db")
        old = os.umask(0o022)
        try:
            h = self.own_hub(tmpdir=base, db=db, args=["--segment-rows", "1000"])
        finally:
            os.umask(old)
        segs = db + "-segments"
        evs = [{"event_id": event_uuid("secfiles-modes", i), "timestamp": 1710028800 + i,
                "app": "secfiles-modes", "message": "m %d" % i} for i in range(1500)]
        self.assertIngested(h.ingest(evs[:1200]), 1200)
        self.assertIngested(h.ingest(evs[1200:]), 300)  # into a second segment

        def files():
            names = os.listdir(segs)
            return (os.path.exists(db + "-wal") and os.path.exists(db + "-shm")
                    and sum(n.endswith(".db") for n in names) >= 2
                    and any(n.endswith(".db-wal") for n in names)
                    and any(n.endswith(".db-shm") for n in names))
        wait_for(files, DEADLINE, "the store's -wal, -shm and a second segment")
        self.assertPrivate(self.tree(os.path.dirname(db)))

        dest = os.path.join(base, "backup")
        old = os.umask(0o022)
        try:
            r = cli("backup", dest, "--db", db)
        finally:
            os.umask(old)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertGreater(len(self.tree(dest)), 3)
        self.assertPrivate(self.tree(dest))


class AgentPlainHttp(Base):
    """The agent's API key must not cross the network in clear text by accident."""

    def agent(self, server, state, *more, env=None):
        e = {"SIEM_AGENT_API_KEY": hub.API_KEY}
        e.update(env or {})
        r = subprocess.run([agent_bin(), "--server", server, "--state-dir", state,
                            "--source", "jsonl:" + self.logs, "--once", "--retry-max", "1s",
                            *more], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=60,
                           env=hub.base_env(e))
        hub.check_sanitizers(r.stderr, "minisiem-agent")
        return r

    def setUp(self):
        super().setUp()
        require_agent()
        self.base = self.tmp()
        self.logs = os.path.join(self.base, "logs")
        os.mkdir(self.logs)
        self.app = "sec-agent-%s" % uuid.uuid4().hex[:8]
        write(os.path.join(self.logs, "app.jsonl"), jline(self.app, "over plain http"))

    def test_http_refused_without_the_flag(self):
        with socket.socket() as lsn:
            lsn.bind(("127.0.0.1", 0))
            lsn.listen(8)
            url = "http://127.0.0.1:%d" % lsn.getsockname()[1]
            for env in ({}, {"SIEM_AGENT_INSECURE_HTTP": "0"}):
                r = self.agent(url, os.path.join(self.base, "st"), env=env)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn("--insecure-http", r.stderr)
                self.assertIn("clear text", r.stderr)
            lsn.setblocking(False)
            with self.assertRaises(BlockingIOError, msg="the agent connected to the server"):
                lsn.accept()
        r = subprocess.run([agent_bin(), "--help"], stdout=subprocess.PIPE, text=True,
                           timeout=30, env=hub.base_env())
        self.assertIn("--insecure-http", r.stdout)
        self.assertIn("SIEM_AGENT_INSECURE_HTTP", r.stdout)

    def test_http_allowed_by_flag_variable_or_file_with_a_warning(self):
        h = self.own_hub()
        url = "http://127.0.0.1:%d" % h.port
        conf = os.path.join(self.base, "agent.conf")
        write(conf, "insecure-http = true\n")
        ways = {"flag": (["--insecure-http"], None),
                "variable": ([], {"SIEM_AGENT_INSECURE_HTTP": "1"}),
                "file": (["--config", conf], None)}
        for name, (more, env) in ways.items():
            with self.subTest(name):
                r = self.agent(url, os.path.join(self.base, "st-" + name), *more, env=env)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(r.stderr.count("UNENCRYPTED"), 1, r.stderr)
        events = h.all_events({"app": self.app})
        self.assertEqual([e["message"] for e in events], ["over plain http"])


if __name__ == "__main__":
    unittest.main()
