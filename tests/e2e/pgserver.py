"""pgserver.py — a private PostgreSQL 15 for one end-to-end run: a fresh cluster in a
temporary directory, on a free loopback port, trusting every local connection; an empty
database per hub (new_database); stopped by its postmaster's PID and removed at the end.

    srv = PgServer().start()        # initdb + postgres; waits until it accepts connections
    url = srv.new_database()        # postgresql://postgres@127.0.0.1:PORT/e2e_...
    srv.pause(); srv.resume()       # stop and start the same cluster on the same port
    srv.stop()                      # fast shutdown, wait for the exit, remove the directory

`python3 tests/e2e/pgserver.py` checks this file on its own (start, two databases, pause and
resume, stop, nothing of the server left).

The test machine runs as root, which PostgreSQL refuses: then initdb and postgres run as the
account `postgres` (runuser), which owns the directory. Durability settings stay PostgreSQL's
defaults (fsync, synchronous_commit, full_page_writes on): a SIGKILL test against this server
means what it means in production."""

import atexit
import itertools
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

PG_BIN = "/usr/lib/postgresql/15/bin"
PG_ACCOUNT = "postgres"  # the OS account the server runs as when we are root
SUPERUSER = "postgres"  # the cluster's superuser (initdb -U), whoever runs it
START_DEADLINE = 60.0  # seconds until a started server accepts connections
STOP_DEADLINE = 60.0  # seconds until a fast shutdown must have ended the postmaster
PSQL_TIMEOUT = 60.0
POLL = 0.05
NULL = "\x02NULL\x02"  # how psql prints NULL in our queries' output (never in real data)

# A small, quick server that is still honest about durability. max_connections: every hub
# keeps a pool, and the suite runs many hubs at once (and many CLI runs beside them).
# max_locks_per_transaction: a query over the day-partitioned events table locks every
# partition and its indices. jit: compiling plans costs more than the tests' small queries.
SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "max_connections": "300",
    "shared_buffers": "64MB",
    "max_locks_per_transaction": "256",
    "max_wal_size": "1GB",
    "checkpoint_timeout": "30min",
    "jit": "off",
    "fsync": "on",
    "synchronous_commit": "on",
    "full_page_writes": "on",
    "log_min_messages": "warning",
    "log_line_prefix": "%m [%p] %d: ",
    "log_timezone": "UTC",
    "timezone": "UTC",
}

_names = itertools.count(1)
_names_lock = threading.Lock()
_running = []  # servers started by this process and not stopped yet (stopped at exit)


def pg_tool(name):
    """A PostgreSQL 15 program: from PG_BIN, else whatever PATH has."""
    p = os.path.join(PG_BIN, name)
    return p if os.access(p, os.X_OK) else (shutil.which(name) or p)


def clean_env():
    """Our environment without PG* variables (a PGHOST or PGOPTIONS must not steer psql)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C"
    return env


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def db_url(admin_url, name):
    """admin_url with its database replaced by name."""
    base, _, _ = admin_url.rpartition("/")
    return base + "/" + name


def psql(url, sql, variables=None, timeout=PSQL_TIMEOUT):
    """Run sql (one or more statements, read from stdin, so that :'var' interpolation works:
    values given in variables are quoted by psql, never pasted into the text) on url.
    -> rows of the last statement's output, each a tuple of str (None for NULL).
    Raises AssertionError with psql's message on any error."""
    argv = [pg_tool("psql"), "-X", "-q", "-A", "-t", "-F", "\x1f", "-R", "\x1e",
            "-P", "null=" + NULL, "-v", "ON_ERROR_STOP=1", "-d", url]
    for k, v in (variables or {}).items():
        argv += ["-v", "%s=%s" % (k, v)]
    r = subprocess.run(argv, input=sql, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=timeout, env=clean_env())
    if r.returncode != 0:
        raise AssertionError("psql on %s failed (exit %d): %s\n(sql: %s)"
                             % (url, r.returncode, r.stderr.strip(), sql.strip()))
    out = r.stdout
    if out.endswith("\n"):
        out = out[:-1]
    rows = []
    for rec in out.split("\x1e"):
        if rec == "":
            continue
        rows.append(tuple(None if v == NULL else v for v in rec.split("\x1f")))
    return rows


def new_database(admin_url=None, prefix="e2e"):
    """A fresh, empty database on the server of admin_url (default: $SIEM_TEST_PG);
    -> its URL. Names are unique per process: prefix_PID_N."""
    admin_url = admin_url or os.environ["SIEM_TEST_PG"]
    with _names_lock:
        n = next(_names)
    name = "%s_%d_%d" % (prefix, os.getpid(), n)
    assert re.fullmatch(r"[a-z0-9_]{1,63}", name), name
    for attempt in range(3):
        try:
            psql(admin_url, 'CREATE DATABASE "%s"' % name)
            break
        except AssertionError as e:
            # someone (autovacuum) was on template1 for longer than CREATE DATABASE waits
            if "is being accessed by other users" not in str(e) or attempt == 2:
                raise
    return db_url(admin_url, name)


