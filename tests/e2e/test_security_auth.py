"""test_security_auth.py — brute-force limits on logins and API keys (docs/operations.md,
"Login and API-key rate limits"): places reserved before the password is checked, backoff per
user name, X-Forwarded-For from trusted proxies only, IPv6 /64 buckets, the cap on password
checks running at once, the minimum password length and the minimum SIEM_API_KEYS key length."""

import http.client
import json
import threading
import time
import unittest

import hub as H
from helpers import can_bind, metric
from hub import API_KEY, HubCase, cli, event_uuid, wait_for

PROXY = "127.0.0.2"  # a second loopback address: the "reverse proxy" of these tests


HAVE_PROXY_ADDR = can_bind(PROXY)


def connect(hub, source=None):
    conn = http.client.HTTPConnection("127.0.0.1", hub.port, timeout=60,
                                      source_address=(source, 0) if source else None)
    conn.connect()
    return conn


def send(conn, method, path, body=None, headers=()):
    """One request on an open connection, headers as (name, value) pairs (repeatable)."""
    data = json.dumps(body).encode() if body is not None else b""
    conn.putrequest(method, path, skip_accept_encoding=True)
    for k, v in headers:
        conn.putheader(k, v)
    if body is not None:
        conn.putheader("Content-Type", "application/json")
    conn.putheader("Content-Length", str(len(data)))
    conn.endheaders(data)
    r = conn.getresponse()
    return r.status, r.headers, H.parse_body(r.read())


def call(hub, method, path, body=None, headers=(), source=None):
    conn = connect(hub, source)
    try:
        return send(conn, method, path, body, headers)
    finally:
        conn.close()


def forwarded(xff):
    if xff is None:
        return []
    return [("X-Forwarded-For", v) for v in ([xff] if isinstance(xff, str) else xff)]


def login(hub, user, pw, source=None, xff=None):
    return call(hub, "POST", "/auth/login", {"username": user, "password": pw},
                forwarded(xff), source)


def parallel(n, fn, source=None, hub=None):
    """fn(conn, i) on n connections opened first, then released together."""
    conns = [connect(hub, source) for _ in range(n)]
    barrier = threading.Barrier(n)
    out = [None] * n

    def run(i):
        try:
            barrier.wait(30)
            out[i] = fn(conns[i], i)
        except Exception as e:  # reported by the caller
            out[i] = e
        finally:
            conns[i].close()

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    for r in out:
        if isinstance(r, Exception) or r is None:
            raise AssertionError("a parallel request failed: %r" % (r,))
    return out


def retry_after(headers):
    ra = headers.get("Retry-After")
    assert ra and ra.isdigit(), "Retry-After %r" % ra
    return int(ra)


def login_fail_sources(hub, users):
    """user -> source_ip of its LOGIN_FAIL events, once every user has one."""
    def ready():
        evs = hub.all_events({"app": "minisiem", "event_type": "LOGIN_FAIL"})
        got = {}
        for e in evs:
            if e.get("user") in users:
                got.setdefault(e["user"], set()).add(e.get("source_ip"))
        return got if set(got) >= set(users) else None
    return wait_for(ready, 15, "LOGIN_FAIL events of %s" % sorted(users))


class ParallelLogins(HubCase):
    def test_twelve_parallel_wrong_passwords_give_at_most_five_401s(self):
        # Enough HTTP threads and password checks for the twelve to really run at once; a
        # name each, so that only the address limit applies.
        h = self.own_hub(args=["--http-threads", "8", "--max-password-checks", "16"])
        res = parallel(12, lambda c, i: send(c, "POST", "/auth/login",
                                             {"username": "guess-%d" % i, "password": "wrong"}),
                       hub=h)
        statuses = [r[0] for r in res]
        n401, n429 = statuses.count(401), statuses.count(429)
        self.assertEqual(n401 + n429, 12, statuses)
        self.assertGreaterEqual(n401, 1, statuses)
        self.assertLessEqual(n401, 5, "more wrong passwords checked than the limit: %s" % statuses)
        for st, headers, body in res:
            if st == 429:
                self.assertGreaterEqual(retry_after(headers), 1)
                self.assertIn("error", body)
        self.assertEqual(metric(h, "minisiem_login_failures_total"), n401)
        self.assertEqual(metric(h, "minisiem_login_rate_limited_total"), n429)
        # and the address stays limited, the right password included
        st, headers, body = login(h, "admin", h.admin_password)
        if n401 == 5:
            self.assertEqual(st, 429, body)
            self.assertGreaterEqual(retry_after(headers), 30)


