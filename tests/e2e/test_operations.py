"""test_operations.py — running the hub for real (docs/operations.md): HTTPS with
--tls-cert/--tls-key, a reverse-proxy prefix (--root-path, kept or stripped by the proxy,
X-Forwarded-Prefix), retention removing whole old
segments, `minisiem backup` while ingesting and a restore from it, SIGHUP reloading API keys
(and refusing invalid settings), a full disk answered with 503 and recovered without restart,
and --user dropping root privileges."""

import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

import hub as hubmod
from helpers import metric, raw_exchange
from hub import (API_KEY, Hub, HubCase, Load, cli, event_uuid, fresh_store_args, read_text,
                 sqlite_only, wait_for)

NOW = int(time.time())
OLD_BASE = 1577836800  # 2020-01-01T00:00:00Z
CMD_TIMEOUT = 30

# The harness's listening-line pattern wants http:// and a bare "/"; these hubs print
# https:// or a prefix. Group 1 stays the port.
WIDE_LISTEN_RE = re.compile(r"minisiem: listening on https?://127\.0\.0\.1:(\d+)/")


class OpsHub(Hub):
    """A Hub whose start accepts an https:// or prefixed listening line."""

    def start(self, timeout=hubmod.START_DEADLINE):
        old = hubmod.LISTEN_RE
        hubmod.LISTEN_RE = WIDE_LISTEN_RE
        try:
            return super().start(timeout)
        finally:
            hubmod.LISTEN_RE = old

    def listening_line(self):
        for line in read_text(self.stdout_path).splitlines():
            if line.startswith("minisiem: listening on "):
                return line
        return None


def evs(tag, n, start=0, base=NOW - 3600, msg=None):
    return [{"event_id": event_uuid(tag, i), "timestamp": base + i, "event_type": "ops_test",
             "app": tag, "message": msg(i) if msg else "%s %d" % (tag, i)}
            for i in range(start, start + n)]


def run(argv, timeout=CMD_TIMEOUT, **kw):
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL, **kw)


class Ops(HubCase):
    def own_ops_hub(self, start=True, **kw):
        h = OpsHub(**kw)
        self.addCleanup(h.close)
        return h.start() if start else h

    def tmpdir(self):
        d = tempfile.mkdtemp(prefix="minisiem-e2e-ops-")
        self.addCleanup(shutil.rmtree, d, True)
        return d


