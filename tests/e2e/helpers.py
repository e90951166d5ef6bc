"""helpers.py — what more than one end-to-end test needs besides the hub itself: /metrics
parsing, raw-socket HTTP exchanges, an SSE reader for /alerts/stream, free ports and the
agent binary's path."""

import http.client
import json
import os
import queue
import re
import select
import socket
import threading
import time

import hub

_MISSING = object()
# label values are quoted and may hold braces (route="/events/{id}")
_SERIES_RE = re.compile(
    r'^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{(?:[^"}]|"(?:[^"\\]|\\.)*")*\})?)\s+(\S+)\s*$')


# ---- /metrics ----

def metrics_text(h):
    """The body of GET /metrics (asserts 200)."""
    status, _, body = h.request("GET", "/metrics")
    assert status == 200, "GET /metrics: %s %r" % (status, body)
    return body.decode() if isinstance(body, bytes) else str(body)


def parse_metrics(text):
    """{series: value} of a Prometheus text page; a series is the name with its labels, as
    printed (e.g. 'minisiem_events_received_total{source="tail"}')."""
    out = {}
    for line in text.splitlines():
        m = _SERIES_RE.match(line)
        if m and not line.startswith("#"):
            try:
                out[m.group(1)] = float(m.group(2))
            except ValueError:
                pass
    return out


def metrics(h):
    """{series: value} of a hub's /metrics."""
    return parse_metrics(metrics_text(h))


def metric(src, series, default=_MISSING):
    """The value of one series (name and labels exactly as printed) from a hub or from the
    text of /metrics. A missing series fails the test unless a default is given."""
    text = src if isinstance(src, str) else metrics_text(src)
    got = parse_metrics(text)
    if series in got:
        return got[series]
    if default is not _MISSING:
        return default
    raise AssertionError("no %s in /metrics" % series)


# ---- raw sockets ----

def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on (now)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def can_bind(addr, family=socket.AF_INET):
    """Whether this machine has the (loopback) address addr."""
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            s.bind((addr, 0))
        return True
    except OSError:
        return False


def ipv6_loopback():
    return can_bind("::1", socket.AF_INET6)


def recv_until_closed(sock, timeout, limit=None):
    """Read until the peer closes, timeout seconds pass or limit bytes came.
    -> (bytes, closed by the peer)."""
    out, end = b"", time.monotonic() + timeout
    while limit is None or len(out) < limit:
        left = end - time.monotonic()
        if left <= 0:
            return out, False
        sock.settimeout(left)
        try:
            b = sock.recv(65536)
        except socket.timeout:
            return out, False
        except OSError:
            return out, True
        if not b:
            return out, True
        out += b
    return out, False


def raw_exchange(port, data, timeout, shut=True):
    """Send data, half-close, read until the hub closes or timeout. -> (bytes, closed)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        try:
            s.sendall(data)
            if shut:
                s.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the hub refused and closed while we were still sending
        return recv_until_closed(s, timeout)
    finally:
        s.close()


def status_of(data):
    """The status code of a raw HTTP answer, or None."""
    m = re.match(rb"HTTP/1\.[01] (\d{3}) ", data)
    return int(m.group(1)) if m else None


def read_reply(sock, timeout=10):
    """Bytes until the end of the answer's header block (or EOF, error, timeout)."""
    sock.settimeout(timeout)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    except OSError:
        pass
    return data


def closed_by_peer(sock, deadline):
    """True when the hub closes sock (EOF or reset) within deadline seconds, while the
    client keeps trickling a byte every 0.5 s."""
    end = time.monotonic() + deadline
    sock.settimeout(0.5)
    while time.monotonic() < end:
        try:
            if sock.recv(4096) == b"":
                return True
        except socket.timeout:
            pass
        except OSError:
            return True
        try:
            sock.sendall(b"x")
        except OSError:
            return True
    return False


def health_time(port, source="127.0.0.1", timeout=10):
    """Seconds for GET /health to answer 200 on a new connection from source."""
    t0 = time.monotonic()
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(source, 0))
    try:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = read_reply(s, timeout)
    finally:
        s.close()
    assert data.startswith(b"HTTP/1.1 200"), data[:100]
    return time.monotonic() - t0


