"""test_tail.py — the JSON-lines directory tailer (--tail-dir), black-box: files appended,
rotated (rename, copy-truncate), truncated and deleted while the hub runs and while it is
killed with SIGKILL and restarted; every line stored exactly once, bad input kept as dead
letters, the event ids the documented uuid5 of "dev:ino:offset:line"."""

import hashlib
import json
import os
import random
import shutil
import time
import unittest
import uuid

from helpers import metrics_text
from hub import HubCase, wait_for

DEADLINE = 30.0
NAMESPACE = uuid.UUID("e0fb347a-3294-52db-9bc2-9be6fe9d520b")  # src/core/uuid.c
TS = "2024-03-15T12:00:00Z"
LINE_MAX = 1 << 20  # the tailer's default


def tail_id(st, offset, line):
    """The id the tailer gives a line without its own event_id: uuid5 in the project's
    namespace of "dev:ino:offset:" and the line (bytes, without its newline)."""
    name = ("%d:%d:%d:" % (st.st_dev, st.st_ino, offset)).encode() + line
    h = bytearray(hashlib.sha1(NAMESPACE.bytes + name).digest()[:16])
    h[6] = (h[6] & 0x0F) | 0x50
    h[8] = (h[8] & 0x3F) | 0x80
    return str(uuid.UUID(bytes=bytes(h)))


class LogFile:
    """One logical log file the test writes: where it is, what was written, what is known
    to be stored."""

    def __init__(self, root, rel):
        self.root, self.rel = root, rel
        self.path = os.path.join(root, rel)
        self.last = None       # (stat, offset, line bytes) of the last complete line
        self.partial = None    # (offset, line, bytes written) of a line written in part
        self.confirmed = False  # a line of the current file is known stored
        self.rotations = 0

    def write(self, data):
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        with open(self.path, "ab") as f:
            f.write(data)


