"""test_auth.py — API keys on /ingest, admin login and JWTs on the data endpoints, the
open endpoints, `hash-password`, `keys`, `users passwd admin` and the list formats of `keys`
and `users`, and the CLI's exit codes."""

import hashlib
import hmac
import json
import os
import re
import subprocess
import time

import hub as H
from helpers import free_port
from hub import (API_KEY, JWT_SECRET, HubCase, b64url, cli, decode_jwt, event_uuid, make_jwt,
                 wait_for)

DATA_ENDPOINTS = ["/events", "/events/" + event_uuid("auth", "none"), "/apps", "/hosts",
                  "/event-types", "/auth/me"]


def one_event(tag):
    return {"event_id": event_uuid("auth", tag), "event_type": "auth_test", "app": "authtest",
            "message": tag}


class IngestKeys(HubCase):
    @classmethod
    def setUpClass(cls):
        # a second env key, to check the comma-separated list
        cls.hub = cls.class_hub(env={"SIEM_API_KEYS": "test:%s,other:second-key-abcdef-0123" % API_KEY})

    def test_no_key_is_401(self):
        status, _, body = self.hub.ingest(one_event("nokey"), key=None)
        self.assertEqual(status, 401, body)
        self.assertIn("error", body)
        self.assertEqual(self.hub.get_event(event_uuid("auth", "nokey"))[0], 404)

    def test_wrong_key_is_401(self):
        for key in ("wrong-key", API_KEY + "x", API_KEY[:-1], "", "test"):
            with self.subTest(key=key):
                status, _, body = self.hub.ingest(one_event("wrongkey"), key=key)
                self.assertEqual(status, 401, body)
        self.assertEqual(self.hub.get_event(event_uuid("auth", "wrongkey"))[0], 404)

    def test_key_name_is_not_a_key(self):
        status, _, body = self.hub.ingest(one_event("keyname"), key="test:" + API_KEY)
        self.assertEqual(status, 401, body)

    def test_x_api_key_header(self):
        self.assertIngested(self.hub.ingest(one_event("xapikey"), key_header="X-API-Key"), 1)

    def test_api_key_header(self):
        self.assertIngested(self.hub.ingest(one_event("apikey"), key_header="api_key"), 1)

    def test_authorization_bearer_key(self):
        self.assertIngested(self.hub.ingest(one_event("bearer"), key_header="Authorization"), 1)

    def test_second_env_key(self):
        self.assertIngested(self.hub.ingest(one_event("second"), key="second-key-abcdef-0123"), 1)

    def test_jwt_is_not_an_ingest_key(self):
        status, _, body = self.hub.ingest(one_event("jwtingest"), key=self.hub.login(),
                                          key_header="Authorization")
        self.assertEqual(status, 401, body)

    def test_bad_key_wins_over_bad_body(self):
        # authentication is checked before the body is parsed
        status, _, body = self.hub.ingest(b"{not json", key="wrong")
        self.assertEqual(status, 401, body)