class PasswordCheckCap(HubCase):
    def test_password_checks_beyond_the_cap_get_503(self):
        # Overlap is up to the scheduler (which thread accepts which connection): try rounds
        # of 8 until two checks meet, at most 20 rounds.
        h = self.own_hub(args=["--http-threads", "8", "--max-password-checks", "1"])
        seen = []
        for _ in range(20):
            res = parallel(8, lambda c, i: send(c, "POST", "/auth/login",
                                                {"password": h.admin_password}), hub=h)
            seen += res
            if any(r[0] == 503 for r in res):
                break
        statuses = [r[0] for r in seen]
        self.assertTrue(set(statuses) <= {200, 503}, statuses)
        self.assertIn(503, statuses, "8 logins at once with --max-password-checks 1")
        self.assertIn(200, statuses)
        for st, headers, body in seen:
            if st == 503:
                self.assertEqual(headers.get("Retry-After"), "1")
                self.assertIn("error", body)
                self.assertNotIn("access_token", body)
        self.assertEqual(metric(h, "minisiem_login_busy_total"), statuses.count(503))
        # a refused check is no failure: the address is not limited afterwards
        self.assertEqual(metric(h, "minisiem_login_failures_total"), 0)
        self.assertTrue(h.login())


class ProxySetting(HubCase):
    def test_invalid_trusted_proxies_are_a_usage_error(self):
        h = self.own_hub(start=False)
        for bad in ("10.0.0.0/33", "proxy.lan", "10.0.0.1,,nonsense", "10.0.0.1:80"):
            with self.subTest(value=bad):
                r = cli("serve", "--listen", "127.0.0.1:0", *h.store_args(), "--trusted-proxies",
                        bad)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn("--trusted-proxies", r.stderr)
                self.assertNotIn("listening", r.stdout)
                self.assertNotIn("admin password", r.stdout)