def drop_database(url, admin_url=None):
    """Drop the database of url (made by new_database), ending its sessions. Errors ignored:
    this is cleanup, and the whole server goes at the end of the run anyway."""
    admin_url = admin_url or os.environ.get("SIEM_TEST_PG")
    name = url.rpartition("/")[2]
    if not admin_url or not re.fullmatch(r"[a-z0-9_]{1,63}", name):
        return
    try:
        psql(admin_url, 'DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name, timeout=30)
    except (AssertionError, OSError, subprocess.SubprocessError):
        pass


def _pid_alive(pid):
    """True while pid exists and is not a zombie (a postmaster that is not our child is
    reaped by whoever adopted it, perhaps late)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rpartition(")")[2].split()[0]
        return state not in ("Z", "X")
    except (OSError, IndexError):
        return False


class PgServer:
    """One private cluster. start() and stop() are for one thread at a time."""

    def __init__(self, port=None):
        self.dir = None
        self.data = None
        self.log = None
        self.port = port
        self.proc = None  # runuser (or postgres itself when not root)
        self.as_root = os.geteuid() == 0

    # ---- URLs ----

    @property
    def admin_url(self):
        return "postgresql://%s@127.0.0.1:%d/postgres" % (SUPERUSER, self.port)

    def new_database(self, prefix="e2e"):
        return new_database(self.admin_url, prefix)

    def psql(self, sql, db="postgres", variables=None):
        return psql(db_url(self.admin_url, db), sql, variables)

    # ---- lifecycle ----

    def _as_pg(self, argv):
        return ["runuser", "-u", PG_ACCOUNT, "--"] + argv if self.as_root else argv

    def start(self):
        """initdb in a new temporary directory and start the server on a free port."""
        assert self.dir is None, "already started"
        self.dir = tempfile.mkdtemp(prefix="minisiem-e2e-pg-")
        self.data = os.path.join(self.dir, "data")
        self.log = os.path.join(self.dir, "postgres.log")
        _running.append(self)
        try:
            if self.as_root:
                pw = pwd.getpwnam(PG_ACCOUNT)
                os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            os.chmod(self.dir, 0o700)
            r = subprocess.run(self._as_pg([pg_tool("initdb"), "-D", self.data, "-E", "UTF8",
                                            "--locale=C", "-A", "trust", "-U", SUPERUSER,
                                            "--no-sync"]),
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, timeout=120,
                               env=clean_env(), cwd=self.dir)
            if r.returncode != 0:
                raise AssertionError("initdb failed (exit %d):\n%s" % (r.returncode, r.stdout))
            fixed = self.port is not None
            for attempt in range(5):
                if not fixed:
                    self.port = free_port()
                if self._launch():
                    return self
                if fixed or attempt == 4:
                    break
            raise AssertionError("PostgreSQL did not start; its log:\n%s" % self.log_tail())
        except BaseException:
            self.stop()
            raise

    def _launch(self):
        """Start postgres on self.port and wait until it answers a query. -> False when it
        could not bind the port (the caller tries another), raises on anything else."""
        argv = [pg_tool("postgres"), "-D", self.data, "-p", str(self.port), "-k", self.dir]
        for k, v in SETTINGS.items():
            argv += ["-c", "%s=%s" % (k, v)]
        start_of_log = os.path.getsize(self.log) if os.path.exists(self.log) else 0
        with open(self.log, "ab") as logf:
            # a session of its own: a Ctrl-C in the terminal is ours to handle, and the
            # server is stopped by its PID (runuser does not forward signals)
            self.proc = subprocess.Popen(self._as_pg(argv), stdin=subprocess.DEVNULL,
                                         stdout=logf, stderr=subprocess.STDOUT,
                                         env=clean_env(), cwd=self.dir, start_new_session=True)
        end = time.monotonic() + START_DEADLINE
        while True:
            if self.proc.poll() is not None:
                self.proc = None
                text = self._log_since(start_of_log)
                if "could not bind" in text or "could not create any TCP/IP sockets" in text:
                    return False
                raise AssertionError("postgres exited before accepting connections:\n%s"
                                     % text[-4000:])
            if self._pidfile_status() == "ready":
                try:
                    if psql(self.admin_url, "SELECT 1", timeout=10) == [("1",)]:
                        return True
                except (AssertionError, subprocess.TimeoutExpired):
                    pass  # ready in the file a moment before the socket answers
            if time.monotonic() >= end:
                self._stop_server()
                raise AssertionError("postgres did not accept connections within %.0f s:\n%s"
                                     % (START_DEADLINE, self._log_since(start_of_log)[-4000:]))
            time.sleep(POLL)

    def _pidfile(self):
        """The lines of DATA/postmaster.pid, or [] when there is none."""
        try:
            with open(os.path.join(self.data, "postmaster.pid")) as f:
                return f.read().splitlines()
        except OSError:
            return []

    def _pidfile_status(self):
        lines = self._pidfile()  # line 8: the postmaster's status ("starting", "ready", ...)
        return lines[7].strip() if len(lines) >= 8 else None

    def postmaster_pid(self):
        lines = self._pidfile()
        try:
            return int(lines[0])
        except (IndexError, ValueError):
            return None

    def _stop_server(self, timeout=STOP_DEADLINE):
        """Fast shutdown (SIGINT to the postmaster), wait for it and for our child to end;
        SIGQUIT, then SIGKILL if it does not. Safe when nothing runs."""
        pid = self.postmaster_pid()
        if pid is not None and _pid_alive(pid):
            for sig, wait in ((signal.SIGINT, timeout), (signal.SIGQUIT, 10.0),
                              (signal.SIGKILL, 10.0)):
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    break
                end = time.monotonic() + wait
                while _pid_alive(pid) and time.monotonic() < end:
                    time.sleep(POLL)
                if not _pid_alive(pid):
                    break
        if self.proc is not None:
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def pause(self):
        """Stop the server (fast shutdown) and keep its data, for resume()."""
        self._stop_server()

    def resume(self):
        """Start the same cluster on the same port again."""
        assert self.data is not None, "never started"
        assert self.proc is None, "running"
        if not self._launch():
            raise AssertionError("PostgreSQL could not bind port %d again; its log:\n%s"
                                 % (self.port, self.log_tail()))
        return self

    def running(self):
        pid = self.postmaster_pid()
        return pid is not None and _pid_alive(pid)

    def stop(self):
        """Stop the server and remove its directory. Safe to call twice."""
        if self.dir is None:
            return
        try:
            self._stop_server()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None
            if self in _running:
                _running.remove(self)

    # ---- its log ----

    def _log_since(self, offset):
        try:
            with open(self.log, "rb") as f:
                f.seek(offset)
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, lines=40):
        return "\n".join(self._log_since(0).splitlines()[-lines:])

    def crash_lines(self):
        """Log lines that mean a server process crashed or the server panicked."""
        return [l for l in self._log_since(0).splitlines()
                if "PANIC" in l or "was terminated by signal" in l]


@atexit.register
def _stop_at_exit():
    for s in list(_running):
        try:
            s.stop()
        except Exception:
            pass


# ---- `python3 tests/e2e/pgserver.py`: a check of this file on its own ----

def _server_pids(postmaster):
    """The postmaster and its children (checkpointer, backends, ...)."""
    pids = {postmaster}
    for p in os.listdir("/proc"):
        try:
            with open("/proc/%s/stat" % p) as f:
                if int(f.read().rpartition(")")[2].split()[1]) == postmaster:
                    pids.add(int(p))
        except (OSError, ValueError, IndexError):
            continue
    return pids


def _leftovers(data, pids):
    """Processes of the cluster at data that still run: known pids, or a command line that
    names the data directory."""
    left = {p for p in pids if _pid_alive(p)}
    for p in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/cmdline" % p, "rb") as f:
                if data.encode() in f.read() and _pid_alive(int(p)):
                    left.add(int(p))
        except OSError:
            continue
    return left


def _selftest():
    t0 = time.monotonic()
    srv = PgServer().start()
    print("started on 127.0.0.1:%d in %.1f s (%s)" % (srv.port, time.monotonic() - t0, srv.dir))
    data, pids = srv.data, _server_pids(srv.postmaster_pid())
    urls = [srv.new_database() for _ in range(2)]
    for url in urls:
        r = subprocess.run([pg_tool("psql"), "-X", "-At", "-d", url, "-c", "select 1"],
                           stdout=subprocess.PIPE, text=True, env=clean_env(), timeout=30)
        assert (r.returncode, r.stdout.strip()) == (0, "1"), (url, r)
        print("%s: select 1 -> 1" % url)
    psql(urls[0], "CREATE TABLE kept(v text); INSERT INTO kept VALUES (:'v')", {"v": "it's kept"})
    srv.pause()
    assert not srv.running() and not _leftovers(data, pids), "processes left after pause"
    srv.resume()
    pids |= _server_pids(srv.postmaster_pid())
    assert psql(urls[0], "SELECT v FROM kept") == [("it's kept",)]
    print("pause/resume on port %d: committed rows kept" % srv.port)
    srv.stop()
    left = _leftovers(data, pids)
    assert not left and not os.path.exists(data), (left, data)
    print("stopped: no process of %s left, directory removed" % data)


if __name__ == "__main__":
    _selftest()
