"""hub.py — harness for the end-to-end tests: start the real `minisiem serve` on a loopback
port in a temporary directory, talk HTTP to it, stop it, and check it exited cleanly.

The store is the embedded one (SQLite, `--db` in the hub's temporary directory) unless
SIEM_TEST_PG holds the URL of a PostgreSQL server's admin database (run.py --backend
postgres sets it): then every Hub gets an empty database of its own there (`--postgres URL`;
`--db` still names where the hub's local files go, e.g. DB-jwt-secret). Tests that call the
CLI on a hub's store use hub.store_args(); tests that check the embedded store's own files
are marked @sqlite_only."""

import atexit
import base64
import collections
import gzip as gzip_mod
import hashlib
import hmac
import http.client
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.parse
import uuid

# Set by run.py (--bin); the environment variable lets a single test file run alone.
BIN = os.path.abspath(os.environ.get("MINISIEM_BIN", "build/rel/minisiem"))

# The store backend of this run: "postgres" when SIEM_TEST_PG names a server's admin
# database (postgresql://postgres@127.0.0.1:PORT/postgres), else "sqlite". SIEM_* variables
# never reach the processes the tests start (base_env).
PG_ADMIN_URL = os.environ.get("SIEM_TEST_PG") or None
BACKEND = "postgres" if PG_ADMIN_URL else "sqlite"
# On PostgreSQL retention deletes every event older than its horizon (SQLite never removes
# the active segment), and the tests' events carry fixed dates of 2024: a hub whose test
# chose no retention (--retention-days, SIEM_RETENTION_DAYS or a --config file) keeps all.
PG_DEFAULT_ARGS = ["--retention-days", "0"]

API_KEY_NAME = "test"
API_KEY = "testkey-0123456789abcdef"
JWT_SECRET = "e2e-jwt-secret-7d1f0c9a2b3e4f56-a8c1d2e3f4b5a6c7"  # 48 bytes

START_DEADLINE = 30.0  # seconds until the listening line must appear
STOP_DEADLINE = 30.0  # seconds until a SIGTERM'd hub must have exited
HTTP_TIMEOUT = 30.0  # per request
POLL = 0.02

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer")
LISTEN_RE = re.compile(r"minisiem: listening on http://127\.0\.0\.1:(\d+)/")
PASSWORD_RE = re.compile(r"minisiem: first run: admin password: (\S+)")

_lock = threading.Lock()
_aborted = False  # set by the runner's suite deadline: no new hub starts after it
_start_timeouts = 0  # hubs that never printed the listening line; after two, wait less
_live = {}  # pid -> Popen of every hub process still running
_all_hubs = []  # every Hub ever created (for cleanup at exit)
_touched = []  # hubs involved in the current test (the runner prints their stderr)


def wait_for(cond, deadline, what, interval=POLL):
    """Poll cond() until it returns a true value or deadline seconds pass."""
    end = time.monotonic() + deadline
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() >= end:
            raise AssertionError("timed out after %.0f s waiting for %s" % (deadline, what))
        time.sleep(interval)


def tail(text, lines=40):
    return "\n".join(text.splitlines()[-lines:])


