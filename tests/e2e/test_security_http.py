"""test_security_http.py — attacks on the hub's HTTP side, each run against the real binary:
unauthenticated clients that trickle or oversize bodies and headers (memory and slots stay
bounded, /health answers), sessions that must end (logout, password change, removal, role
change, a new admin hash), secrets given in the config file, the signing key kept out of
the store, log lines that a user name cannot forge, and dead letters for admins only."""

import json
import os
import signal
import socket
import stat
import time

from helpers import closed_by_peer, health_time, metric, read_reply
from hub import HubCase, cli, wait_for

MB = 1024 * 1024


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for %d" % pid)


def hash_password(pw):
    r = cli("hash-password", stdin=pw + "\n")
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


class BodiesAndSlowClients(HubCase):
    @classmethod
    def setUpClass(cls):
        cls.hub = cls.class_hub(args=["--request-timeout", "4s", "--header-timeout", "3s",
                                      "--max-conns", "400", "--body-budget", "4m"])

    def test_login_body_limit_is_small_and_not_a_failed_login(self):
        h = self.hub
        fails = metric(h, "minisiem_login_failures_total")
        # announced 8 MiB: refused before it is read
        s = socket.create_connection(("127.0.0.1", h.port), timeout=10)
        try:
            s.sendall(b"POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                      b"\r\nContent-Length: %d\r\n\r\n" % (8 * MB))
            reply = read_reply(s)
        finally:
            s.close()
        self.assertTrue(reply.startswith(b"HTTP/1.1 413"), reply[:200])
        # sent whole (chunked, so no length up front): 413 too
        status, _, body = h.request("POST", "/auth/login",
                                    json.dumps({"password": "x" * 100000}).encode(),
                                    {"Content-Type": "application/json"})
        self.assertEqual(status, 413, body)
        self.assertIn("4096", body["detail"])
        # a control route takes 64 KiB, /ingest its --max-body
        status, _, body = h.request("POST", "/keys", {"name": "k" * 70000},
                                    {"Authorization": "Bearer " + h.login_token()})
        self.assertEqual(status, 413, body)
        big = [{"app": "bodylimit", "event_type": "x", "message": "m" * 1000} for _ in range(1000)]
        self.assertIngested(h.ingest(big), 1000)
        self.assertEqual(metric(h, "minisiem_login_failures_total"), fails)

    def test_200_slow_unauthenticated_clients_leave_memory_bounded(self):
        h = self.hub
        before = rss_kb(h.proc.pid)
        closed_before = metric(h, "minisiem_http_slow_closed_total")
        socks = []
        try:
            for i in range(200):
                s = socket.create_connection(("127.0.0.1", h.port), timeout=10,
                                             source_address=("127.0.0.%d" % (2 + i % 100), 0))
                if i % 2:
                    # a login body announced at the route's limit, trickled
                    s.sendall(b"POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 4000"
                              b"\r\n\r\n{")
                else:
                    # chunked, no length: bytes until the limit or the deadline
                    s.sendall(b"POST /auth/login HTTP/1.1\r\nHost: x\r\n"
                              b"Transfer-Encoding: chunked\r\n\r\n1000\r\n" + b"a" * 4096)
                socks.append(s)
            # while they hold on: /health answers promptly, memory barely moves
            worst = max(health_time(h.port) for _ in range(5))
            self.assertLess(worst, 2.0, "/health took %.1f s among 200 slow clients" % worst)
            for s in socks:
                try:
                    s.sendall(b"a")
                except OSError:
                    pass
            during = rss_kb(h.proc.pid)
            grew = (during - before) / 1024.0
            self.assertLess(grew, 40.0, "RSS grew %.1f MB with 200 slow clients" % grew)
            # every one is closed at its deadline (--request-timeout 4s), trickling or not
            wait_for(lambda: metric(h, "minisiem_http_slow_closed_total") - closed_before >= 200,
                     30, "the 200 slow clients closed by the request deadline")
            for s in socks[:10]:
                self.assertTrue(closed_by_peer(s, 10))
        finally:
            for s in socks:
                s.close()
        self.assertLess(health_time(h.port), 2.0)

    def test_slow_headers_are_cut_at_the_header_deadline(self):
        h = self.hub
        s = socket.create_connection(("127.0.0.1", h.port), timeout=10,
                                     source_address=("127.0.0.201", 0))
        try:
            s.sendall(b"GET /health HTTP/1.1\r\n")
            t0 = time.monotonic()
            self.assertTrue(closed_by_peer(s, 15), "a trickled header kept the connection")
            self.assertLess(time.monotonic() - t0, 10)
        finally:
            s.close()

    def test_body_budget_gives_503(self):
        h = self.hub
        # five uploads of 1.5 MiB held at once pass the 4 MiB budget: some get 503
        socks = []
        try:
            for i in range(5):
                s = socket.create_connection(("127.0.0.1", h.port), timeout=10)
                n = int(1.5 * MB)
                s.sendall(b"POST /ingest HTTP/1.1\r\nHost: x\r\nX-API-Key: %s\r\n"
                          b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                          % (h.env["SIEM_API_KEYS"].split(":", 1)[1].encode(), n))
                head = b'[{"app": "budget", "event_type": "x"}'
                s.sendall(head + b" " * (n - len(head) - 1))
                socks.append((s, n))
            replies = []
            for s, n in socks:
                s.sendall(b"]")
                replies.append(read_reply(s, 20))
        finally:
            for s, _ in socks:
                s.close()
        busy = [r for r in replies if r.startswith(b"HTTP/1.1 503")]
        self.assertTrue(busy, [r[:40] for r in replies])
        self.assertTrue(all(b"Retry-After: 1" in r for r in busy))
        self.assertTrue(all(r.startswith((b"HTTP/1.1 503", b"HTTP/1.1 200")) for r in replies),
                        [r[:40] for r in replies])
        self.assertGreaterEqual(metric(h, "minisiem_http_body_budget_refused_total"), len(busy))
        wait_for(lambda: metric(h, "minisiem_http_body_bytes") == 0, 10, "bodies released")


class PerAddressLimit(HubCase):
    def test_slowloris_from_one_address_leaves_slots_for_others(self):
        h = self.own_hub(args=["--max-conns", "16", "--max-conns-per-ip", "8",
                               "--header-timeout", "30s"])
        socks = []
        try:
            for _ in range(16):
                s = socket.create_connection(("127.0.0.1", h.port), timeout=10,
                                             source_address=("127.0.0.2", 0))
                try:
                    s.sendall(b"GET /health HTTP/1.1\r\nX-A: 1\r\n")
                except OSError:
                    pass
                socks.append(s)
            # the 16 slots are not all theirs: another address is answered at once
            self.assertLess(max(health_time(h.port) for _ in range(3)), 2.0)
            refused = sum(1 for s in socks if closed_by_peer(s, 1.5))
            self.assertGreaterEqual(refused, 8)
        finally:
            for s in socks:
                s.close()


class Sessions(HubCase):
    @classmethod
    def setUpClass(cls):
        cls.hub = cls.class_hub()

    def login(self, user, pw):
        status, _, body = self.hub.request("POST", "/auth/login",
                                           {"username": user, "password": pw})
        self.assertEqual(status, 200, body)
        return body["access_token"]

    def me(self, tok):
        return self.hub.request("GET", "/auth/me", headers={"Authorization": "Bearer " + tok})[0]

    def test_logout_ends_that_token_only_and_survives_restart(self):
        h = self.hub
        pw = h.add_user("leaver", "analyst")
        t1, t2 = self.login("leaver", pw), self.login("leaver", pw)
        self.assertEqual(self.me(t1), 200)
        status, _, body = h.request("POST", "/auth/logout",
                                    headers={"Authorization": "Bearer " + t1})
        self.assertEqual(status, 200, body)
        self.assertEqual(self.me(t1), 401)
        self.assertEqual(self.me(t2), 200)
        self.assertEqual(h.request("POST", "/auth/logout",
                                   headers={"Authorization": "Bearer " + t1})[0], 401)
        h.restart()
        self.assertEqual(self.me(t1), 401)
        self.assertEqual(self.me(t2), 200)

    def test_password_change_ends_every_token_of_that_user(self):
        h = self.hub
        pw = h.add_user("changer", "analyst")
        other_pw = h.add_user("bystander", "analyst")
        toks = [self.login("changer", pw) for _ in range(2)]
        other = self.login("bystander", other_pw)
        r = cli("users", "passwd", "changer", *h.store_args(),
                stdin="a-new-long-password-1\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        for t in toks:
            wait_for(lambda: self.me(t) == 401, 5, "the old token refused after passwd")
        self.assertEqual(self.me(other), 200)
        self.assertEqual(self.me(self.login("changer", "a-new-long-password-1")), 200)

    def test_removal_and_role_change_end_tokens(self):
        h = self.hub
        pw = h.add_user("demoted", "admin")
        tok = self.login("demoted", pw)
        self.assertEqual(h.request("GET", "/keys", headers={"Authorization": "Bearer " + tok})[0],
                         200)
        self.assertEqual(cli("users", "remove", "demoted", *h.store_args()).returncode, 0)
        wait_for(lambda: self.me(tok) == 401, 5, "token refused after removal")
        # the same name back, as an analyst: the old admin token stays dead
        pw2 = h.add_user("demoted", "analyst", password="another-long-password")
        # refused all through the one-second user cache, and after it (the store is read)
        end = time.monotonic() + 1.5
        while time.monotonic() < end:
            self.assertEqual(self.me(tok), 401)
        t2 = self.login("demoted", pw2)
        self.assertEqual(h.request("GET", "/keys", headers={"Authorization": "Bearer " + t2})[0],
                         403)

    def test_forged_role_claim_is_refused(self):
        h = self.hub
        h.add_user("plain", "analyst")
        tok = h.make_token("plain", "admin")  # signed with the real secret, wrong role
        self.assertEqual(self.me(tok), 401)
        self.assertEqual(self.me(h.make_token("plain", "analyst")), 200)


class SecretsInConfigFile(HubCase):
    def test_config_file_secrets_are_used_and_reloaded(self):
        pw1, pw2 = "first-admin-password", "second-admin-password"
        secret1, secret2 = "s" * 40, "t" * 40
        h = self.own_hub(start=False, env={"SIEM_JWT_SECRET": None})
        conf = os.path.join(h.tmpdir, "minisiem.conf")

        def write(pw, secret):
            with open(conf, "w") as f:
                f.write("SIEM_ADMIN_PASSWORD_HASH = %s\nSIEM_JWT_SECRET = %s\n"
                        % (hash_password(pw), secret))

        write(pw1, secret1)
        h.args = ["--config", conf]
        h.start()
        self.assertIsNone(h.printed_password, "a hash was configured: no first-run password")
        tok = h.login(pw1)
        self.assertEqual(h.request("GET", "/auth/me",
                                   headers={"Authorization": "Bearer " + tok})[0], 200)
        # the token is signed with the file's secret
        from hub import decode_jwt
        import hashlib
        import hmac as hmac_mod
        _, _, signing_input, sig = decode_jwt(tok)
        self.assertEqual(sig, hmac_mod.new(secret1.encode(), signing_input, hashlib.sha256).digest())
        # a new hash and secret in the file, then SIGHUP: old password and token refused
        write(pw2, secret2)
        h.signal(signal.SIGHUP)
        wait_for(lambda: h.request("GET", "/auth/me",
                                   headers={"Authorization": "Bearer " + tok})[0] == 401,
                 10, "the old token refused after the reload")
        self.assertEqual(h.request("POST", "/auth/login", {"password": pw1})[0], 401)
        tok2 = h.login(pw2)
        self.assertEqual(h.request("GET", "/auth/me",
                                   headers={"Authorization": "Bearer " + tok2})[0], 200)
        # and after a restart, the same
        h.restart()
        self.assertEqual(h.request("POST", "/auth/login", {"password": pw1})[0], 401)
        self.assertEqual(h.request("GET", "/auth/me",
                                   headers={"Authorization": "Bearer " + tok2})[0], 200)


class SigningKeyOutOfTheStore(HubCase):
    def test_generated_key_lives_in_its_own_0600_file(self):
        h = self.own_hub(start=False, env={"SIEM_JWT_SECRET": None})
        # a store made by an older version: its key in the meta table
        h.start()
        h.stop()
        h.store_exec("INSERT INTO meta(key, value) VALUES('jwt_secret', ?)"
                     " ON CONFLICT(key) DO UPDATE SET value = excluded.value", "ab" * 32)
        h.start()
        keyfile = h.db + "-jwt-secret"
        st = os.stat(keyfile)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        with open(keyfile) as f:
            key = f.read().strip()
        self.assertRegex(key, r"^[0-9a-f]{64}$")
        self.assertNotEqual(key, "ab" * 32)
        rows = h.store_rows("SELECT key FROM meta WHERE key LIKE '%secret%'")
        self.assertEqual(rows, [])
        tok = h.login()
        self.assertEqual(h.request("GET", "/auth/me",
                                   headers={"Authorization": "Bearer " + tok})[0], 200)
        h.restart()  # the same key again: the token still works
        self.assertEqual(h.request("GET", "/auth/me",
                                   headers={"Authorization": "Bearer " + tok})[0], 200)
        # the key is in no file of the store, nor in its tables
        self.assertEqual(h.store_rows("SELECT key FROM meta WHERE value = ?", key), [])
        for name in os.listdir(h.tmpdir):
            p = os.path.join(h.tmpdir, name)
            if os.path.isfile(p) and not p.endswith("-jwt-secret"):
                with open(p, "rb") as f:
                    self.assertNotIn(key.encode(), f.read(), p)

    def test_a_symlink_as_key_file_is_refused(self):
        h = self.own_hub(start=False, env={"SIEM_JWT_SECRET": None})
        target = os.path.join(h.tmpdir, "elsewhere")
        with open(target, "w") as f:
            f.write("cd" * 32 + "\n")
        os.symlink(target, h.db + "-jwt-secret")
        with self.assertRaises(AssertionError):
            h.start(timeout=15)
        self.assertIn("-jwt-secret", h.stderr())


class LogLines(HubCase):
    def test_user_name_cannot_forge_a_log_line(self):
        h = self.own_hub()
        forged = "2026-01-01T00:00:00Z error hub: forged line"
        status, _, _ = h.request("POST", "/auth/login",
                                 {"username": "x\n" + forged + "\r\x1b[2J", "password": "nope"})
        self.assertEqual(status, 401)
        wait_for(lambda: "failed login" in h.stderr(), 10, "the failed login logged")
        lines = h.stderr().splitlines()
        self.assertFalse([l for l in lines if l.startswith(forged)], "a forged log line")
        self.assertTrue([l for l in lines if "x\\n" + forged + "\\r\\x1b[2J" in l], lines[-5:])


class DeadLetters(HubCase):
    def test_admin_only_and_raw_capped(self):
        h = self.own_hub(start=False)
        logs = os.path.join(h.tmpdir, "logs")
        os.mkdir(logs)
        h.args = ["--tail-dir", logs]
        h.start()
        long_line = "not json " + "é" * 3000  # 6 KB, multi-byte characters at the cut
        with open(os.path.join(logs, "app.jsonl"), "w") as f:
            f.write(long_line + "\n")

        def letters():
            status, _, body = h.get("/dead-letters")
            self.assertEqual(status, 200, body)
            return body["dead_letters"]
        dl = wait_for(letters, 20, "the dead letter")[0]
        self.assertTrue(dl["raw_truncated"])
        self.assertEqual(dl["raw_bytes"], len(long_line.encode()))
        self.assertLessEqual(len(dl["raw"].encode()), 1024)
        self.assertTrue(long_line.startswith(dl["raw"]))
        pw = h.add_user("reader", "analyst")
        status, _, body = h.request("POST", "/auth/login", {"username": "reader", "password": pw})
        self.assertEqual(status, 200, body)
        status, _, body = h.get("/dead-letters", token=body["access_token"])
        self.assertEqual(status, 403, body)


class AlertStreams(HubCase):
    @classmethod
    def setUpClass(cls):
        cls.hub = cls.class_hub()

    def open_stream(self, tok):
        s = socket.create_connection(("127.0.0.1", self.hub.port), timeout=10)
        s.sendall(b"GET /alerts/stream?keepalive=1 HTTP/1.1\r\nHost: x\r\n"
                  b"Authorization: Bearer %s\r\n\r\n" % tok.encode())
        head = read_reply(s)
        return s, head

    def ended_with(self, s, deadline=15):
        """Everything the stream sent until the hub ended it (or deadline)."""
        s.settimeout(0.5)
        data, end = b"", time.monotonic() + deadline
        while time.monotonic() < end:
            try:
                chunk = s.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                break
            if not chunk:
                break
            data += chunk
            if b"event: end" in data and data.endswith(b"\r\n0\r\n\r\n"):
                break
        return data

    def test_stream_ends_with_its_token(self):
        h = self.hub
        s, head = self.open_stream(h.make_token("admin", "admin", ttl=3))
        try:
            self.assertTrue(head.startswith(b"HTTP/1.1 200"), head[:200])
            data = self.ended_with(s)
        finally:
            s.close()
        self.assertIn(b"event: end", data)
        self.assertIn(b"expired or was revoked", data)

    def test_stream_ends_at_logout(self):
        h = self.hub
        pw = h.add_user("streamer", "analyst")
        status, _, body = h.request("POST", "/auth/login", {"username": "streamer", "password": pw})
        self.assertEqual(status, 200, body)
        tok = body["access_token"]
        s, head = self.open_stream(tok)
        try:
            self.assertTrue(head.startswith(b"HTTP/1.1 200"), head[:200])
            status, _, body = h.request("POST", "/auth/logout",
                                        headers={"Authorization": "Bearer " + tok})
            self.assertEqual(status, 200, body)
            data = self.ended_with(s)
        finally:
            s.close()
        self.assertIn(b"event: end", data)

    def test_streams_per_user_are_limited(self):
        h = self.hub
        h.add_user("greedy", "analyst")
        h.add_user("patient", "analyst")
        tok = h.make_token("greedy", "analyst")
        socks = []
        try:
            for _ in range(4):
                s, head = self.open_stream(tok)
                socks.append(s)
                self.assertTrue(head.startswith(b"HTTP/1.1 200"), head[:200])
            s, head = self.open_stream(tok)
            socks.append(s)
            self.assertTrue(head.startswith(b"HTTP/1.1 429"), head[:200])
            s, head = self.open_stream(h.make_token("patient", "analyst"))
            socks.append(s)
            self.assertTrue(head.startswith(b"HTTP/1.1 200"), head[:200])
        finally:
            for s in socks:
                s.close()
        # closed streams give their slots back
        def again():
            s, head = self.open_stream(tok)
            s.close()
            return head.startswith(b"HTTP/1.1 200")
        wait_for(again, 10, "a stream slot given back")