class Tls(Ops):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="minisiem-e2e-tls-")
        cls.addClassCleanup(shutil.rmtree, cls.dir, True)
        d = cls.dir
        p = lambda n: os.path.join(d, n)  # noqa: E731
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        with open(p("ext.cnf"), "w") as f:
            f.write("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                    "keyUsage=critical,digitalSignature,keyEncipherment\n"
                    "extendedKeyUsage=serverAuth\n")
        steps = [
            ["openssl", "req", "-x509"] + ec + ["-keyout", p("ca.key"), "-out", p("ca.pem"),
             "-days", "2", "-subj", "/CN=minisiem e2e test CA",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
            ["openssl", "req"] + ec + ["-keyout", p("server.key"), "-out", p("server.csr"),
             "-subj", "/CN=127.0.0.1"],
            ["openssl", "x509", "-req", "-in", p("server.csr"), "-CA", p("ca.pem"),
             "-CAkey", p("ca.key"), "-CAcreateserial", "-out", p("server.pem"), "-days", "2",
             "-extfile", p("ext.cnf")],
        ]
        for argv in steps:
            r = run(argv)
            if r.returncode != 0:
                raise AssertionError("%s failed (%d): %s" % (" ".join(argv), r.returncode,
                                                               r.stderr))
        cls.ca, cls.cert, cls.key = p("ca.pem"), p("server.pem"), p("server.key")

    def curl(self, url, *extra):
        r = run(["curl", "-sS", "--max-time", "15", "-o", "-", "-w", "\n%{http_code}"]
                + list(extra) + [url])
        body, _, code = r.stdout.rpartition("\n")
        return r.returncode, code, body, r.stderr

    def test_https_serves_with_the_given_certificate_and_only_https(self):
        hub = self.own_ops_hub(args=["--tls-cert", self.cert, "--tls-key", self.key])
        base = "https://127.0.0.1:%d" % hub.port
        self.assertEqual(hub.listening_line(), "minisiem: listening on %s/" % base)

        rc, code, body, err = self.curl(base + "/health", "--cacert", self.ca)
        self.assertEqual((rc, code), (0, "200"), "curl --cacert: %s %r" % (err, body))
        self.assertEqual(json.loads(body)["status"], "ok")

        # ingest and query over HTTPS (the chain is verified on every call)
        ev = evs("tls", 3)
        rc, code, body, err = self.curl(base + "/ingest", "--cacert", self.ca,
                                        "-H", "X-API-Key: " + API_KEY,
                                        "-H", "Content-Type: application/json",
                                        "--data-binary", json.dumps(ev))
        self.assertEqual((rc, code), (0, "200"), "ingest over https: %s %r" % (err, body))
        self.assertEqual(json.loads(body)["accepted"], 3, body)
        rc, code, body, err = self.curl(base + "/events?app=tls&limit=10", "--cacert", self.ca,
                                        "-H", "Authorization: Bearer " + hub.login_token())
        self.assertEqual((rc, code), (0, "200"), "events over https: %s %r" % (err, body))
        self.assertEqual(sorted(e["event_id"] for e in json.loads(body)["events"]),
                         sorted(e["event_id"] for e in ev))

        # without our CA the chain cannot be verified: curl exit 60
        rc, code, body, err = self.curl(base + "/health", "--cacert", self.cert_only_bundle())
        self.assertEqual(rc, 60, "curl without the CA: want exit 60 (verification failed), "
                         "got %d %s %r" % (rc, code, err))

        # plain HTTP to the TLS port never gets a 200
        got, _ = raw_exchange(hub.port, b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                              b"Connection: close\r\n\r\n", 10, shut=False)
        self.assertFalse(got.startswith(b"HTTP/1.1 200") or got.startswith(b"HTTP/1.0 200"),
                         "plain http to the https port answered %r" % got[:200])
        # the hub is still fine after the bad client
        rc, code, body, err = self.curl(base + "/ready", "--cacert", self.ca)
        self.assertEqual((rc, code), (0, "200"), err)

    def cert_only_bundle(self):
        """A CA bundle that holds only an unrelated self-signed certificate (so the system
        bundle is not consulted and our CA is certainly absent)."""
        path = os.path.join(self.dir, "other-ca.pem")
        if not os.path.exists(path):
            r = run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                     "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
                     os.path.join(self.dir, "other.key"), "-out", path, "-days", "2",
                     "-subj", "/CN=unrelated CA"])
            self.assertEqual(r.returncode, 0, r.stderr)
        return path

    def test_only_cert_or_only_key_refuses_to_start(self):
        for flag, path in (("--tls-cert", self.cert), ("--tls-key", self.key)):
            with self.subTest(flag=flag):
                d = self.tmpdir()
                try:
                    r = cli("serve", "--listen", "127.0.0.1:0", *fresh_store_args(d), flag,
                            path, timeout=20)
                except subprocess.TimeoutExpired:
                    self.fail("serve with only %s did not exit within 20 s (it should refuse "
                              "to start)" % flag)
                self.assertEqual(r.returncode, 1, "only %s: stdout %r stderr %r"
                                 % (flag, r.stdout, r.stderr))
                self.assertIn("TLS needs both a certificate and a key", r.stderr)
                self.assertNotIn("listening on", r.stdout)