def read_text(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def sanitizer_env(env):
    """ASAN_OPTIONS/UBSAN_OPTIONS from the caller's environment plus our requirements."""
    asan = env.get("ASAN_OPTIONS", "")
    ubsan = env.get("UBSAN_OPTIONS", "")
    env["ASAN_OPTIONS"] = ":".join(x for x in (asan, "detect_leaks=1:halt_on_error=1") if x)
    env["UBSAN_OPTIONS"] = ":".join(
        x for x in (ubsan, "halt_on_error=1:print_stacktrace=1") if x)
    return env


def base_env(overrides=None):
    """The process environment without any SIEM_* variable, then overrides (None unsets)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIEM_")}
    sanitizer_env(env)
    for k, v in (overrides or {}).items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    return env


_cli_cwd = None


def cli_cwd():
    """An empty working directory for CLI runs, so a default ./var never lands in the repo."""
    global _cli_cwd
    if _cli_cwd is None:
        _cli_cwd = tempfile.mkdtemp(prefix="minisiem-e2e-cwd-")
    return _cli_cwd


def as_stored(value):
    """A string as the store gives it back: PostgreSQL text cannot hold a NUL, so the
    PostgreSQL store keeps each NUL of a field as U+FFFD (docs/postgres.md); data keeps it,
    JSON-escaped."""
    if BACKEND == "postgres" and isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    return value


def sqlite_only(test):
    """For a test (or class) that checks the embedded store's own files (segment files, the
    sqlite3 module on the store, file modes and owners, `backup`): skipped on PostgreSQL."""
    return unittest.skipUnless(BACKEND == "sqlite", "checks the embedded store's files")(test)


_extra_dbs = []  # PostgreSQL databases made by fresh_store_args (dropped at exit)


def fresh_store_args(tmpdir):
    """Arguments naming a new, empty store for a `minisiem serve` that a test runs itself:
    ["--db", TMPDIR/store.db], on PostgreSQL with ["--postgres", URL of a new database]."""
    args = ["--db", os.path.join(tmpdir, "store.db")]
    if BACKEND == "sqlite":
        return args
    import pgserver
    url = pgserver.new_database(PG_ADMIN_URL)
    with _lock:
        _extra_dbs.append(url)
    return args + ["--postgres", url]


def cli(*args, stdin=None, env=None, timeout=60):
    """Run `minisiem ARGS` to completion; returns CompletedProcess with text output."""
    r = subprocess.run([BIN] + [str(a) for a in args], input=stdin, env=base_env(env),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=timeout, cwd=cli_cwd())
    check_sanitizers(r.stderr, "minisiem " + " ".join(str(a) for a in args))
    return r


def check_sanitizers(stderr_text, what):
    for m in SANITIZER_MARKERS:
        if m in stderr_text:
            raise AssertionError("%s: sanitizer report (%r) in stderr:\n%s"
                                 % (what, m, tail(stderr_text, 60)))


# ---- JWT helpers (HS256 by hand, so tests can forge tokens) ----

def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def make_jwt(claims, secret=JWT_SECRET, header=None, sign=True):
    header = header or {"alg": "HS256", "typ": "JWT"}
    h = b64url(json.dumps(header, separators=(",", ":")).encode())
    p = b64url(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = (h + "." + p).encode()
    sig = ""
    if sign:
        key = secret.encode() if isinstance(secret, str) else secret
        sig = b64url(hmac.new(key, signing_input, hashlib.sha256).digest())
    return h + "." + p + "." + sig


def decode_jwt(token):
    """(header, claims, signing_input, signature bytes) without verification."""
    h, p, s = token.split(".")
    return (json.loads(b64url_decode(h)), json.loads(b64url_decode(p)),
            (h + "." + p).encode(), b64url_decode(s))


def event_uuid(*parts):
    """A deterministic UUID for test event ids."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "minisiem-e2e:" + ":".join(str(p) for p in parts)))


def encode_body(events, ndjson=False):
    if isinstance(events, (bytes, bytearray)):
        return bytes(events)
    if ndjson:
        return b"".join(json.dumps(e).encode() + b"\n" for e in events)
    return json.dumps(events).encode()