@unittest.skipUnless(HAVE_PROXY_ADDR, "this machine cannot bind the second loopback address %s" % PROXY)
class TrustedProxies(HubCase):
    def proxy_hub(self, proxies="127.0.0.2/32", **kw):
        return self.own_hub(args=["--trusted-proxies", proxies] + kw.pop("args", []), **kw)

    def test_forwarded_clients_are_limited_separately(self):
        h = self.proxy_hub()
        for i in range(5):
            st, _, body = login(h, "sep-a-%d" % i, "wrong", PROXY, "203.0.113.10")
            self.assertEqual(st, 401, body)
        st, headers, body = login(h, "sep-a-5", "wrong", PROXY, "203.0.113.10")
        self.assertEqual(st, 429, body)
        retry_after(headers)
        # another client behind the same proxy
        st, _, body = login(h, "sep-b", "wrong", PROXY, "203.0.113.11")
        self.assertEqual(st, 401, body)
        st, _, body = login(h, "admin", h.admin_password, PROXY, "203.0.113.11")
        self.assertEqual(st, 200, body)
        # the proxy's own address is not limited either
        st, _, body = login(h, "admin", h.admin_password, PROXY)
        self.assertEqual(st, 200, body)
        got = login_fail_sources(h, ["sep-a-0", "sep-a-4", "sep-b"])
        self.assertEqual(got["sep-a-0"], {"203.0.113.10"})
        self.assertEqual(got["sep-a-4"], {"203.0.113.10"})
        self.assertEqual(got["sep-b"], {"203.0.113.11"})

    def test_forwarded_for_from_an_untrusted_peer_is_ignored(self):
        h = self.proxy_hub()
        for i in range(5):  # 127.0.0.1 is not a trusted proxy: its header is a lie
            st, _, body = login(h, "spoof-%d" % i, "wrong", None, "198.51.100.%d" % (i + 1))
            self.assertEqual(st, 401, body)
        st, _, body = login(h, "spoof-5", "wrong", None, "198.51.100.99")
        self.assertEqual(st, 429, "a fresh X-Forwarded-For escaped the limit: %r" % (body,))
        got = login_fail_sources(h, ["spoof-0", "spoof-4"])
        self.assertEqual(got["spoof-0"], {"127.0.0.1"})
        self.assertEqual(got["spoof-4"], {"127.0.0.1"})
        st, _, body = login(h, "admin", h.admin_password, PROXY, "198.51.100.1")
        self.assertEqual(st, 200, body)

    def test_client_is_the_rightmost_hop_that_is_not_a_trusted_proxy(self):
        h = self.proxy_hub("127.0.0.2/32, 10.0.0.0/8")
        cases = [
            ("6.6.6.6, 203.0.113.50", "203.0.113.50"),    # what the client wrote is left
            ("203.0.113.60, 10.1.2.3", "203.0.113.60"),   # 10.1.2.3: a proxy in the chain
            ("203.0.113.70,garbage, 10.1.2.4", "10.1.2.4"),  # malformed: stop at the last proxy
            ("garbage", PROXY),
            ("203.0.113.80:4711", PROXY),                 # a port is not an address
            (["203.0.113.90", "10.0.0.5"], "203.0.113.90"),  # two header lines, in order
            (["6.6.6.7", "203.0.113.91"], "203.0.113.91"),
            ("2001:db8::7", "2001:db8::7"),
            ("::ffff:192.0.2.33", "192.0.2.33"),          # IPv4-mapped is shown as IPv4
        ]
        users = []
        for i, (xff, _) in enumerate(cases):
            user = "hop-%d" % i
            users.append(user)
            st, _, body = login(h, user, "wrong", PROXY, xff)
            self.assertEqual(st, 401, "%r: %r" % (xff, body))
        got = login_fail_sources(h, users)
        for (xff, want), user in zip(cases, users):
            with self.subTest(xff=xff):
                self.assertEqual(got[user], {want})

    def test_ipv6_clients_share_their_64(self):
        h = self.proxy_hub()
        for i in range(5):
            st, _, body = login(h, "v6-%d" % i, "wrong", PROXY, "2001:db8:aa:bb::%x" % (i + 1))
            self.assertEqual(st, 401, body)
        st, _, body = login(h, "v6-5", "wrong", PROXY, "2001:db8:aa:bb:ffff:1:2:3")
        self.assertEqual(st, 429, "another address of the same /64: %r" % (body,))
        st, _, body = login(h, "v6-6", "wrong", PROXY, "2001:db8:aa:cc::1")
        self.assertEqual(st, 401, "another /64: %r" % (body,))
        # IPv4-mapped IPv6 is the IPv4 address's bucket
        for i in range(5):
            xff = "::ffff:198.51.100.7" if i % 2 else "198.51.100.7"
            st, _, body = login(h, "v4m-%d" % i, "wrong", PROXY, xff)
            self.assertEqual(st, 401, body)
        st, _, body = login(h, "v4m-5", "wrong", PROXY, "::ffff:198.51.100.7")
        self.assertEqual(st, 429, body)
        got = login_fail_sources(h, ["v6-0", "v6-6", "v4m-1"])
        self.assertEqual(got["v6-0"], {"2001:db8:aa:bb::1"})  # events keep the full address
        self.assertEqual(got["v6-6"], {"2001:db8:aa:cc::1"})
        self.assertEqual(got["v4m-1"], {"198.51.100.7"})

    def test_user_name_backoff_across_addresses(self):
        h = self.proxy_hub(start=False)
        for name in ("victim", "bystander"):
            r = cli("users", "add", name, "--role", "analyst", *h.store_args(),
                    stdin="pw-of-%s-0123456789\n" % name)
            self.assertEqual(r.returncode, 0, r.stderr)
        h.start()
        for i in range(5):  # one guess from each of five addresses: no address is limited
            st, _, body = login(h, "victim", "guess-%d" % i, PROXY, "203.0.113.%d" % (i + 1))
            self.assertEqual(st, 401, body)
        st, headers, body = login(h, "victim", "pw-of-victim-0123456789", PROXY, "203.0.113.6")
        self.assertEqual(st, 429, "the right password during the name's backoff: %r" % (body,))
        self.assertNotIn("access_token", body)
        wait = retry_after(headers)
        self.assertTrue(1 <= wait <= 60, wait)
        # another account, from a fresh address, is not affected
        st, _, body = login(h, "bystander", "pw-of-bystander-0123456789", PROXY, "203.0.113.7")
        self.assertEqual(st, 200, body)
        # the backoff ends, and a success forgets the failures
        time.sleep(wait + 0.3)
        st, _, body = login(h, "victim", "pw-of-victim-0123456789", PROXY, "203.0.113.8")
        self.assertEqual(st, 200, body)
        st, _, body = login(h, "victim", "wrong-again", PROXY, "203.0.113.9")
        self.assertEqual(st, 401, body)