class RootPath(Ops):
    """--root-path behind a proxy that keeps the prefix (location /siem/ { proxy_pass
    http://hub:8080; }) and one that strips it (proxy_pass http://hub:8080/;): both work."""

    def test_every_route_answers_with_and_without_the_prefix(self):
        hub = self.own_ops_hub(args=["--root-path", "/siem"])
        self.assertEqual(hub.listening_line(),
                         "minisiem: listening on http://127.0.0.1:%d/siem/" % hub.port)
        for prefix in ("/siem", ""):
            with self.subTest(prefix=prefix or "stripped"):
                body = self.assertStatus(hub.request("GET", prefix + "/health"), 200,
                                         prefix + "/health")
                self.assertEqual(body["status"], "ok")
                self.assertStatus(hub.request("GET", prefix + "/ready"), 200, "ready")
                self.assertStatus(hub.request("GET", prefix + "/events"), 401, "no token")
                ev = evs("rootpath" + prefix.replace("/", "-"), 4)
                body = self.assertStatus(hub.request(
                    "POST", prefix + "/ingest", json.dumps(ev).encode(),
                    {"Content-Type": "application/json", "X-API-Key": API_KEY}), 200, "ingest")
                self.assertEqual(body["accepted"], 4, body)
                body = self.assertStatus(hub.get(prefix + "/events",
                                                 {"app": ev[0]["app"], "limit": 100}), 200,
                                         "events with a token")
                self.assertEqual(sorted(e["event_id"] for e in body["events"]),
                                 sorted(e["event_id"] for e in ev))
        # a path that only starts like the prefix is no route
        self.assertStatus(hub.request("GET", "/siemx/health"), 404, "/siemx/health")

    def page(self, hub, path, headers=None):
        st, h, body = hub.request("GET", path, headers=headers)
        self.assertEqual(st, 200, "%s: %s %r" % (path, st, body))
        text = body.decode() if isinstance(body, bytes) else str(body)
        m = re.search(r'<base href="([^"]*)">', text)
        self.assertIsNotNone(m, "%s has no <base href>: %r" % (path, text[:300]))
        return m.group(1), text, h

    def assets_load(self, hub, base, text, strip):
        """Every asset the page names, resolved against its base as a browser does, loads
        through the proxy (which strips `strip` when set)."""
        refs = re.findall(r'(?:href|src)="(assets/[^"]+)"', text)
        self.assertGreaterEqual(len(refs), 2, text[:400])
        for ref in refs:
            url = base + ref
            if strip:
                self.assertTrue(url.startswith(strip + "/"), url)
                url = url[len(strip):]
            st, _, body = hub.request("GET", url)
            self.assertEqual(st, 200, "%s (%s): %s" % (ref, url, st))

    def test_dashboard_links_and_assets_under_either_proxy(self):
        hub = self.own_ops_hub(args=["--root-path", "/siem"])
        for strip in (None, "/siem"):
            for page in ("/siem/", "/siem", "/siem/ui/alerts", "/siem/ui/explorer"):
                with self.subTest(page=page, proxy="strips" if strip else "keeps"):
                    path = page[len(strip):] or "/" if strip else page
                    base, text, _ = self.page(hub, path)
                    self.assertEqual(base, "/siem/")
                    self.assertNotIn('href="./"', text)
                    self.assertEqual(text.count("<base "), 1)
                    self.assets_load(hub, base, text, strip)

    def test_forwarded_prefix_from_a_trusted_proxy(self):
        hub = self.own_ops_hub(args=["--root-path", "/siem", "--trusted-proxies",
                                     "127.0.0.1/32"])
        fwd = {"X-Forwarded-Prefix": "/tools/siem/"}
        base, text, h1 = self.page(hub, "/", fwd)
        self.assertEqual(base, "/tools/siem/")
        self.assets_load(hub, base, text, "/tools/siem")
        st, _, doc = hub.request("GET", "/openapi.json", headers=fwd)
        self.assertEqual(doc["servers"], [{"url": "/tools/siem/"}])
        # the page under another prefix is another page: its validator differs
        base, _, h2 = self.page(hub, "/", {"If-None-Match": h1["ETag"]})
        self.assertEqual(base, "/siem/")
        self.assertNotEqual(h1["ETag"], h2["ETag"])
        st, _, _ = hub.request("GET", "/", headers=dict(fwd, **{"If-None-Match": h1["ETag"]}))
        self.assertEqual(st, 304)
        # without --root-path the header alone names the prefix
        bare = self.own_hub(args=["--trusted-proxies", "127.0.0.1/32"])
        base, text, _ = self.page(bare, "/ui/alerts", fwd)
        self.assertEqual(base, "/tools/siem/")
        self.assets_load(bare, base, text, "/tools/siem")
        # a value that is no path is ignored
        for bad in ("tools", "/a b", "/x\"><script>", "/" + "a" * 300):
            with self.subTest(bad=bad[:20]):
                base, _, _ = self.page(hub, "/", {"X-Forwarded-Prefix": bad})
                self.assertEqual(base, "/siem/")

    def test_forwarded_prefix_from_anyone_else_is_ignored(self):
        hub = self.own_ops_hub(args=["--root-path", "/siem"])
        base, _, _ = self.page(hub, "/siem/", {"X-Forwarded-Prefix": "/evil"})
        self.assertEqual(base, "/siem/")
        # without a root path or a trusted header the page keeps its relative base
        plain = self.own_hub()
        base, _, _ = self.page(plain, "/", {"X-Forwarded-Prefix": "/evil"})
        self.assertEqual(base, "./")
        base, _, _ = self.page(plain, "/ui/alerts")
        self.assertEqual(base, "../")
        st, _, doc = plain.request("GET", "/openapi.json")
        self.assertEqual(doc["servers"], [{"url": "/"}])


