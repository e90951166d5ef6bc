"""test_live_tail.py — GET /events/stream, the explorer's live tail: the events committed
after a client connects arrive on its stream in commit order, only those matching its
filters (GET /events' parameters), as GET /events lists them; a client that does not read
is told how many events it missed and goes on; streams are bounded per user; a bad or
unknown parameter is a 400 that names it."""

import http.client
import json
import queue
import socket
import time

from helpers import SSE, metrics
from hub import HubCase, event_uuid, wait_for


def analyst(hub, name):
    hub.add_user(name, "analyst")
    return hub.make_token(name, "analyst")


class Tail(SSE):
    """An SSE reader of GET /events/stream."""

    def __init__(self, h, token, query=""):
        super().__init__(h, token, path="/events/stream" + query)

    def take(self, n, deadline=20.0):
        """The next n messages other than comments: [(event, data)]."""
        out, end = [], time.monotonic() + deadline
        while len(out) < n:
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError("%d of %d messages within %.0f s: %r" %
                                     (len(out), n, deadline, out))
            try:
                ev = self.q.get(timeout=left)
            except queue.Empty:
                continue
            if ev is None:
                raise AssertionError("the stream ended after %r" % out)
            if "data" in ev:
                out.append((ev.get("event"), json.loads(ev["data"])))
        return out

    def until(self, event_id, deadline=20.0):
        """Every event up to and including the one with event_id: [event_id]."""
        out, end = [], time.monotonic() + deadline
        while not out or out[-1] != event_id:
            left = max(0.01, end - time.monotonic())
            if time.monotonic() > end:
                raise AssertionError("no %s on the stream; got %r" % (event_id, out))
            (kind, data), = self.take(1, left)
            assert kind == "event", (kind, data)
            out.append(data["event_id"])
        return out