class Login(HubCase):
    @classmethod
    def setUpClass(cls):
        cls.hub = cls.class_hub()

    def test_first_run_printed_a_password(self):
        self.assertRegex(self.hub.admin_password or "", r"^\S{8,}$")

    def test_login_returns_a_bearer_token(self):
        status, _, body = self.hub.request("POST", "/auth/login",
                                           {"password": self.hub.admin_password})
        self.assertEqual(status, 200, body)
        self.assertEqual(body["token_type"], "bearer")
        self.assertIsInstance(body["expires_in"], int)
        self.assertGreater(body["expires_in"], 0)
        header, claims, signing_input, sig = decode_jwt(body["access_token"])
        self.assertEqual(header["alg"], "HS256")
        want = hmac.new(JWT_SECRET.encode(), signing_input, hashlib.sha256).digest()
        self.assertEqual(sig, want, "token not HS256-signed with SIEM_JWT_SECRET's bytes")
        self.assertEqual(claims["sub"], "admin")
        self.assertEqual(claims["role"], "admin")
        now = time.time()
        self.assertLessEqual(abs(claims["iat"] - now), 120)
        self.assertLessEqual(abs(claims["exp"] - claims["iat"] - body["expires_in"]), 5)

    def test_login_with_username(self):
        self.assertTrue(self.hub.login(username="admin"))

    def test_login_wrong_password_is_401(self):
        for body in ({"password": "wrong"}, {"password": self.hub.admin_password + "x"},
                     {"password": self.hub.admin_password[:-1]},
                     {"username": "admin", "password": "nope"}):
            with self.subTest(body=body):
                status, _, ans = self.hub.request("POST", "/auth/login", body)
                self.assertEqual(status, 401, ans)
                self.assertIn("error", ans)
                self.assertNotIn("access_token", ans)

    def test_login_unknown_user_is_401(self):
        status, _, ans = self.hub.request("POST", "/auth/login",
                                          {"username": "mallory", "password": self.hub.admin_password})
        self.assertEqual(status, 401, ans)

    def test_login_malformed_body(self):
        # not a JSON object: 400; an object without a password string: 422
        for raw, want in ((b"", 400), (b"{", 400), (b"[]", 400), (b'{"password": 5}', 422),
                          (b'{"password": ""}', 422), (b"{}", 422)):
            with self.subTest(body=raw):
                status, _, ans = self.hub.request("POST", "/auth/login", raw,
                                                  {"Content-Type": "application/json"})
                self.assertEqual(status, want, ans)
                self.assertEqual(ans["error"], "malformed JSON" if want == 400 else
                                 "invalid login", ans)

    def test_me(self):
        status, _, me = self.hub.get("/auth/me")
        self.assertEqual(status, 200, me)
        self.assertEqual(me["user"], "admin")
        self.assertEqual(me["role"], "admin")

    def test_logout(self):
        token = self.hub.login()
        status, _, body = self.hub.request("POST", "/auth/logout",
                                           headers={"Authorization": "Bearer " + token})
        self.assertEqual(status, 200, body)

    def test_login_token_works_on_every_data_endpoint(self):
        for path in DATA_ENDPOINTS:
            with self.subTest(path=path):
                status, _, body = self.hub.get(path)
                # the one event id asked for was never stored
                self.assertEqual(status, 404 if path.startswith("/events/") else 200, body)

    def assert_refused(self, token, what):
        for path in DATA_ENDPOINTS:
            with self.subTest(path=path, token=what):
                headers = {} if token is None else {"Authorization": "Bearer " + token}
                status, _, body = self.hub.request("GET", path, headers=headers)
                self.assertEqual(status, 401, "%s on %s: %r" % (what, path, body))
                self.assertIn("error", body)

    def claims(self, **kw):
        now = int(time.time())
        c = {"sub": "admin", "role": "admin", "iat": now, "exp": now + 3600,
             "gen": self.hub.token_gen("admin")}
        c.update(kw)
        return c

    def test_no_token_is_401(self):
        self.assert_refused(None, "no token")

    def test_garbage_token_is_401(self):
        self.assert_refused("garbage", "garbage")
        self.assert_refused("a.b.c", "a.b.c")
        self.assert_refused("", "empty")

    def test_forged_signature_is_401(self):
        self.assert_refused(make_jwt(self.claims(), secret="not-the-secret"), "other secret")
        real = self.hub.login()
        h, p, s = real.split(".")
        flipped = s[:-2] + ("A" if s[-2] != "A" else "B") + s[-1]
        self.assert_refused(h + "." + p + "." + flipped, "flipped signature")
        self.assert_refused(h + "." + p + ".", "no signature")

    def test_tampered_claims_are_401(self):
        real = self.hub.login()
        h, _, s = real.split(".")
        p = b64url(json.dumps(self.claims(sub="mallory")).encode())
        self.assert_refused(h + "." + p + "." + s, "tampered payload")

    def test_alg_none_is_401(self):
        tok = make_jwt(self.claims(), header={"alg": "none", "typ": "JWT"}, sign=False)
        self.assert_refused(tok, "alg none")
        tok = make_jwt(self.claims(), header={"alg": "None", "typ": "JWT"}, sign=False)
        self.assert_refused(tok, "alg None")

    def test_other_alg_is_401(self):
        # HS512 signed with the right secret: only HS256 is accepted
        h = b64url(json.dumps({"alg": "HS512", "typ": "JWT"}).encode())
        p = b64url(json.dumps(self.claims()).encode())
        sig = b64url(hmac.new(JWT_SECRET.encode(), (h + "." + p).encode(), hashlib.sha512).digest())
        self.assert_refused(h + "." + p + "." + sig, "HS512")

    def test_expired_token_is_401(self):
        past = int(time.time()) - 7200
        self.assert_refused(make_jwt(self.claims(iat=past - 3600, exp=past)), "expired")

    def test_token_without_exp_is_401(self):
        c = self.claims()
        del c["exp"]
        self.assert_refused(make_jwt(c), "no exp")

    def test_correctly_signed_token_is_accepted(self):
        # the control for the forgery tests: the secret is SIEM_JWT_SECRET's raw bytes
        tok = make_jwt(self.claims())
        status, _, me = self.hub.get("/auth/me", token=tok)
        self.assertEqual(status, 200, me)
        self.assertEqual(me, {"user": "admin", "role": "admin"})

    def test_api_key_as_bearer_is_401(self):
        self.assert_refused(API_KEY, "API key")

    def test_basic_auth_is_401(self):
        status, _, body = self.hub.request("GET", "/events",
                                           headers={"Authorization": "Basic YWRtaW46eA=="})
        self.assertEqual(status, 401, body)

    def test_open_endpoints_need_no_auth(self):
        status, _, body = self.hub.request("GET", "/health")
        self.assertEqual(status, 200, body)
        self.assertEqual(body["status"], "ok")
        status, _, body = self.hub.request("GET", "/ready")
        self.assertEqual(status, 200, body)
        self.assertIs(body["ready"], True)

    def test_responses_are_json(self):
        for method, path, headers in (("GET", "/health", {}), ("GET", "/events", {}),
                                      ("POST", "/ingest", {})):
            with self.subTest(path=path):
                status, h, body = self.hub.request(method, path, b"" if method == "POST" else None,
                                                   headers)
                self.assertTrue((h.get("Content-Type") or "").startswith("application/json"),
                                "%s %s: Content-Type %r" % (method, path, h.get("Content-Type")))
                self.assertIsInstance(body, dict)