class Retention(Ops):
    def test_expired_segment_is_removed_and_new_events_stay(self):
        hub = self.own_ops_hub(args=["--segment-rows", "1000", "--retention-days", "1",
                                     "--retention-interval", "1s"])
        old = evs("retold", 1000, base=OLD_BASE)
        for i in range(0, 1000, 250):
            self.assertIngested(hub.ingest(old[i:i + 250]), 250)
        new = evs("retnew", 5, base=NOW - 60)
        self.assertIngested(hub.ingest(new), 5)

        got = wait_for(lambda: metric(hub, "minisiem_retention_events_removed_total"), 30,
                       "minisiem_retention_events_removed_total > 0")
        self.assertEqual(got, 1000)
        if hub.backend == "sqlite":  # the embedded store's files: one segment of old events
            self.assertEqual(metric(hub, "minisiem_retention_segments_removed_total"), 1)
        self.assertEqual(hub.all_events({"from": "2019-12-31T00:00:00Z",
                                         "to": "2020-01-02T00:00:00Z"}), [])
        self.assertEqual(hub.all_events({"app": "retold"}), [])
        self.assertEqual(sorted(e["event_id"] for e in hub.all_events({"app": "retnew"})),
                         sorted(e["event_id"] for e in new))
        self.assertStatus(hub.request("GET", "/ready"), 200, "/ready after retention")
        # the hub keeps ingesting after a segment file was deleted under it
        self.assertIngested(hub.ingest(evs("retnew", 5, start=5, base=NOW - 60)), 5)
        self.assertEqual(len(hub.all_events({"app": "retnew"})), 10)