class Hub:
    """One `minisiem serve` process at a time on its own store (a --db in tmpdir, or a
    PostgreSQL database of its own, kept across restarts); restartable."""

    def __init__(self, tmpdir=None, env=None, args=None, db=None, pg_admin_url=None):
        self.own_tmp = tmpdir is None
        self.tmpdir = tmpdir or tempfile.mkdtemp(prefix="minisiem-e2e-")
        # pg_admin_url: this hub on a PostgreSQL of the test's own (a pgserver.PgServer it may
        # stop and start), whatever the run's backend; never pause the run's shared server
        self.pg_admin_url = pg_admin_url or PG_ADMIN_URL
        self.backend = "postgres" if self.pg_admin_url else "sqlite"
        # the SQLite store file; on PostgreSQL where the hub's local files go (DB-jwt-secret)
        self.db = db or os.path.join(self.tmpdir, "store.db")
        self._pg_url = None  # made on first use (see pg_url)
        self.env = {"SIEM_API_KEYS": API_KEY_NAME + ":" + API_KEY, "SIEM_JWT_SECRET": JWT_SECRET}
        self.env.update(env or {})
        self.args = list(args or [])
        self.proc = None
        self.port = None
        self.runs = 0
        self.admin_password = None
        self.printed_password = None  # the password line of the latest run, if any
        self.token = None
        self.stdout_path = self.stderr_path = None
        self.last_stderr = ""  # kept after the temp dir is gone, for the failure report
        self.returncode = None
        self.stop_timeout = STOP_DEADLINE  # used by stop() and close() unless given
        self.crashed = False  # died under a request; a class hub is restarted for the next test
        with _lock:
            _all_hubs.append(self)
            _touched.append(self)

    # ---- lifecycle ----

    def start(self, timeout=START_DEADLINE):
        global _start_timeouts
        assert self.proc is None, "hub already running"
        if _aborted:
            raise AssertionError("suite deadline passed: no more hubs are started")
        if _start_timeouts >= 2:
            timeout = min(timeout, 5.0)
        self.runs += 1
        self.stdout_path = os.path.join(self.tmpdir, "hub-%d.stdout" % self.runs)
        self.stderr_path = os.path.join(self.tmpdir, "hub-%d.stderr" % self.runs)
        argv = [BIN, "serve", "--listen", "127.0.0.1:0", "--db", self.db]
        if self.backend == "postgres":
            argv += ["--postgres", self.pg_url]
            if not any(a.startswith(("--retention-days", "--config")) for a in self.args) \
                    and "SIEM_RETENTION_DAYS" not in self.env:
                argv += PG_DEFAULT_ARGS
        argv += self.args
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                         env=base_env(self.env), cwd=self.tmpdir,
                                         start_new_session=True)
        with _lock:
            _live[self.proc.pid] = self.proc
            if self not in _touched:
                _touched.append(self)
        self.port = None
        self.token = None
        self.returncode = None

        def listening():
            m = LISTEN_RE.search(read_text(self.stdout_path))
            if m:
                return int(m.group(1))
            if self.proc.poll() is not None:
                raise AssertionError("hub exited with %s before listening; stdout:\n%s\nstderr:\n%s"
                                     % (self.proc.returncode, tail(read_text(self.stdout_path)),
                                        tail(self.stderr())))
            return None

        try:
            self.port = wait_for(listening, timeout, "the hub's listening line")
        except AssertionError:
            if self.proc.poll() is None:
                _start_timeouts += 1
                self.kill()
            else:
                self._reap(self.proc)
            raise
        self.printed_password = self._scan_password()
        if self.printed_password and self.admin_password is None:
            self.admin_password = self.printed_password
        return self

    def _scan_password(self):
        m = PASSWORD_RE.search(read_text(self.stdout_path) + "\n" + read_text(self.stderr_path))
        return m.group(1) if m else None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stderr(self):
        if self.stderr_path and os.path.exists(self.stderr_path):
            self.last_stderr = read_text(self.stderr_path)
        return self.last_stderr

    def _reap(self, proc):
        with _lock:
            _live.pop(proc.pid, None)
        self.stderr()
        self.returncode = proc.returncode
        self.proc = None

    def signal(self, sig):
        os.kill(self.proc.pid, sig)

    def wait_exit(self, timeout=None, check=True):
        """Wait for a signalled hub to exit; check exit code 0 and no sanitizer report."""
        timeout = timeout or self.stop_timeout
        proc = self.proc
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            self._reap(proc)
            raise AssertionError("hub did not exit within %.0f s of SIGTERM (killed); stderr:\n%s"
                                 % (timeout, tail(self.last_stderr)))
        self._reap(proc)
        if check:
            check_sanitizers(self.last_stderr, "hub")
            if self.returncode != 0:
                raise AssertionError("hub exited with %s after SIGTERM, want 0; stderr:\n%s"
                                     % (self.returncode, tail(self.last_stderr)))
        return self.returncode

    def stop(self, timeout=None, check=True):
        if self.proc is None:
            return self.returncode
        if self.proc.poll() is None:
            self.signal(signal.SIGTERM)
        return self.wait_exit(timeout, check)

    def kill(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self._reap(self.proc)

    def restart(self):
        self.stop()
        return self.start()

    def cleanup(self):
        """Kill whatever still runs, remove the temp dir and drop the hub's PostgreSQL
        database. Safe to call twice."""
        self.kill()
        self.stderr()
        if self.own_tmp and os.path.isdir(self.tmpdir):
            shutil.rmtree(self.tmpdir, ignore_errors=True)
        url, self._pg_url = self._pg_url, None
        if url is not None:
            import pgserver
            pgserver.drop_database(url, self.pg_admin_url)

    # ---- the store ----

    @property
    def pg_url(self):
        """The URL of this hub's own PostgreSQL database (made empty on first use)."""
        assert self.backend == "postgres", "pg_url of a hub on the embedded store"
        if self._pg_url is None:
            import pgserver
            self._pg_url = pgserver.new_database(self.pg_admin_url)
        return self._pg_url

    def store_args(self):
        """The arguments that name this hub's store, for `serve` and for the CLI commands
        (keys, users): ["--db", PATH] or ["--postgres", URL]."""
        if self.backend == "postgres":
            return ["--postgres", self.pg_url]
        return ["--db", self.db]

    def store_rows(self, sql, *params):
        """Rows of a read-only query on the hub's store (its main database: users, api_keys,
        meta, audit_log, alerts, rules, dashboards), as tuples of str (None for NULL).
        Placeholders are "?" (never inside a string literal of sql); the values are text.
        Write it in SQL that both SQLite and PostgreSQL take."""
        return self._store_sql(sql, params, write=False)

    def store_exec(self, sql, *params):
        """Run one writing statement on the hub's store (as store_rows; e.g. to plant what an
        older version left). The hub should be stopped."""
        self._store_sql(sql, params, write=True)

    def _store_sql(self, sql, params, write):
        if self.backend == "postgres":
            import pgserver
            parts = sql.split("?")
            assert len(parts) == len(params) + 1, "placeholders and values differ in number"
            text = parts[0] + "".join(":'p%d'%s" % (i, p) for i, p in enumerate(parts[1:]))
            return pgserver.psql(self.pg_url, text + ";\n",
                                 {"p%d" % i: str(v) for i, v in enumerate(params)})
        uri = "file:%s?mode=%s" % (self.db, "rw" if write else "ro")
        con = sqlite3.connect(uri, uri=True, timeout=30)
        try:
            rows = con.execute(sql, params).fetchall()
            if write:
                con.commit()
        finally:
            con.close()
        return [tuple(None if v is None else str(v) for v in r) for r in rows]

    def close(self, check=True):
        """Stop cleanly (checking exit status), then clean up even if the check fails."""
        try:
            self.stop(check=check)
        finally:
            self.cleanup()

    # ---- HTTP ----

    def _died(self, exc):
        """A request failed at the connection level: report a dead hub as such (waiting a
        moment, since a sanitizer report is written before the process ends)."""
        if self.proc is not None and isinstance(exc, (ConnectionError, http.client.HTTPException)):
            try:
                self.proc.wait(3.0)
            except subprocess.TimeoutExpired:
                pass
        if self.proc is not None and self.proc.poll() is not None:
            rc = self.proc.returncode
            self._reap(self.proc)
            self.crashed = True
            raise AssertionError("hub died (exit %s) during a request (%r); stderr:\n%s"
                                 % (rc, exc, tail(self.last_stderr, 60))) from exc
        raise exc

    def connection(self, timeout=HTTP_TIMEOUT):
        if self.proc is None and self.port is not None:
            raise AssertionError("hub is not running (it exited with %s earlier; see the first "
                                 "failure that used it)" % self.returncode)
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, timeout=HTTP_TIMEOUT):
        """-> (status, headers, parsed JSON or raw bytes)."""
        headers = dict(headers or {})
        if body is not None and not isinstance(body, (bytes, bytearray)):
            body = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        conn = self.connection(timeout)
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, resp.headers, parse_body(data)
        except (ConnectionError, socket.timeout, http.client.HTTPException) as e:
            self._died(e)
        finally:
            conn.close()

    def get(self, path, params=None, token=None, headers=None):
        """GET with query parameters (dict or list of pairs; list values repeat) and the
        login token unless token is False."""
        if params:
            path = path + "?" + urllib.parse.urlencode(params, doseq=True)
        headers = dict(headers or {})
        if token is None:
            token = self.login_token()
        if token:
            headers["Authorization"] = "Bearer " + token
        return self.request("GET", path, headers=headers)

    def login(self, password=None, username=None):
        """POST /auth/login -> access token (asserts 200)."""
        if password is None:
            password = self.admin_password
            if password is None:
                self.admin_password = password = self._scan_password()
        assert password, "no admin password known for this hub"
        body = {"password": password}
        if username is not None:
            body["username"] = username
        status, _, data = self.request("POST", "/auth/login", body)
        assert status == 200, "login: %s %r" % (status, data)
        return data["access_token"]

    def login_token(self):
        """A token for the data endpoints. With a known SIEM_JWT_SECRET it is made here
        (HS256 over the secret's bytes, as the contract says), so a login bug fails the
        login tests only; without one it comes from POST /auth/login."""
        if self.token is None:
            if self.env.get("SIEM_JWT_SECRET"):
                self.token = self.make_token("admin", "admin")
            else:
                self.token = self.login()
        return self.token

    def token_gen(self, user):
        """The token generation the hub expects in user's tokens (from its store), or None:
        a token forged with the known secret needs it, as a stolen secret would."""
        rows = self.store_rows("SELECT token_gen FROM users WHERE name = ?", user)
        if not rows and user == "admin":  # meta admin_token: "GEN DIGEST" (src/api/tokens.c)
            rows = [(v.split()[0],) for (v,) in
                    self.store_rows("SELECT value FROM meta WHERE key = 'admin_token'")]
        return rows[0][0] if rows else None

    def make_token(self, sub="admin", role="admin", ttl=3600, **extra):
        """A token signed with SIEM_JWT_SECRET for a user the store knows."""
        now = int(time.time())
        claims = {"sub": sub, "role": role, "iat": now, "exp": now + ttl}
        gen = self.token_gen(sub)
        if gen is not None:
            claims["gen"] = gen
        claims.update(extra)
        return make_jwt(claims, self.env["SIEM_JWT_SECRET"])

    def add_user(self, name, role="analyst", password=None):
        """Add a user with the CLI (works while the hub runs) and return its password."""
        password = password or ("pw-%s-0123456789" % name)
        r = cli("users", "add", name, "--role", role, *self.store_args(), stdin=password + "\n",
                env=self.env)
        assert r.returncode == 0 or "exists already" in r.stderr, "users add: %s" % r.stderr
        return password

    def ingest(self, events, key=API_KEY, ndjson=False, gzip=False, headers=None,
               key_header="X-API-Key", timeout=HTTP_TIMEOUT):
        """POST /ingest: events is a dict (one object), a list (array, or NDJSON lines) or
        raw bytes. -> (status, headers, body)."""
        body = encode_body(events, ndjson)
        h = {"Content-Type": "application/x-ndjson" if ndjson else "application/json"}
        if gzip:
            body = gzip_mod.compress(body)
            h["Content-Encoding"] = "gzip"
        if key is not None:
            if key_header.lower() == "authorization":
                h["Authorization"] = "Bearer " + key
            else:
                h[key_header] = key
        for k, v in (headers or {}).items():
            for old in [x for x in h if x.lower() == k.lower()]:
                del h[old]
            if v is not None:
                h[k] = v
        return self.request("POST", "/ingest", body, h, timeout)

    def ingest_ok(self, events, **kw):
        """Ingest and assert 200 with every event accepted; returns the answer body."""
        status, _, data = self.ingest(events, **kw)
        n = 1 if isinstance(events, dict) else len(events)
        assert status == 200, "ingest: %s %r" % (status, data)
        assert data.get("accepted") == n and not data.get("rejected"), "ingest: %r" % (data,)
        return data

    def events(self, params=None):
        """GET /events -> body (asserts 200)."""
        status, _, data = self.get("/events", params)
        assert status == 200, "GET /events %r: %s %r" % (params, status, data)
        return data

    def event_ids(self, params=None):
        return [e["event_id"] for e in self.events(params)["events"]]

    def all_events(self, params=None, limit=1000, max_pages=200):
        """Every event matching params, following next_cursor (bounded)."""
        params = dict(params or {})
        params["limit"] = limit
        out = []
        for _ in range(max_pages):
            data = self.events(params)
            out.extend(data["events"])
            if data.get("next_cursor") is None:
                return out
            params["cursor"] = data["next_cursor"]
        raise AssertionError("more than %d pages" % max_pages)

    def get_event(self, event_id):
        return self.get("/events/" + urllib.parse.quote(event_id, safe=""))