class AdminPasswordHash(HubCase):
    def test_hash_password_env_is_used_and_nothing_is_printed(self):
        r = cli("hash-password", stdin="correct horse battery\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        hashed = r.stdout.strip().splitlines()[-1]
        self.assertTrue(hashed.startswith("$argon2id$"), hashed)
        self.assertNotIn("correct horse", r.stdout)
        hub = self.own_hub(env={"SIEM_ADMIN_PASSWORD_HASH": hashed})
        self.assertIsNone(hub.printed_password, "a first-run password was printed")
        self.assertTrue(hub.login("correct horse battery"))
        status, _, body = hub.request("POST", "/auth/login", {"password": "correct horse"})
        self.assertEqual(status, 401, body)

    def test_hash_password_hashes_differ_by_salt(self):
        a = cli("hash-password", stdin="same\n").stdout.strip()
        b = cli("hash-password", stdin="same\n").stdout.strip()
        self.assertNotEqual(a, b)

    def test_first_run_password_printed_once_and_kept(self):
        hub = self.own_hub()
        pw = hub.printed_password
        self.assertTrue(pw)
        hub.restart()
        self.assertIsNone(hub.printed_password, "password printed again on the second run")
        self.assertTrue(hub.login(pw))


class KeysCli(HubCase):
    def keys(self, *args, hub):
        return cli("keys", *args, *hub.store_args())

    def test_created_key_works_and_revoked_key_is_refused(self):
        hub = self.own_hub(start=False)
        r = self.keys("create", "agent-one", hub=hub)
        self.assertEqual(r.returncode, 0, r.stderr)
        key = r.stdout.strip().splitlines()[-1].strip()
        self.assertGreaterEqual(len(key), 20, r.stdout)
        self.assertNotIn(" ", key)
        r = self.keys("list", hub=hub)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("agent-one", r.stdout)
        self.assertNotIn(key, r.stdout, "keys list shows the key itself (must be stored hashed)")
        key_id = self.find_id(r.stdout, "agent-one")
        hub.start()
        self.assertIngested(hub.ingest(one_event("created"), key=key), 1)
        self.assertIngested(hub.ingest(one_event("created-env")), 1)  # env keys still work
        hub.stop()
        r = self.keys("revoke", key_id, hub=hub)
        self.assertEqual(r.returncode, 0, r.stderr)
        hub.start()
        status, _, body = hub.ingest(one_event("revoked"), key=key)
        self.assertEqual(status, 401, body)
        self.assertIngested(hub.ingest(one_event("after-revoke-env")), 1)

    def find_id(self, listing, name):
        for line in listing.splitlines():
            if name not in line:
                continue
            try:
                obj = json.loads(line)
                return str(obj["id"])
            except ValueError:
                m = re.search(r"\b(\d+)\b", line)
                if m:
                    return m.group(1)
        self.fail("no id for %s in keys list output:\n%s" % (name, listing))

    def test_two_keys_are_different(self):
        hub = self.own_hub(start=False)
        a = self.keys("create", "a", hub=hub).stdout.strip().splitlines()[-1]
        b = self.keys("create", "b", hub=hub).stdout.strip().splitlines()[-1]
        self.assertNotEqual(a, b)


def table(stdout):
    """`keys list` / `users list` as people see it: rows of cells (columns two or more spaces
    apart; a cell may hold one space) and where each cell starts."""
    rows = []
    for line in stdout.splitlines():
        cells = list(re.finditer(r"\S+(?: \S+)*", line))
        rows.append(([m.group(0) for m in cells], [m.start() for m in cells]))
    return rows


class UsersCli(HubCase):
    """A lost admin password reset with `users passwd admin`, the password minimum, and what
    `users list` and `keys list` print."""
    NEW = "a-new-admin-password-1"

    def users(self, h, *args, stdin=None, env=None):
        return cli("users", *args, *h.store_args(), stdin=stdin, env=env)

    def me(self, h, token):
        return h.request("GET", "/auth/me", headers={"Authorization": "Bearer " + token})[0]

    def login_status(self, h, password, username=None):
        body = {"password": password}
        if username:
            body["username"] = username
        return h.request("POST", "/auth/login", body)[0]

    def test_passwd_admin_on_a_running_hub(self):
        h = self.own_hub()
        old = h.admin_password
        tokens = [h.login(old), h.login(old, username="admin")]
        for t in tokens:
            self.assertEqual(self.me(h, t), 200)
        r = self.users(h, "passwd", "admin", stdin=self.NEW + "\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("built-in admin", r.stdout)
        self.assertNotIn(self.NEW, r.stdout + r.stderr)
        t0 = time.monotonic()
        for t in tokens:  # docs/operations.md: within a second
            wait_for(lambda: self.me(h, t) == 401, 10, "the old admin token refused")
        took = time.monotonic() - t0
        self.assertLess(took, 3.0, "old admin token accepted %.1f s after passwd admin" % took)
        self.assertEqual(self.login_status(h, old), 401, "the old password still logs in")
        fresh = h.login(self.NEW)
        self.assertEqual(self.me(h, fresh), 200)
        self.assertEqual(self.me(h, h.login(self.NEW, username="admin")), 200)
        h.admin_password = self.NEW
        h.restart()
        self.assertIsNone(h.printed_password, "a first-run password printed after passwd admin")
        self.assertEqual(self.me(h, fresh), 200)
        for t in tokens:
            self.assertEqual(self.me(h, t), 401)
        self.assertEqual(self.login_status(h, old), 401)
        self.assertTrue(h.login(self.NEW))
        audit = h.request("GET", "/audit", headers={"Authorization": "Bearer " + fresh})[2]
        self.assertTrue(any(a["action"] == "user.passwd" and a["object"] == "admin"
                            for a in audit["audit"]), audit)

    def test_passwd_admin_is_refused_while_the_hash_is_in_the_environment(self):
        hashed = cli("hash-password", stdin="environment-password-1\n").stdout.strip()
        h = self.own_hub(start=False)
        r = self.users(h, "passwd", "admin", stdin=self.NEW + "\n",
                       env={"SIEM_ADMIN_PASSWORD_HASH": hashed})
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("SIEM_ADMIN_PASSWORD_HASH", r.stderr)
        self.assertIn("wins", r.stderr)
        h.start()  # nothing was stored: the first run makes a password
        self.assertTrue(h.printed_password)
        self.assertEqual(self.login_status(h, self.NEW), 401)
        self.assertTrue(h.login())
        # a hub started with the variable keeps it, whatever the store says
        h.stop()
        h.env["SIEM_ADMIN_PASSWORD_HASH"] = hashed
        h.start()
        tok = h.login("environment-password-1")
        r = self.users(h, "passwd", "admin", stdin=self.NEW + "\n")  # this shell lacks it
        self.assertEqual(r.returncode, 0, r.stderr)
        time.sleep(1.5)
        self.assertEqual(self.me(h, tok), 200)
        self.assertEqual(self.login_status(h, self.NEW), 401)
        self.assertTrue(h.login("environment-password-1"))

    def test_short_passwords_are_refused_with_the_minimum(self):
        h = self.own_hub()
        old = h.admin_password
        for args in (["passwd", "admin"], ["add", "shorty", "--role", "analyst"]):
            with self.subTest(args=args):
                r = self.users(h, *args, stdin="elevenchars\n")
                self.assertEqual(r.returncode, 1, r.stderr)
                self.assertIn("at least 12 characters", r.stderr)
                self.assertNotIn("elevenchars", r.stdout + r.stderr)
        self.assertNotIn("shorty", self.users(h, "list").stdout)
        self.assertTrue(h.login(old))  # the admin's password is unchanged
        r = self.users(h, "passwd", "admin", stdin="twelve-chars\n")  # exactly the minimum
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(h.login("twelve-chars"))
        h.admin_password = "twelve-chars"

    def test_users_list_table_and_json(self):
        h = self.own_hub(start=False)
        for name, role in (("alice", "analyst"), ("Zed Admin", "admin")):
            r = self.users(h, "add", name, "--role", role, stdin="pw-of-someone-0123\n")
            self.assertEqual(r.returncode, 0, r.stderr)
        r = self.users(h, "list")
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = table(r.stdout)
        self.assertEqual(rows[0][0], ["NAME", "ROLE", "CREATED"], r.stdout)
        self.assertEqual(rows[1][0], ["admin", "admin", "built-in"], r.stdout)
        self.assertEqual(sorted(row[0][:2] for row in rows[2:]),
                         [["Zed Admin", "admin"], ["alice", "analyst"]], r.stdout)
        for cells, starts in rows:
            self.assertEqual(starts, rows[0][1], "columns not aligned:\n" + r.stdout)
            if cells[0] not in ("NAME", "admin"):
                self.assertRegex(cells[2], r"^\d{4}-\d\d-\d\dT")
        r = self.users(h, "list", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        users = json.loads(r.stdout)
        self.assertEqual(users[0], {"name": "admin", "role": "admin", "created_at": None,
                                    "builtin": True})
        for u in users:
            self.assertEqual(set(u), {"name", "role", "created_at", "builtin"})
        self.assertEqual({u["name"]: (u["role"], u["builtin"]) for u in users[1:]},
                         {"alice": ("analyst", False), "Zed Admin": ("admin", False)})
        r = self.users(h, "remove", "admin")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("built-in admin", r.stderr)
        r = self.users(h, "passwd", "alice", "--json", stdin="pw-of-someone-0123\n")
        self.assertEqual(r.returncode, 2, r.stderr)

    def test_keys_list_table_and_json(self):
        h = self.own_hub(start=False)
        made = {}
        for name in ("web one", "pihole"):
            r = cli("keys", "create", name, *h.store_args())
            self.assertEqual(r.returncode, 0, r.stderr)
            made[name] = r.stdout.strip().splitlines()[-1]
        r = cli("keys", "list", "--json", *h.store_args())
        self.assertEqual(r.returncode, 0, r.stderr)
        keys = json.loads(r.stdout)
        self.assertEqual([k["name"] for k in keys], ["web one", "pihole"])
        for k in keys:
            self.assertEqual(set(k), {"id", "name", "created_at", "last_seen", "revoked",
                                      "events", "last_event"})
            self.assertIsInstance(k["id"], int)
            self.assertIsNone(k["last_seen"])
            self.assertEqual((k["events"], k["last_event"]), (0, None))
            self.assertIs(k["revoked"], False)
        self.assertEqual(cli("keys", "revoke", keys[0]["id"], *h.store_args()).returncode, 0)
        r = cli("keys", "list", *h.store_args())
        self.assertEqual(r.returncode, 0, r.stderr)
        for key in made.values():
            self.assertNotIn(key, r.stdout)
        rows = table(r.stdout)
        self.assertEqual(rows[0][0], ["ID", "NAME", "CREATED", "LAST SEEN", "EVENTS", "STATUS"],
                         r.stdout)
        self.assertEqual([(c[0], c[1], c[3], c[4], c[5]) for c, _ in rows[1:]],
                         [(str(keys[0]["id"]), "web one", "-", "0", "revoked"),
                          (str(keys[1]["id"]), "pihole", "-", "0", "active")], r.stdout)
        for _, starts in rows:
            self.assertEqual(starts, rows[0][1], "columns not aligned:\n" + r.stdout)
        self.assertTrue(json.loads(cli("keys", "list", "--json", *h.store_args()).stdout)[0]
                        ["revoked"])
        r = cli("keys", "create", "x", "--json", *h.store_args())
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("--json", r.stderr)


class CliExitCodes(HubCase):
    def run_cli(self, *args, timeout=30):
        try:
            return cli(*args, timeout=timeout)
        except subprocess.TimeoutExpired:
            self.fail("minisiem %s did not exit within %d s" % (" ".join(args), timeout))

    def test_usage_errors_exit_2(self):
        store = self.own_hub(start=False).store_args()
        for args in (["serve", "--no-such-flag"], ["frobnicate"], ["keys"], ["keys", "create"],
                     ["keys", "revoke"], ["keys", "frob", *store], ["serve", "--listen"],
                     ["serve", "--max-body"], []):
            with self.subTest(args=args):
                r = self.run_cli(*args)
                self.assertEqual(r.returncode, 2, "minisiem %s: stderr %r" % (" ".join(args), r.stderr))
                self.assertTrue((r.stderr + r.stdout).strip(), "a usage error says why")

    def test_unusable_db_path_exits_1(self):
        hub = self.own_hub(start=False)
        blocker = os.path.join(hub.tmpdir, "file")
        with open(blocker, "w") as f:
            f.write("not a directory")
        if hub.backend == "postgres":  # a server that is not there
            store = ["--postgres", "postgresql://postgres@127.0.0.1:%d/none" % free_port()]
        else:
            store = ["--db", os.path.join(blocker, "sub", "store.db")]
        p = subprocess.Popen([H.BIN, "serve", "--listen", "127.0.0.1:0"] + store,
                             env=H.base_env(hub.env),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            out, err = p.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            self.fail("serve with an unusable --db kept running")
        self.assertEqual(p.returncode, 1, err)
        self.assertNotIn("listening on", out)


class JwtSecretSetting(HubCase):
    def check_secret(self, secret):
        # A weak SIEM_JWT_SECRET may be refused at start-up (exit 1 or 2, with a reason), but
        # a hub that starts must then be able to log people in: never a 500 on every login.
        h = self.own_hub(start=False, env={"SIEM_JWT_SECRET": secret})
        try:
            h.start()
        except AssertionError as e:
            self.assertIn(h.returncode, (1, 2), str(e))
            self.assertIn("SIEM_JWT_SECRET", h.stderr() + H.read_text(h.stdout_path))
            return
        status, _, body = h.request("POST", "/auth/login", {"password": h.admin_password})
        self.assertEqual(status, 200, "hub started with a %d-byte SIEM_JWT_SECRET but login "
                         "answers %r" % (len(secret), body))
        status, _, body = h.get("/auth/me", token=body["access_token"])
        self.assertEqual(status, 200, body)

    def test_12_byte_jwt_secret_refused_at_start_or_works(self):
        self.check_secret("short-secret")

    def test_24_byte_jwt_secret_refused_at_start_or_works(self):
        self.check_secret("twenty-four-byte-secret!")

    def test_32_byte_jwt_secret_works(self):
        h = self.own_hub(env={"SIEM_JWT_SECRET": "x" * 32})
        status, _, body = h.request("POST", "/auth/login", {"password": h.admin_password})
        self.assertEqual(status, 200, body)