class Backup(Ops):
    @sqlite_only  # `minisiem backup` copies the SQLite files
    def test_backup_while_ingesting_restores_every_acknowledged_event(self):
        hub = self.own_ops_hub()
        before = evs("bk", 2000)
        for i in range(0, 2000, 250):
            self.assertIngested(hub.ingest(before[i:i + 250]), 250)
        work = self.tmpdir()
        dest = os.path.join(work, "backup")
        # keeps ingesting until the backup is over (bounded by max_events)
        load = Load(hub, "bkload", threads=1, batch=100, max_events=20000).start()
        try:
            wait_for(lambda: load.n_acked() > 0 or not load.alive(), 20,
                     "the load to get its first answer")
            r = cli("backup", dest, "--db", hub.db)
        finally:
            done = load.join(60)
        self.assertTrue(done, "load threads did not finish")
        self.assertEqual(load.bad, [], "unexpected answers while backing up")
        self.assertEqual(r.returncode, 0, "backup: %r %r" % (r.stdout, r.stderr))
        self.assertRegex(r.stdout.strip(), r"^backup of '%s' written to '%s' in \d+\.\d s$"
                         % (re.escape(hub.db), re.escape(dest)))
        self.assertEqual(sorted(os.listdir(dest)), ["store.db", "store.db-segments"])

        # DEST exists now: a second backup into it is refused
        r2 = cli("backup", dest, "--db", hub.db)
        self.assertEqual(r2.returncode, 1, "backup into an existing DEST: %r %r"
                         % (r2.stdout, r2.stderr))
        self.assertIn("minisiem backup: failed", r2.stderr)
        hub.stop()

        restore = os.path.join(work, "restore")
        os.mkdir(restore)
        for name in os.listdir(dest):
            src = os.path.join(dest, name)
            if os.path.isdir(src):
                shutil.copytree(src, os.path.join(restore, name))
            else:
                shutil.copy2(src, os.path.join(restore, name))
        restored = self.own_ops_hub(db=os.path.join(restore, "store.db"))
        ids = [e["event_id"] for e in restored.all_events({"app": "bk"})]
        self.assertEqual(len(ids), len(set(ids)), "events restored twice")
        self.assertEqual(set(ids), {e["event_id"] for e in before},
                         "events acknowledged before the backup are missing from it")
        during = [e["event_id"] for e in restored.all_events({"app": "bkload"})]
        self.assertEqual(len(during), len(set(during)))
        self.assertLessEqual(set(during), set(load.sent), "restored events nobody sent")
        # the restored hub takes new events
        self.assertIngested(restored.ingest(evs("bk-after", 3)), 3)


class Reload(Ops):
    KEY_A = "key-aaaaaaaaaaaaaaaaaaaa"
    KEY_B = "key-bbbbbbbbbbbbbbbbbbbb"

    def write(self, path, text):
        tmp = path + ".new"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, path)

    def test_sighup_swaps_api_keys_and_refuses_invalid_settings(self):
        hub = self.own_ops_hub(start=False, env={"SIEM_API_KEYS": None})
        cfg = os.path.join(hub.tmpdir, "minisiem.conf")
        self.write(cfg, "retention-days = 30\nSIEM_API_KEYS = a:%s\n" % self.KEY_A)
        hub.args = ["--config", cfg]
        hub.start()
        self.assertIngested(hub.ingest(evs("hup", 1), key=self.KEY_A), 1)
        self.assertStatus(hub.ingest(evs("hup", 1, start=1), key=self.KEY_B), 401, "key b first")

        self.write(cfg, "retention-days = 30\nSIEM_API_KEYS = b:%s\n" % self.KEY_B)
        hub.signal(signal.SIGHUP)
        wait_for(lambda: "settings reloaded" in hub.stderr(), 20, "'settings reloaded' in stderr")
        self.assertStatus(hub.ingest(evs("hup", 1, start=2), key=self.KEY_A), 401,
                          "key a after reload")
        self.assertIngested(hub.ingest(evs("hup", 1, start=3), key=self.KEY_B), 1)

        self.write(cfg, "retention-days = lots\nSIEM_API_KEYS = a:%s\n" % self.KEY_A)
        hub.signal(signal.SIGHUP)
        wait_for(lambda: "reload refused" in hub.stderr(), 20, "'reload refused' in stderr")
        self.assertEqual(hub.stderr().count("settings reloaded"), 1, hub.stderr())
        self.assertIngested(hub.ingest(evs("hup", 1, start=4), key=self.KEY_B), 1)
        self.assertStatus(hub.ingest(evs("hup", 1, start=5), key=self.KEY_A), 401,
                          "key a after a refused reload")
        self.assertTrue(hub.running())

        body = self.assertStatus(hub.get("/audit", {"limit": 100}), 200, "GET /audit")
        reloads = [a for a in body["audit"] if a["action"] == "settings.reload"]
        self.assertEqual(len(reloads), 1, body["audit"])
        self.assertNotIn("key-bbbb", json.dumps(body), "a secret in the audit log")
        ids = sorted(e["event_id"] for e in hub.all_events({"app": "hup"}))
        self.assertEqual(ids, sorted(event_uuid("hup", i) for i in (0, 3, 4)))


