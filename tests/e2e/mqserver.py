"""mqserver.py — a private RabbitMQ for one end-to-end run: its own node name, free loopback
ports (AMQP, Erlang distribution, epmd), data, logs, config and HOME in a temporary
directory; a user and password for the tests; stopped by PID (the beam.smp this file's
process tree started, and the epmd it started itself), nothing left behind.

    srv = MqServer(tls=True).start()  # waits until the AMQP port answers a real handshake
    srv.url("vhost", tls=True)        # amqps://...:TLS_PORT/vhost, certificate by srv.ca_file
    srv.url("vhost")                  # amqp://minisiem@127.0.0.1:PORT/vhost (password apart)
    srv.add_vhost("v1")               # each test its own vhost (rabbitmqctl)
    srv.set_memory_watermark("0.0000001")   # a memory alarm now; "0.4" lifts it
    srv.pause(); srv.resume()         # stop and start the same node (its data kept)
    srv.kill(); srv.resume()          # SIGKILL the VM (a crash), start it again
    srv.quorum_registered("v1", "q")  # the quorum queue survives a crash (see below)
    srv.freeze(); srv.thaw()          # SIGSTOP / SIGCONT: a broker that hangs
    srv.stop()                        # SIGTERM (then SIGKILL), wait, remove the directory

    c = Amqp(port, user, password, vhost)   # a minimal AMQP 0-9-1 client for the tests
    c.publish("minisiem.events", "", b"...", persistent=True)
    c.queue_depth("minisiem.store")   # messages ready in a queue (passive declare)
    c.get("minisiem.store")           # the next message's body (taken), or None

`python3 tests/e2e/mqserver.py` checks this file on its own (start, vhost, a published
message in a queue, pause and resume, stop, no process left).

The test machine runs as root: then epmd and the broker run as the account `rabbitmq`
(runuser), which owns the directory. The system's broker, if any, is never touched: every
port, name and path here is the run's own."""

import atexit
import os
import pwd
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time

RABBIT_BIN = "/usr/lib/rabbitmq/bin"
EPMD = shutil.which("epmd") or "/usr/bin/epmd"
MQ_ACCOUNT = "rabbitmq"
USER = "minisiem"
PASSWORD = "e2e-amqp-password-5b1c"
START_DEADLINE = 90.0  # seconds until a started broker answers an AMQP handshake
STOP_DEADLINE = 60.0
CTL_TIMEOUT = 60.0
POLL = 0.05

_running = []


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rpartition(")")[2].split()[0]
        return state not in ("Z", "X")
    except (OSError, IndexError):
        return False