class LiveTail(HubCase):
    @classmethod
    def setUpClass(cls):
        cls.hub = cls.class_hub()

    def events(self, tag, specs):
        """Events from (event_type, fields) pairs, with ids from tag."""
        return [dict({"event_id": event_uuid("tail", tag, i), "event_type": t,
                      "source_host": "web1", "message": "tail %s %d" % (tag, i)}, **f)
                for i, (t, f) in enumerate(specs)]

    def test_matching_events_arrive_in_commit_order(self):
        tail = Tail(self.hub, self.hub.login_token())
        self.addCleanup(tail.close)
        self.assertEqual(tail.status, 200)
        self.assertTrue(tail.content_type.startswith("text/event-stream"), tail.content_type)
        before = self.events("before", [("LT_OLD", {})])
        self.hub.ingest_ok(before)
        self.assertEqual(tail.until(before[0]["event_id"]), [before[0]["event_id"]])
        evs = self.events("all", [("LT_A", {}), ("LT_B", {"user": "eve"}), ("LT_C", {})])
        self.hub.ingest_ok(evs[:2])
        self.hub.ingest_ok(evs[2:])
        got = tail.until(evs[-1]["event_id"])
        self.assertEqual(got, [e["event_id"] for e in evs])
        # As GET /events lists them.
        status, _, page = self.hub.get("/events", {"event_type": "LT_B"})
        self.assertEqual(status, 200, page)
        tail2 = Tail(self.hub, self.hub.login_token(), "?event_type=LT_B2")
        self.addCleanup(tail2.close)
        ev = self.events("shape", [("LT_B2", {"user": "eve", "source_ip": "198.51.100.9",
                                              "severity": 4})])
        self.hub.ingest_ok(ev)
        (kind, data), = tail2.take(1)
        self.assertEqual(kind, "event")
        status, _, page = self.hub.get("/events", {"event_type": "LT_B2"})
        listed = page["events"][0]
        self.assertEqual(data, listed)

    def test_filters(self):
        q = ("?event_type=LT_F1,LT_F2&user=alice&source_ip=203.0.113.0/24&severity=3,4"
             "&q=Needle")
        tail = Tail(self.hub, self.hub.login_token(), q)
        self.addCleanup(tail.close)
        self.assertEqual(tail.status, 200)
        base = {"user": "alice", "source_ip": "203.0.113.5", "severity": 3,
                "message": "a needle here"}
        specs = [
            ("LT_F1", base),                                     # 0 matches
            ("LT_F3", base),                                     # 1 type
            ("LT_F2", dict(base, user="bob")),                   # 2 user
            ("LT_F2", dict(base, source_ip="203.0.114.5")),      # 3 address
            ("LT_F1", dict(base, severity=5)),                   # 4 severity
            ("LT_F1", dict(base, message="no such word")),       # 5 text
            ("LT_F2", dict(base, severity=4, message="NEEDLE")),  # 6 matches (case folded)
            ("LT_F1", base),                                     # 7 matches
        ]
        evs = self.events("filters", specs)
        self.hub.ingest_ok(evs)
        want = [evs[i]["event_id"] for i in (0, 6, 7)]
        self.assertEqual(tail.until(want[-1]), want)
        # The same filters on GET /events find the same events.
        status, _, page = self.hub.get("/events" + q)
        self.assertEqual(status, 200, page)
        self.assertEqual([e["event_id"] for e in page["events"]], want[::-1])

    def test_bad_and_unknown_parameters_are_400(self):
        for query, name in (("?bogus=1", "bogus"), ("?severity=9", "severity"),
                            ("?source_ip=nope", "source_ip"), ("?cursor=abc", "cursor"),
                            ("?limit=10", "limit"), ("?keepalive=0", "keepalive")):
            status, _, body = self.hub.get("/events/stream" + query)
            self.assertEqual(status, 400, "%s: %r" % (query, body))
            self.assertIn(name, body["detail"], query)
        status, _, _ = self.hub.get("/events/stream", token=False)
        self.assertEqual(status, 401)

    def test_per_user_limit(self):
        token = analyst(self.hub, "tailer")
        tails = []
        for _ in range(4):
            t = Tail(self.hub, token)
            self.addCleanup(t.close)
            self.assertEqual(t.status, 200)
            tails.append(t)
        status, headers, body = self.hub.get("/events/stream", token=token)
        self.assertEqual(status, 429, body)
        self.assertEqual(headers.get("Retry-After"), "10")
        # Another user is not held up by this one.
        other = Tail(self.hub, analyst(self.hub, "tailer2"))
        self.addCleanup(other.close)
        self.assertEqual(other.status, 200)

    def test_slow_client_is_told_what_it_missed(self):
        # A client that does not read: a small receive window, so the hub's socket and then
        # the stream's queue fill while events keep coming.
        conn = http.client.HTTPConnection("127.0.0.1", self.hub.port, timeout=60)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", self.hub.port))
        conn.sock = sock
        self.addCleanup(conn.close)
        conn.request("GET", "/events/stream?event_type=LT_SLOW",
                     headers={"Authorization": "Bearer " + self.hub.login_token()})
        resp = conn.getresponse()
        self.assertEqual(resp.status, 200)
        dropped0 = metrics(self.hub).get("minisiem_events_stream_dropped_total", 0)
        pad = "x" * 6000
        ids, batch = [], 100
        t0 = time.monotonic()
        i = 0
        # Until the hub drops (its socket buffers are a few MiB), then one more batch.
        while True:
            evs = [{"event_id": event_uuid("tail", "slow", i + k), "event_type": "LT_SLOW",
                    "message": "slow %d %s" % (i + k, pad)} for k in range(batch)]
            i += batch
            self.hub.ingest_ok(evs)
            ids += [e["event_id"] for e in evs]
            if metrics(self.hub).get("minisiem_events_stream_dropped_total", 0) > dropped0:
                break
            self.assertLess(time.monotonic() - t0, 120, "the hub never dropped")
        self.hub.ingest_ok([{"event_id": event_uuid("tail", "slow", "last"),
                             "event_type": "LT_SLOW", "message": "last"}])
        ids.append(event_uuid("tail", "slow", "last"))
        # Reading again: the events it got are in order and the notices count the others
        # (the last events may be among them: a notice follows once the queue is empty).
        got, dropped, kind = [], 0, None
        data = []
        sock.settimeout(30)
        while len(got) + dropped < len(ids):
            line = resp.readline()
            self.assertTrue(line, "the stream ended")
            line = line.decode().rstrip("\n")
            if line.startswith("event:"):
                kind = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
            elif line == "" and data:
                d = json.loads("\n".join(data))
                if kind == "dropped":
                    dropped += d["dropped"]
                else:
                    got.append(d["event_id"])
                kind, data = None, []
        self.assertGreater(dropped, 0)
        self.assertEqual(len(got) + dropped, len(ids))
        pos = {e: k for k, e in enumerate(ids)}
        self.assertEqual([pos[e] for e in got], sorted(pos[e] for e in got))
        m = metrics(self.hub)
        self.assertGreaterEqual(m["minisiem_events_stream_dropped_total"] - dropped0, dropped)
        # The writer was not held up: every event is stored.
        status, _, page = self.hub.get("/events", {"event_type": "LT_SLOW", "count": "true",
                                                    "limit": 1})
        self.assertEqual(page["total"], len(ids))

    def test_stream_ends_with_its_login(self):
        # A revoked login ends the stream (checked every second).
        tok = self.hub.login()
        tail = Tail(self.hub, tok)
        self.addCleanup(tail.close)
        self.assertEqual(tail.status, 200)
        status, _, _ = self.hub.request("POST", "/auth/logout",
                                        headers={"Authorization": "Bearer " + tok})
        self.assertIn(status, (200, 204))
        wait_for(lambda: tail.q.qsize() > 0, 10, "the end notice")
        (kind, data), = tail.take(1)
        self.assertEqual(kind, "end")
        tail.wait_end()