def timed_get(port, path, timeout):
    """GET path on a fresh connection; -> (status, seconds)."""
    t0 = time.monotonic()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        r.read()
        return r.status, time.monotonic() - t0
    finally:
        c.close()


def post_stream(port, path, headers, body, timeout=60):
    """POST body over a raw socket, stopping early when the hub answers before the end (a
    413 from Content-Length). -> (status, headers, parsed JSON or bytes)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        head = "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n" % (path, len(body))
        head += "".join("%s: %s\r\n" % kv for kv in headers.items()) + "\r\n"
        try:
            s.sendall(head.encode())
            view = memoryview(body)
            for i in range(0, len(body), 256 * 1024):
                if select.select([s], [], [], 0)[0]:
                    break  # an early answer is waiting
                s.sendall(view[i:i + 256 * 1024])
        except (BrokenPipeError, ConnectionResetError):
            pass
        resp = http.client.HTTPResponse(s)
        resp.begin()
        data = resp.read()
        try:
            data = json.loads(data)
        except ValueError:
            pass
        return resp.status, resp.headers, data
    finally:
        s.close()


# ---- server-sent events ----

class SSE:
    """GET /alerts/stream (or another stream path); events parsed on a thread into a queue."""

    def __init__(self, h, token, last_event_id=None, timeout=30, path="/alerts/stream"):
        headers = {"Authorization": "Bearer " + token, "Accept": "text/event-stream"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = last_event_id
        self.conn = http.client.HTTPConnection("127.0.0.1", h.port, timeout=timeout)
        self.conn.request("GET", path, headers=headers)
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        self.content_type = self.resp.getheader("Content-Type")
        self.q = queue.Queue()
        self.comments = []  # the comment lines (": keep-alive"), in order
        self.thread = threading.Thread(target=self._read, daemon=True)
        if self.status == 200:
            self.thread.start()

    def _read(self):
        ev = {}
        try:
            while True:
                raw = self.resp.readline()
                if not raw:
                    break
                line = raw.decode("utf-8").rstrip("\r\n")
                if line == "":
                    if ev:
                        self.q.put(ev)
                    ev = {}
                elif line.startswith(":"):
                    self.comments.append(line)
                else:
                    k, _, v = line.partition(":")
                    ev[k] = v[1:] if v.startswith(" ") else v
        except (OSError, ValueError, AttributeError, http.client.HTTPException):
            pass
        self.q.put(None)

    def next_alert(self, pred=lambda a: True, deadline=10.0):
        """The next 'alert' event whose data satisfies pred -> (id, data)."""
        end = time.monotonic() + deadline
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError("no matching alert on the stream within %.0f s" % deadline)
            try:
                ev = self.q.get(timeout=left)
            except queue.Empty:
                continue
            if ev is None:
                raise AssertionError("the stream ended")
            if ev.get("event") == "alert":
                data = json.loads(ev["data"])
                if pred(data):
                    return ev.get("id"), data

    def wait_end(self, deadline=10.0):
        """Wait for the hub to end the stream; fails if it is still open after deadline."""
        end = time.monotonic() + deadline
        while True:
            try:
                if self.q.get(timeout=max(0.01, end - time.monotonic())) is None:
                    return
            except queue.Empty:
                raise AssertionError("the stream was still open %.0f s later" % deadline)

    def close(self):
        try:
            self.conn.sock.shutdown(socket.SHUT_RDWR)
        except (OSError, AttributeError):
            pass
        if self.thread.is_alive():
            self.thread.join(5)
        self.conn.close()


# ---- the agent ----

def agent_bin():
    """minisiem-agent beside the hub binary under test."""
    return os.path.join(os.path.dirname(hub.BIN), "minisiem-agent")


def require_agent():
    """The agent is built with the hub (make check builds both): missing, it is a failure."""
    p = agent_bin()
    assert os.path.isfile(p) and os.access(p, os.X_OK), \
        "minisiem-agent not found beside the hub binary (%s): build it with `make %s`" % (
            p, os.path.relpath(p))
    return p