def _children(pid):
    """Every descendant of pid (from /proc's parent links)."""
    parent = {}
    for p in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/stat" % p) as f:
                parent[int(p)] = int(f.read().rpartition(")")[2].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    out, todo = set(), [pid]
    while todo:
        cur = todo.pop()
        for c, pp in parent.items():
            if pp == cur and c not in out:
                out.add(c)
                todo.append(c)
    return out


def _comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return ""


def amqp_handshake(port, timeout=2.0):
    """True when 127.0.0.1:port answers the AMQP 0-9-1 protocol header with connection.start."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(b"AMQP\x00\x00\x09\x01")
            head = _recv_exact(s, 7)
            ftype, chan, size = struct.unpack(">BHI", head)
            payload = _recv_exact(s, size + 1)
            return ftype == 1 and chan == 0 and payload[:4] == b"\x00\x0a\x00\x0a"
    except (OSError, ValueError):
        return False


def _port_open(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def _recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ValueError("connection closed")
        buf += chunk
    return buf


# ---- a minimal AMQP 0-9-1 client: enough to publish and to look at queues ----

def _shortstr(s):
    b = s.encode()
    return struct.pack(">B", len(b)) + b


def _longstr(b):
    if isinstance(b, str):
        b = b.encode()
    return struct.pack(">I", len(b)) + b


def _table(d):
    out = b""
    for k, v in (d or {}).items():
        out += _shortstr(k)
        if isinstance(v, bool):
            out += b"t" + struct.pack(">B", 1 if v else 0)
        elif isinstance(v, int):
            out += b"l" + struct.pack(">q", v)
        else:
            out += b"S" + _longstr(v)
    return _longstr(out)


class AmqpError(Exception):
    pass


class Amqp:
    """One connection with one channel (publisher confirms on). Raises AmqpError when the
    broker closes the channel or connection (the reply text in the message)."""

    def __init__(self, port, user=USER, password=PASSWORD, vhost="/", timeout=10.0):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.s.sendall(b"AMQP\x00\x00\x09\x01")
        self._expect(0, 10, 10)  # connection.start
        resp = b"\x00" + user.encode() + b"\x00" + password.encode()
        self._method(0, 10, 11, _table({"product": "minisiem-e2e"}) + _shortstr("PLAIN")
                     + _longstr(resp) + _shortstr("en_US"))
        args = self._expect(0, 10, 30)  # connection.tune
        chmax, fmax, _hb = struct.unpack(">HIH", args[:8])
        self.frame_max = fmax or 131072
        self._method(0, 10, 31, struct.pack(">HIH", chmax, self.frame_max, 0))
        self._method(0, 10, 40, _shortstr(vhost) + _shortstr("") + b"\x00")
        self._expect(0, 10, 41)  # connection.open-ok
        self._method(1, 20, 10, _shortstr(""))
        self._expect(1, 20, 11)  # channel.open-ok
        self._method(1, 85, 10, b"\x00")  # confirm.select
        self._expect(1, 85, 11)

    def close(self):
        try:
            self._method(0, 10, 50, struct.pack(">H", 200) + _shortstr("bye") + b"\x00" * 4)
            self._expect(0, 10, 51)
        except (OSError, AmqpError, ValueError):
            pass
        self.s.close()

    def _frame(self, ftype, chan, payload):
        self.s.sendall(struct.pack(">BHI", ftype, chan, len(payload)) + payload + b"\xce")

    def _method(self, chan, cls, meth, args):
        self._frame(1, chan, struct.pack(">HH", cls, meth) + args)

    def _read(self):
        ftype, chan, size = struct.unpack(">BHI", _recv_exact(self.s, 7))
        payload = _recv_exact(self.s, size + 1)[:-1]
        return ftype, chan, payload

    def _expect(self, chan, cls, meth):
        while True:
            ftype, ch, payload = self._read()
            if ftype != 1:
                continue  # heartbeats, content of deliveries we do not consume
            c, m = struct.unpack(">HH", payload[:4])
            if (c, m) in ((10, 50), (20, 40)):  # connection.close, channel.close
                code = struct.unpack(">H", payload[4:6])[0]
                n = payload[6]
                raise AmqpError("%d %s" % (code, payload[7:7 + n].decode("utf-8", "replace")))
            if ch == chan and (c, m) == (cls, meth):
                return payload[4:]

    def publish(self, exchange, routing_key, body, persistent=True, headers=None):
        """basic.publish, then wait for the broker's confirm. -> True (ack) or False (nack)."""
        self._method(1, 60, 40, b"\x00\x00" + _shortstr(exchange) + _shortstr(routing_key)
                     + b"\x00")
        flags = 0x1000 | (0x2000 if headers else 0)  # delivery-mode, headers
        props = (_table(headers) if headers else b"") + struct.pack(">B", 2 if persistent else 1)
        self._frame(2, 1, struct.pack(">HHQH", 60, 0, len(body), flags) + props)
        step = self.frame_max - 8
        for i in range(0, len(body), step):
            self._frame(3, 1, body[i:i + step])
        while True:
            ftype, ch, payload = self._read()
            if ftype != 1:
                continue
            c, m = struct.unpack(">HH", payload[:4])
            if (c, m) == (60, 80):
                return True
            if (c, m) == (60, 120):
                return False
            if (c, m) in ((10, 50), (20, 40)):
                raise AmqpError(payload[7:7 + payload[6]].decode("utf-8", "replace"))

    def get(self, queue):
        """basic.get with no-ack: the body of the queue's next message, or None when empty."""
        self._method(1, 60, 70, b"\x00\x00" + _shortstr(queue) + b"\x01")
        while True:
            ftype, ch, payload = self._read()
            if ftype != 1:
                continue
            c, m = struct.unpack(">HH", payload[:4])
            if (c, m) == (60, 72):
                return None
            if (c, m) == (60, 71):
                break
            if (c, m) in ((10, 50), (20, 40)):
                raise AmqpError(payload[7:7 + payload[6]].decode("utf-8", "replace"))
        ftype, ch, payload = self._read()  # the content header: class, weight, body size
        size = struct.unpack(">Q", payload[4:12])[0]
        body = b""
        while len(body) < size:
            ftype, ch, payload = self._read()
            body += payload
        return body

    def declare_queue(self, queue, args=None):
        """queue.declare, durable, with arguments args (a dict)."""
        self._method(1, 50, 10, b"\x00\x00" + _shortstr(queue) + b"\x02" + _table(args))
        self._expect(1, 50, 11)

    def queue_depth(self, queue):
        """Messages ready in queue (queue.declare passive). -> (messages, consumers)."""
        self._method(1, 50, 10, b"\x00\x00" + _shortstr(queue) + b"\x01" + _table({}))
        args = self._expect(1, 50, 11)
        n = args[0]
        return struct.unpack(">II", args[1 + n:9 + n])


class MqServer:
    """One private broker node. start() and stop() are for one thread at a time."""

    def __init__(self, memory_watermark="0.4", tls=False):
        self.dir = None
        self.port = None
        self.tls = tls  # also an amqps:// listener, its certificate from a CA of our own
        self.tls_port = None
        self.ca_file = None
        self.dist_port = None
        self.epmd_port = None
        self.node = None
        self.proc = None  # runuser (or the rabbitmq-server script when not root)
        self.epmd = None
        self.memory_watermark = memory_watermark
        self.as_root = os.geteuid() == 0
        self.user = USER
        self.password = PASSWORD

    def url(self, vhost="/", tls=False):
        v = "%2F" if vhost == "/" else vhost
        if tls:  # by name: the client checks the name on the certificate
            return "amqps://%s@localhost:%d/%s" % (self.user, self.tls_port, v)
        return "amqp://%s@127.0.0.1:%d/%s" % (self.user, self.port, v)

    def client(self, vhost="/"):
        return Amqp(self.port, self.user, self.password, vhost)

    def _as_mq(self, argv):
        return ["runuser", "-u", MQ_ACCOUNT, "--"] + argv if self.as_root else argv

    def _env(self):
        d = self.dir
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("RABBITMQ_", "ERL_"))}
        env.update({
            "HOME": d,
            "LC_ALL": "C.UTF-8",
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "ERL_EPMD_PORT": str(self.epmd_port),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "RABBITMQ_MNESIA_BASE": os.path.join(d, "mnesia"),
            "RABBITMQ_LOG_BASE": os.path.join(d, "log"),
            "RABBITMQ_CONFIG_FILE": os.path.join(d, "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": os.path.join(d, "advanced.config"),
            "RABBITMQ_CONF_ENV_FILE": os.path.join(d, "rabbitmq-env.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": os.path.join(d, "enabled_plugins"),
            "RABBITMQ_PID_FILE": os.path.join(d, "rabbit.pid"),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS":
                "-kernel inet_dist_use_interface {127,0,0,1}",
            "RABBITMQ_CTL_DIST_PORT_MIN": str(self.dist_port + 1),
            "RABBITMQ_CTL_DIST_PORT_MAX": str(self.dist_port + 40),
        })
        return env

    def _write_config(self):
        d = self.dir
        with open(os.path.join(d, "rabbitmq.conf"), "w") as f:
            f.write("listeners.tcp.default = 127.0.0.1:%d\n" % self.port)
            f.write("loopback_users = none\n")
            f.write("default_user = %s\ndefault_pass = %s\n" % (self.user, self.password))
            f.write("default_vhost = /\n")
            f.write("vm_memory_high_watermark.relative = %s\n" % self.memory_watermark)
            f.write("disk_free_limit.absolute = 1MB\n")
            f.write("log.file.level = warning\nlog.console = false\n")
            if self.tls:
                f.write("listeners.ssl.default = 127.0.0.1:%d\n" % self.tls_port)
                for k, v in (("cacertfile", "ca.pem"), ("certfile", "server.pem"),
                             ("keyfile", "server.key")):
                    f.write("ssl_options.%s = %s\n" % (k, os.path.join(d, v)))
                f.write("ssl_options.verify = verify_none\n"
                        "ssl_options.fail_if_no_peer_cert = false\n")
        for name, text in (("advanced.config", "[].\n"), ("rabbitmq-env.conf", ""),
                           ("enabled_plugins", "[].\n")):
            with open(os.path.join(d, name), "w") as f:
                f.write(text)
        with open(os.path.join(d, ".erlang.cookie"), "w") as f:
            f.write("MINISIEME2E%dCOOKIE" % self.port)
        os.chmod(os.path.join(d, ".erlang.cookie"), 0o400)
        if self.tls and not os.path.exists(os.path.join(d, "server.pem")):
            self._make_certs()
        for sub in ("mnesia", "log"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        if self.as_root:
            pw = pwd.getpwnam(MQ_ACCOUNT)
            for root, dirs, files in os.walk(d):
                for n in dirs + files:
                    os.chown(os.path.join(root, n), pw.pw_uid, pw.pw_gid)
            os.chown(d, pw.pw_uid, pw.pw_gid)

    def _make_certs(self):
        """A CA and a server certificate it signed, for 127.0.0.1 and localhost."""
        d = self.dir

        def ssl(*args):
            r = subprocess.run(["openssl"] + list(args), cwd=d, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               timeout=60)
            if r.returncode != 0:
                raise AssertionError("openssl %s: %s" % (args[0], r.stdout))
        ssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=minisiem e2e CA")
        ssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost")
        with open(os.path.join(d, "san.ext"), "w") as f:
            f.write("subjectAltName = IP:127.0.0.1, DNS:localhost\n")
        ssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "san.ext")
        self.ca_file = os.path.join(d, "ca.pem")
        os.chmod(self.ca_file, 0o644)

    def start(self):
        assert self.dir is None, "already started"
        self.dir = tempfile.mkdtemp(prefix="minisiem-e2e-mq-")
        os.chmod(self.dir, 0o700)
        _running.append(self)
        try:
            for attempt in range(3):
                self.port, self.dist_port, self.epmd_port = free_port(), free_port(), free_port()
                self.tls_port = free_port() if self.tls else None
                self.node = "minisiem-e2e-%d@localhost" % self.port
                self._write_config()
                if self._start_epmd() and self._launch():
                    return self
                self._stop_server()
                self._stop_epmd()
            raise AssertionError("RabbitMQ did not start; its log:\n%s" % self.log_tail())
        except BaseException:
            self.stop()
            raise

    def _start_epmd(self):
        """epmd in the foreground as our own child (the broker finds it and starts none)."""
        self.epmd = subprocess.Popen(self._as_mq([EPMD, "-port", str(self.epmd_port),
                                                  "-address", "127.0.0.1"]),
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, env=self._env(), cwd=self.dir,
                                     start_new_session=True)
        end = time.monotonic() + 10
        while time.monotonic() < end:
            if self.epmd.poll() is not None:
                return False
            try:
                socket.create_connection(("127.0.0.1", self.epmd_port), timeout=1).close()
                return True
            except OSError:
                time.sleep(POLL)
        return False

    def _launch(self):
        """Start the node and wait for an AMQP handshake. -> False when it exited early
        (a port was taken: the caller tries others)."""
        log = os.path.join(self.dir, "server.out")
        with open(log, "ab") as logf:
            self.proc = subprocess.Popen(self._as_mq([os.path.join(RABBIT_BIN, "rabbitmq-server")]),
                                         stdin=subprocess.DEVNULL, stdout=logf,
                                         stderr=subprocess.STDOUT, env=self._env(),
                                         cwd=self.dir, start_new_session=True)
        end = time.monotonic() + START_DEADLINE
        while True:
            if self.proc.poll() is not None:
                self.proc = None
                return False
            if amqp_handshake(self.port, timeout=2.0) and \
                    (not self.tls or _port_open(self.tls_port)):
                return True
            if time.monotonic() >= end:
                raise AssertionError("RabbitMQ did not answer on port %d within %.0f s:\n%s"
                                     % (self.port, START_DEADLINE, self.log_tail()))
            time.sleep(0.1)

    def beam_pid(self):
        """The Erlang VM of our node: beam.smp under the process we started."""
        if self.proc is None:
            return None
        for p in _children(self.proc.pid):
            if _comm(p).startswith("beam"):
                return p
        return None

    def _stop_server(self, timeout=STOP_DEADLINE):
        """SIGTERM to the VM (RabbitMQ stops cleanly), SIGKILL past the deadline; then wait for
        the process we started and everything under it."""
        if self.proc is None:
            return
        pids = _children(self.proc.pid)
        beam = self.beam_pid()
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10.0)):
            if beam is None or not _pid_alive(beam):
                break
            try:
                os.kill(beam, sig)
            except ProcessLookupError:
                break
            end = time.monotonic() + wait
            while _pid_alive(beam) and time.monotonic() < end:
                time.sleep(POLL)
        for p in pids:  # erl_child_setup, inet_gethost: they end with the VM
            end = time.monotonic() + 10
            while _pid_alive(p) and time.monotonic() < end:
                time.sleep(POLL)
            if _pid_alive(p):
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def kill(self):
        """SIGKILL the VM (a crash); resume() starts it again."""
        beam = self.beam_pid()
        if beam:
            os.kill(beam, signal.SIGKILL)
        self._stop_server(timeout=5)

    def quorum_registered(self, vhost, queue):
        """True once the broker's registry of quorum queues on disk names this one.

        RabbitMQ 3.10 (Ra 2.2) writes that registry (names.dets) lazily, once it has been
        idle for half a second; a crash before that loses the registration: the queue comes
        back with an empty log and no leader, its messages are gone and basic.consume times
        out on it for good (fixed in Ra 2.10, RabbitMQ 3.13). A test that kills the broker
        waits for this first, as a real broker's long-declared queues would be."""
        path = os.path.join(self.dir, "mnesia", self.node, "quorum", self.node, "names.dets")
        # the Ra server's name, an atom: "<vhost>_<queue>" ("%2F" for "/")
        name = ("%2F" if vhost == "/" else vhost) + "_" + queue
        try:
            with open(path, "rb") as f:
                return name.encode() in f.read()
        except OSError:
            return False

    def freeze(self):
        """SIGSTOP the VM: a broker that hangs (connections open, nothing answered)."""
        os.kill(self.beam_pid(), signal.SIGSTOP)

    def thaw(self):
        os.kill(self.beam_pid(), signal.SIGCONT)

    def _stop_epmd(self):
        if self.epmd is None:
            return
        pid = self.epmd.pid
        if _pid_alive(pid):
            for p in [pid] + sorted(_children(pid)):
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.epmd.wait(30)
        self.epmd = None

    def pause(self):
        self._stop_server()

    def resume(self):
        assert self.proc is None, "running"
        if not self._launch():
            raise AssertionError("RabbitMQ did not start again on port %d:\n%s"
                                 % (self.port, self.log_tail()))
        return self

    def running(self):
        b = self.beam_pid()
        return b is not None and _pid_alive(b)

    def stop(self):
        if self.dir is None:
            return
        try:
            self._stop_server()
        finally:
            self._stop_epmd()
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None
            if self in _running:
                _running.remove(self)

    # ---- rabbitmqctl ----

    def ctl(self, *args):
        r = subprocess.run(self._as_mq([os.path.join(RABBIT_BIN, "rabbitmqctl"), "-q",
                                        "-n", self.node] + list(args)),
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=CTL_TIMEOUT,
                           env=self._env(), cwd=self.dir)
        if r.returncode != 0:
            raise AssertionError("rabbitmqctl %s failed (exit %d): %s"
                                 % (" ".join(args), r.returncode, r.stdout.strip()))
        return r.stdout

    def add_vhost(self, name):
        self.ctl("add_vhost", name)
        self.ctl("set_permissions", "-p", name, self.user, ".*", ".*", ".*")
        return name

    def set_memory_watermark(self, fraction):
        """A fraction of the machine's memory; a tiny one raises the memory alarm."""
        self.ctl("set_vm_memory_high_watermark", str(fraction))

    def log_tail(self, lines=40):
        out = []
        for name in ("server.out",):
            try:
                with open(os.path.join(self.dir or "", name), "rb") as f:
                    out += f.read().decode("utf-8", "replace").splitlines()[-lines:]
            except OSError:
                pass
        logdir = os.path.join(self.dir or "", "log")
        if os.path.isdir(logdir):
            for name in sorted(os.listdir(logdir)):
                try:
                    with open(os.path.join(logdir, name), "rb") as f:
                        out += f.read().decode("utf-8", "replace").splitlines()[-lines:]
                except OSError:
                    pass
        return "\n".join(out)