def parse_body(data):
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return data


def begin_test():
    """Called by the runner before each test: remember the hubs alive now."""
    with _lock:
        _touched[:] = [h for h in _all_hubs if h.proc is not None]


def touched_hubs():
    with _lock:
        return list(_touched)


def abort():
    """The suite ran out of time: kill every hub and refuse to start new ones."""
    global _aborted
    _aborted = True
    kill_all()


def kill_all():
    """Kill every hub process still running (by PID)."""
    with _lock:
        procs = list(_live.values())
    for p in procs:
        try:
            if p.poll() is None:
                p.kill()
                p.wait(10)
        except Exception:
            pass


@atexit.register
def _cleanup_at_exit():
    kill_all()
    for h in list(_all_hubs):
        try:
            h.cleanup()
        except Exception:
            pass
    if _extra_dbs:
        import pgserver
        for url in _extra_dbs:
            pgserver.drop_database(url, PG_ADMIN_URL)
    if _cli_cwd:
        shutil.rmtree(_cli_cwd, ignore_errors=True)


# ---- load generator ----

class Load:
    """Client threads sending batches with unique ids; records what each request got."""

    def __init__(self, hub, tag, threads=4, batch=50, max_events=6000):
        self.hub, self.tag, self.batch, self.max_events = hub, tag, batch, max_events
        self.lock = threading.Lock()
        self.acked = []  # event ids of 200 answers
        self.sent = []  # every event id ever sent
        self.statuses = collections.Counter()
        self.conn_errors = []  # (time, repr) of requests that got no HTTP answer
        self.bad = []  # unexpected answers
        self.retry_after = []  # Retry-After of each 503
        self.next = 0
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(threads)]

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def take(self):
        with self.lock:
            if self.next >= self.max_events:
                return None
            lo = self.next
            self.next += self.batch
        return [{"event_id": event_uuid(self.tag, i), "timestamp": 1710028800 + i, "app": self.tag,
                 "event_type": "load_test", "message": "load %d" % i}
                for i in range(lo, lo + self.batch)]

    def run(self):
        while not self.stop.is_set():
            batch = self.take()
            if batch is None:
                return
            with self.lock:
                self.sent.extend(e["event_id"] for e in batch)
            body = json.dumps(batch).encode()
            conn = http.client.HTTPConnection("127.0.0.1", self.hub.port, timeout=30)
            try:
                conn.request("POST", "/ingest", body=body,
                             headers={"Content-Type": "application/json", "X-API-Key": API_KEY})
                resp = conn.getresponse()
                data = resp.read()
            except (OSError, http.client.HTTPException) as e:
                with self.lock:
                    self.conn_errors.append((time.monotonic(), repr(e)))
                if isinstance(e, ConnectionRefusedError):
                    return  # the hub is gone
                continue
            finally:
                conn.close()
            with self.lock:
                self.statuses[resp.status] += 1
                if resp.status == 200:
                    ans = json.loads(data)
                    if ans.get("accepted") != len(batch) or ans.get("duplicates") != 0:
                        self.bad.append((resp.status, ans))
                    self.acked.extend(e["event_id"] for e in batch)
                elif resp.status == 503:
                    self.retry_after.append(resp.headers.get("Retry-After"))
                    if not isinstance(parse_body(data), dict):
                        self.bad.append((resp.status, data[:300]))
                else:
                    self.bad.append((resp.status, data[:300]))

    def n_acked(self):
        with self.lock:
            return len(self.acked)

    def alive(self):
        return any(t.is_alive() for t in self.threads)

    def join(self, timeout=60):
        """Stop the clients and wait for them; True when all have ended."""
        self.stop.set()
        return self.join_done(timeout)

    def join_done(self, timeout=60):
        """Wait until the clients have sent everything (or given up); True when all ended."""
        end = time.monotonic() + timeout
        for t in self.threads:
            t.join(max(0.0, end - time.monotonic()))
        return not self.alive()