class TailE2E(HubCase):
    def setUp(self):
        super().setUp()
        self.logs = os.path.join(self.make_tmp(), "logs")
        os.makedirs(self.logs)

    def make_tmp(self):
        import tempfile
        d = tempfile.mkdtemp(prefix="minisiem-e2e-tail-")
        self.addCleanup(shutil.rmtree, d, True)
        return d

    def start_hub(self):
        return self.own_hub(args=["--tail-dir", self.logs])

    def get_ok(self, h, event_id):
        status, _, body = h.get_event(event_id)
        return status == 200

    def messages(self, h, app):
        out = {}
        for e in h.all_events({"app": app}, max_pages=500):
            out[e["message"]] = out.get(e["message"], 0) + 1
        return out

    # ---- the basics and bad input ----

    def test_lines_ids_and_dead_letters(self):
        h = self.start_hub()
        lf = LogFile(self.logs, "app.jsonl")
        lines = []
        bad = [
            b"\x00\x01\x02\xff\xfe garbage \x80\x81",               # binary
            b'{"app":"tailbasic","message":"caf\xe9 latin-1"}',     # invalid UTF-8
            b'{"app":"tailbasic","message":',                       # malformed JSON
            b"[1,2,3]",                                             # not an object
            b'{"app":"tailbasic","message":"m","http_status":"x"}',  # schema
        ]
        data = b""
        offsets = {}
        for i in range(5):
            good = json.dumps({"ts": TS, "app": "tailbasic", "message": "tailbasic %d" % i,
                               "level": "ERROR", "src_ip": "203.0.113.%d" % i,
                               "http_status": 500, "extra": {"k": i}}).encode()
            lines.append((len(data), good))
            data += good + b"\n"
            offsets[bad[i]] = len(data)
            data += bad[i] + b"\r\n"
        big_off = len(data)
        data += b'{"app":"tailbasic","message":"' + b"x" * (LINE_MAX + 100000) + b'"}\n'
        last = json.dumps({"ts": TS, "app": "tailbasic", "message": "tailbasic 5"}).encode()
        lines.append((len(data), last))
        data += last + b"\n"
        # Written in uneven pieces, as a busy writer would.
        for k in range(0, len(data), 300007):
            lf.write(data[k:k + 300007])
        st = os.stat(lf.path)
        ids = [tail_id(st, off, line) for off, line in lines]
        for eid in ids:
            wait_for(lambda: self.get_ok(h, eid), DEADLINE, "event %s" % eid)
        status, _, ev = h.get_event(ids[0])
        self.assertEqual(status, 200)
        self.assertEqual(ev["message"], "tailbasic 0")
        self.assertEqual(ev["source"], "tail")
        self.assertEqual(ev["source_file"], os.path.realpath(lf.path))
        self.assertEqual(ev["source_offset"], 0)
        self.assertEqual(ev["raw_message"], lines[0][1].decode())
        self.assertEqual(ev["level"], "ERROR")
        self.assertEqual(ev["source_ip"], "203.0.113.0")
        self.assertEqual(ev["data"], {"extra": {"k": 0}})
        self.assertEqual(self.messages(h, "tailbasic"),
                         {"tailbasic %d" % i: 1 for i in range(6)})

        status, _, body = h.get("/dead-letters", {"limit": 1000})
        self.assertEqual(status, 200)
        mine = {d["offset"]: d for d in body["dead_letters"]
                if d["file"] == os.path.realpath(lf.path)}
        self.assertEqual(sorted(mine), sorted(list(offsets.values()) + [big_off]))
        for raw, off in offsets.items():
            self.assertEqual(mine[off]["source"], "tail")
            self.assertTrue(mine[off]["reason"])
        self.assertEqual(mine[big_off]["reason"], "line longer than %d bytes" % LINE_MAX)
        self.assertIn("http_status", mine[offsets[bad[4]]]["reason"])

        def metrics():
            return metrics_text(h)
        want = ['minisiem_dead_letters_total{source="tail"} 6',
                'minisiem_events_received_total{source="tail"} 12',
                'minisiem_events_rejected_total{source="tail"} 6', "minisiem_tail_files 1"]
        # Counted once the tailer has seen its commit: a moment after the events show.
        try:
            wait_for(lambda: all(w in metrics() for w in want), DEADLINE, "the tail metrics")
        except AssertionError:
            self.assertEqual([w for w in want if w not in metrics()], [])
        # Still running, still reading.
        lf.write(json.dumps({"ts": TS, "app": "tailbasic", "message": "tailbasic 6"}).encode()
                 + b"\n")
        wait_for(lambda: "tailbasic 6" in self.messages(h, "tailbasic"), DEADLINE, "line 6")

    def test_csv_files(self):
        # A *.csv file: the header maps the columns, quoted fields hold commas, quotes and
        # line breaks (a record may arrive in two writes), bad rows are dead letters, and a
        # restart past the header reads it again from the file's first line.
        h = self.start_hub()
        lf = LogFile(self.logs, "sub/access.csv")
        lf.write(b"\xef\xbb\xbftimestamp,app,src_ip,event_type,level,message\r\n"
                 b'2024-03-15T12:00:00Z,tailcsv,203.0.113.9,LOGIN_FAIL,info,"bad, password"\r\n'
                 b"2024-03-15T12:00:01Z,tailcsv,not-an-ip,X,info,bad address\r\n"
                 b"2024-03-15T12:00:02Z,tailcsv,,X,info,too,many\r\n"
                 b'2024-03-15T12:00:03Z,tailcsv,,NOTE,warning,"first line\n')
        wait_for(lambda: "bad, password" in self.messages(h, "tailcsv"), DEADLINE, "row 1")
        lf.write(b'\nthird line, ""quoted"""\n')
        want = {"bad, password": 1, 'first line\n\nthird line, "quoted"': 1}
        wait_for(lambda: self.messages(h, "tailcsv") == want, DEADLINE, "the multi-line row")
        (e,) = h.all_events({"app": "tailcsv", "event_type": "LOGIN_FAIL"})
        self.assertEqual((e["source_ip"], e["level"], e["timestamp"], e["source"]),
                         ("203.0.113.9", "INFO", "2024-03-15T12:00:00.000000Z", "tail"))
        path = os.path.realpath(lf.path)

        def dead():
            status, _, body = h.get("/dead-letters", {"limit": 1000})
            return sorted(d["reason"] for d in body["dead_letters"] if d["file"] == path)
        wait_for(lambda: len(dead()) == 2, DEADLINE, "two dead letters")
        self.assertEqual(dead(), ["row has more than the header's 6 fields",
                                  "src_ip: not an IP address"])
        # Counted per record: the header and a record's second line are no records.
        want_m = ['minisiem_events_received_total{source="tail"} 4',
                  'minisiem_events_rejected_total{source="tail"} 2']
        wait_for(lambda: all(w in metrics_text(h) for w in want_m), DEADLINE, "the metrics")
        h.restart()
        lf.write(b"2024-03-15T12:00:04Z,tailcsv,,AFTER,info,after the restart\n")
        want["after the restart"] = 1
        wait_for(lambda: self.messages(h, "tailcsv") == want, DEADLINE, "the row after restart")

    # ---- rotation, truncation, deletion, SIGKILL ----

    def test_kill_restart_exactly_once(self):
        rnd = random.Random(int(os.environ.get("TAIL_SEED", "20240315")))
        h = self.start_hub()
        files = [LogFile(self.logs, "a.jsonl"), LogFile(self.logs, "sub/b.jsonl")]
        written = []
        seq = [0]
        up = [True]
        ops = []  # what was done, for the failure message

        def note(what, lf, first=None):
            ops.append("%s %s%s%s" % (what, lf.rel, "" if first is None else
                                      " lines %d..%d" % (first, seq[0] - 1),
                                      "" if up[0] else " (hub down)"))

        def line(lf):
            n = seq[0]
            seq[0] += 1
            written.append(n)
            pad = "p" * rnd.randrange(0, 120)
            return json.dumps({"ts": TS, "app": "tailchaos", "message": "tailchaos %d" % n,
                               "file": lf.rel, "pad": pad}).encode() + b"\n"

        def append(lf, k, partial_end=False):
            """k new lines (after finishing a partial one), maybe ending with half a line."""
            first = seq[0]
            if not os.path.exists(lf.path):
                lf.confirmed = False
            start = os.path.getsize(lf.path) if os.path.exists(lf.path) else 0
            data, last = b"", None
            if lf.partial:
                off, full, cut = lf.partial
                data, last = full[cut:], (off, full)
                lf.partial = None
            for _ in range(k):
                ln = line(lf)
                last = (start + len(data), ln)
                data += ln
            if partial_end:
                ln = line(lf)
                cut = rnd.randrange(1, len(ln) - 1)
                lf.partial = (start + len(data), ln, cut)
                data += ln[:cut]
            lf.write(data)
            note("append", lf, first)
            if last:
                lf.last = (os.stat(lf.path), last[0], last[1][:-1])

        def confirm(lf):
            """Wait until the last complete line of lf is stored (the hub is up)."""
            if lf.partial:
                append(lf, 0)
            if lf.last is None:
                return
            eid = tail_id(*lf.last)
            wait_for(lambda: self.get_ok(h, eid), DEADLINE,
                     "line at %s:%d stored" % (lf.rel, lf.last[1]))
            lf.confirmed = True

        def rotate(lf):
            if not lf.confirmed or lf.partial:
                return
            lf.rotations += 1
            os.rename(lf.path, "%s.%d" % (lf.path, lf.rotations))
            note("rename to .%d" % lf.rotations, lf)
            if rnd.random() < 0.6:
                # The application still writes to the renamed file for a moment.
                late = LogFile(self.logs, "%s.%d" % (lf.rel, lf.rotations))
                first = seq[0]
                for _ in range(rnd.randrange(1, 20)):
                    late.write(line(late))
                note("append", late, first)
            lf.confirmed = False
            lf.last = None

        def cut_short(lf, copy):
            """copytruncate (or a plain truncate) once everything written is stored."""
            if not up[0] or not os.path.exists(lf.path):
                return
            confirm(lf)
            if copy:
                shutil.copyfile(lf.path, lf.path + ".ct%d" % seq[0])
            with open(lf.path, "r+b") as f:
                f.truncate(0)
            note("copytruncate" if copy else "truncate", lf)
            lf.last = None
            append(lf, rnd.randrange(1, 4))
            confirm(lf)  # before it can grow past where the hub had read to

        def delete(lf):
            if not up[0] or not os.path.exists(lf.path):
                return
            confirm(lf)
            os.unlink(lf.path)
            note("delete", lf)
            lf.last = None
            lf.confirmed = False
            append(lf, rnd.randrange(1, 4))
            confirm(lf)  # a reused inode must not look like the old file grown

        kills = sorted(rnd.sample(range(5, 75), 5))
        for step in range(80):
            if step == 20:
                files.append(LogFile(self.logs, "sub/new/deeper/c.jsonl"))
            lf = rnd.choice(files)
            r = rnd.random()
            if r < 0.6:
                append(lf, rnd.randrange(1, 400), partial_end=rnd.random() < 0.3)
            elif r < 0.75:
                rotate(lf)
            elif r < 0.83:
                cut_short(lf, copy=True)
            elif r < 0.9:
                cut_short(lf, copy=False)
            else:
                delete(lf)
            if kills and step == kills[0]:
                kills.pop(0)
                for f in files:
                    if up[0] and f.last and not f.confirmed and rnd.random() < 0.5:
                        confirm(f)  # so that rotations while down stay recoverable
                time.sleep(rnd.random() ** 3 * 0.3)  # often in the middle of reading
                h.kill()
                up[0] = False
                ops.append("SIGKILL")
                for _ in range(rnd.randrange(0, 4)):
                    g = rnd.choice(files)
                    if rnd.random() < 0.7:
                        append(g, rnd.randrange(1, 200), partial_end=rnd.random() < 0.3)
                    else:
                        rotate(g)
                h.start()
                up[0] = True
                ops.append("restarted")
        for lf in files:
            confirm(lf)

        def all_in():
            got = self.messages(h, "tailchaos")
            return got if len(got) >= len(written) else None
        try:
            got = wait_for(all_in, DEADLINE, "%d lines stored" % len(written), interval=0.5)
        except AssertionError:
            got = self.messages(h, "tailchaos")
        missing = [n for n in written if "tailchaos %d" % n not in got]
        twice = {m: c for m, c in got.items() if c != 1}
        self.assertEqual(missing, [], "lines never stored (%d of %d); what was done:\n%s"
                         % (len(missing), len(written), "\n".join(ops)))
        self.assertEqual(twice, {}, "lines stored more than once")
        self.assertEqual(len(got), len(written))
        if os.environ.get("TAIL_VERBOSE"):
            print("\n%d lines, %d hub runs, rotations %s" % (len(written), h.runs, [f.rotations for f in files]))
        # Nothing left unparsed: no dead letters from these files.
        status, _, body = h.get("/dead-letters", {"limit": 1000})
        self.assertEqual(status, 200)
        self.assertEqual([d for d in body["dead_letters"]
                          if d["file"] and d["file"].startswith(os.path.realpath(self.logs))],
                         [])


if __name__ == "__main__":
    unittest.main()