@atexit.register
def _stop_at_exit():
    for s in list(_running):
        try:
            s.stop()
        except Exception:
            pass


def _selftest():
    t0 = time.monotonic()
    srv = MqServer(tls=True).start()
    d = srv.dir
    beam = srv.beam_pid()
    pids = {srv.proc.pid, srv.epmd.pid} | _children(srv.proc.pid)
    print("started node %s on 127.0.0.1:%d (beam %s) in %.1f s"
          % (srv.node, srv.port, beam, time.monotonic() - t0))
    if srv.tls:
        import ssl
        ctx = ssl.create_default_context(cafile=srv.ca_file)
        with socket.create_connection(("127.0.0.1", srv.tls_port), timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                tls.sendall(b"AMQP\x00\x00\x09\x01")
                assert _recv_exact(tls, 7)[0] == 1
        print("amqps on 127.0.0.1:%d: certificate verified against the test CA" % srv.tls_port)
    srv.add_vhost("selftest")
    c = srv.client("selftest")
    c._method(1, 50, 10, b"\x00\x00" + _shortstr("q1") + b"\x02" + _table({}))  # durable
    c._expect(1, 50, 11)
    assert c.publish("", "q1", b"hello", persistent=True)
    assert c.queue_depth("q1")[0] == 1, c.queue_depth("q1")
    c.close()
    print("vhost, queue, publish with confirm: ok")
    srv.pause()
    assert not any(_pid_alive(p) for p in pids - {srv.epmd.pid}), "node processes left"
    assert not amqp_handshake(srv.port, timeout=0.5)
    srv.resume()
    pids |= _children(srv.proc.pid) | {srv.proc.pid}
    c = srv.client("selftest")
    assert c.queue_depth("q1")[0] == 1, "durable message lost across pause/resume"
    c.close()
    print("pause/resume: durable message kept")
    srv.set_memory_watermark("0.0000001")
    srv.set_memory_watermark("0.4")
    print("memory watermark set and restored")
    srv.stop()
    left = [p for p in pids if _pid_alive(p)]
    assert not left and not os.path.exists(d), (left, d)
    print("stopped: no process left, directory removed")


if __name__ == "__main__":
    _selftest()