# ---- unittest glue ----

class HubCase(unittest.TestCase):
    """A TestCase with hubs whose cleanup is registered before they start."""

    hub = None  # the class's shared hub, if any

    def setUp(self):
        # A shared hub that died under an earlier test (already reported there) is started
        # again on the same store, so one crash does not fail every later test of the class.
        h = type(self).hub
        if isinstance(h, Hub) and h.crashed and h.proc is None:
            h.crashed = False
            h.start()

    @classmethod
    def class_hub(cls, **kw):
        h = Hub(**kw)
        cls.addClassCleanup(h.close)
        return h.start()

    def own_hub(self, start=True, **kw):
        h = Hub(**kw)
        self.addCleanup(h.close)
        return h.start() if start else h

    def assertStatus(self, resp, status, msg=""):
        got, _, body = resp
        self.assertEqual(got, status, "%s: want %s, got %s %r" % (msg, status, got, body))
        return body

    def assertIngested(self, resp, accepted, duplicates=0, rejected=()):
        """200 with exact accepted/duplicates counts and rejected indices."""
        body = self.assertStatus(resp, 200, "ingest")
        self.assertEqual(body.get("accepted"), accepted, body)
        self.assertEqual(body.get("duplicates"), duplicates, body)
        self.assertEqual(sorted(r["index"] for r in body.get("rejected") or []),
                         sorted(rejected), body)
        return body