class DiskFull(Ops):
    def mount_small_fs(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to mount a small tmpfs")
        d = self.tmpdir()
        try:
            r = run(["mount", "-t", "tmpfs", "-o", "size=12m", "tmpfs", d])
        except (OSError, subprocess.SubprocessError) as e:
            self.skipTest("cannot mount a tmpfs: %r" % e)
        if r.returncode != 0:
            self.skipTest("cannot mount a tmpfs: %s" % r.stderr.strip())
        # cleanups run last-in first-out: the hub's close (registered later) first, then
        # this unmount, then the directory's removal
        self.addCleanup(lambda: run(["umount", d]) if os.path.ismount(d) else None)
        return d

    @sqlite_only  # the store's files on a small file system of its own
    def test_full_disk_answers_503_and_recovers_without_restart(self):
        mnt = self.mount_small_fs()
        filler = os.path.join(mnt, "filler")
        with open(filler, "wb") as f:
            f.write(b"\0" * (4 << 20))
        hub = self.own_ops_hub(db=os.path.join(mnt, "store.db"))
        pad = "z" * 2000
        acked, full = [], None
        for b in range(200):
            batch = evs("full", 200, start=b * 200, msg=lambda i: "full %d %s" % (i, pad))
            st, headers, body = hub.ingest(batch)
            if st == 200:
                self.assertEqual(body["accepted"], 200, body)
                acked.extend(e["event_id"] for e in batch)
                continue
            full = (st, headers, body)
            break
        self.assertIsNotNone(full, "12 MB never filled up")
        st, headers, body = full
        self.assertEqual(st, 503, "ingest on a full disk: %r" % (body,))
        self.assertTrue(headers.get("Retry-After"), "503 without Retry-After")
        self.assertGreater(len(acked), 0, "nothing fit before the disk was full")
        self.assertStatus(hub.request("GET", "/ready"), 503, "/ready with a full disk")
        self.assertStatus(hub.request("GET", "/health"), 200, "/health with a full disk")

        os.unlink(filler)
        self.assertIngested(hub.ingest(evs("full-after", 10)), 10)
        wait_for(lambda: hub.request("GET", "/ready")[0] == 200, 10, "/ready 200 again")
        ids = [e["event_id"] for e in hub.all_events({"app": "full"})]
        self.assertEqual(len(ids), len(set(ids)))
        self.assertLessEqual(set(acked), set(ids), "%d acknowledged events missing"
                             % len(set(acked) - set(ids)))
        self.assertEqual(len(hub.all_events({"app": "full-after"})), 10)


class PrivilegeDrop(Ops):
    def test_user_nobody_runs_unprivileged_with_its_store(self):
        if os.geteuid() != 0:
            self.skipTest("needs root")
        try:
            pw = pwd.getpwnam("nobody")
        except KeyError:
            self.skipTest("no user 'nobody'")
        hub = self.own_ops_hub(start=False, args=["--user", "nobody"])
        os.chmod(hub.tmpdir, 0o755)  # nobody must reach its store and the working directory
        hub.db = os.path.join(hub.tmpdir, "store", "store.db")
        hub.start()

        def ids(field):
            for line in read_text("/proc/%d/status" % hub.proc.pid).splitlines():
                if line.startswith(field + ":"):
                    return [int(x) for x in line.split()[1:]]
            return None

        self.assertEqual(ids("Uid"), [pw.pw_uid] * 4)
        self.assertEqual(ids("Gid"), [pw.pw_gid] * 4)
        self.assertIngested(hub.ingest(evs("priv", 5)), 5)
        self.assertEqual(len(hub.all_events({"app": "priv"})), 5)
        if hub.backend == "sqlite":  # the embedded store's file is the account's
            self.assertEqual(os.stat(hub.db).st_uid, pw.pw_uid)
        hub.restart()
        self.assertEqual(ids("Uid"), [pw.pw_uid] * 4)
        self.assertIngested(hub.ingest(evs("priv", 5, start=5)), 5)
        self.assertEqual(len(hub.all_events({"app": "priv"})), 10)


if __name__ == "__main__":
    unittest.main()