class PasswordMinimum(HubCase):
    def users(self, h, *args, stdin=None):
        return cli("users", *args, *h.store_args(), stdin=stdin)

    def test_short_passwords_are_refused(self):
        h = self.own_hub(start=False)
        for pw in ("8chars!!", "eleven-char", "ääääääääääa"):  # the last: 11 characters, 22 bytes
            with self.subTest(pw=pw):
                r = self.users(h, "add", "shorty", "--role", "analyst", stdin=pw + "\n")
                self.assertEqual(r.returncode, 1, r.stderr)
                self.assertIn("at least 12 characters", r.stderr)
                self.assertNotIn(pw, r.stderr + r.stdout)
        r = self.users(h, "list")
        self.assertNotIn("shorty", r.stdout)
        r = self.users(h, "add", "longer", "--role", "analyst", stdin="ääääääääääää\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.users(h, "passwd", "longer", stdin="short\n")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("at least 12 characters", r.stderr)
        h.start()  # the password is unchanged
        self.assertTrue(h.login("ääääääääääää", username="longer"))


class ApiKeys(HubCase):
    def test_short_env_key_refused_at_start(self):
        h = self.own_hub(start=False, env={"SIEM_API_KEYS": "good:%s,tiny:k3yZ-19-characters" % API_KEY})
        with self.assertRaises(AssertionError):
            h.start()
        self.assertNotEqual(h.returncode, 0)
        err = h.stderr() + H.read_text(h.stdout_path)
        self.assertIn("SIEM_API_KEYS", err)
        self.assertIn("entry 2", err)
        self.assertIn("'tiny'", err)
        self.assertIn("20 characters", err)
        self.assertNotIn("k3yZ", err, "the key itself is printed")
        self.assertIsNone(h.printed_password, "a failed start printed the first-run password")
        # 20 characters are enough
        h2 = self.own_hub(env={"SIEM_API_KEYS": "edge:" + "k" * 20})
        self.assertIngested(h2.ingest({"event_type": "t", "app": "keys"}, key="k" * 20), 1)

    def ingest_from(self, h, key, source=None, tag="x"):
        return call(h, "POST", "/ingest", {"event_id": event_uuid("seckeys", tag), "app": "seckeys",
                                           "event_type": "t"}, [("X-API-Key", key)], source)

    def test_repeated_bad_keys_are_limited_per_address(self):
        h = self.own_hub()
        for i in range(20):
            st, _, body = self.ingest_from(h, "wrong-key-%02d-abcdefghijkl" % i, tag="bad%d" % i)
            self.assertEqual(st, 401, "attempt %d: %r" % (i + 1, body))
        st, headers, body = self.ingest_from(h, "wrong-key-20-abcdefghijkl", tag="bad20")
        self.assertEqual(st, 429, body)
        self.assertIn("error", body)
        self.assertTrue(1 <= retry_after(headers) <= 60)
        # refused before the key is looked at: the right key from this address waits too
        st, _, body = self.ingest_from(h, API_KEY, tag="good-limited")
        self.assertEqual(st, 429, body)
        self.assertEqual(h.get_event(event_uuid("seckeys", "good-limited"))[0], 404)
        self.assertEqual(metric(h, "minisiem_apikey_failures_total"), 20)
        self.assertEqual(metric(h, "minisiem_apikey_rate_limited_total"), 2)
        if HAVE_PROXY_ADDR:  # a good key from another address is unaffected
            st, _, body = self.ingest_from(h, API_KEY, PROXY, tag="good-other")
            self.assertEqual(st, 200, body)
            self.assertEqual(body.get("accepted"), 1, body)
