"""test_dead_letters.py — POST /dead-letters/replay, black-box on either store: a tailed
JSON line over --tail-line-max is a dead letter; replayed while the limit stands it stays one
(with the reason again); after a restart with a higher limit the replay stores it (queryable,
through the pipeline), removes its dead letter and leaves a line that still fails with its new
reason. Dead letter ids stay the same across the restart; a second replay finds nothing; two
replays of one record at once store it once; the replay is audited and counted; hostile bodies
and analysts are refused."""

import json
import os
import shutil
import tempfile
import threading
import uuid

from helpers import metric, metrics_text
from hub import HubCase, wait_for

DEADLINE = 30.0


class DeadLetterReplay(HubCase):
    def replay(self, h, body, token=None):
        headers = {"Authorization": "Bearer " + (token or h.login_token())}
        if isinstance(body, (bytes, bytearray)):
            headers["Content-Type"] = "application/json"
        return h.request("POST", "/dead-letters/replay", body, headers)

    def dead(self, h, path):
        status, _, body = h.get("/dead-letters", {"limit": 1000})
        self.assertEqual(status, 200, body)
        return [d for d in body["dead_letters"] if d["file"] == path]

    def test_replay_after_raising_the_line_limit(self):
        logs = tempfile.mkdtemp(prefix="minisiem-e2e-dead-")
        self.addCleanup(shutil.rmtree, logs, True)
        h = self.own_hub(args=["--tail-dir", logs, "--tail-line-max", "256"])
        eid = str(uuid.uuid4())
        long_line = json.dumps({"event_id": eid, "timestamp": "2024-05-01T10:00:00Z",
                                "app": "replaytest", "event_type": "export_done",
                                "source_ip": "192.0.2.7",
                                "message": "long " + "x" * 400}).encode()
        bad_line = b"not json replaymarker"
        # Without an event_id: the replay gives it a fixed one.
        twin_line = json.dumps({"app": "replaytwin", "message": "twin " + "y" * 400}).encode()
        path = os.path.join(logs, "app.jsonl")
        with open(path, "wb") as f:
            f.write(long_line + b"\n" + bad_line + b"\n" + twin_line + b"\n")

        def three_dead():
            d = self.dead(h, path)
            return d if len(d) == 3 else None
        dead = wait_for(three_dead, DEADLINE, "three dead letters from app.jsonl")
        by_raw = {d["raw"].encode(): d for d in dead}
        long_id, bad_id = by_raw[long_line]["id"], by_raw[bad_line]["id"]
        twin_id = by_raw[twin_line]["id"]
        self.assertEqual(by_raw[long_line]["reason"], "line longer than 256 bytes")
        self.assertFalse(by_raw[long_line]["raw_truncated"])

        # Hostile bodies and callers, before anything is replayed.
        h.add_user("ana", "analyst")
        analyst = h.login("pw-ana-0123456789", "ana")
        self.assertStatus(self.replay(h, {"ids": [long_id]}, analyst), 403, "analyst")
        for body, name in (({"ids": list(range(1, 1002))}, "ids"),
                           ({"ids": ["1"]}, "ids"), ({"ids": []}, "ids"),
                           ({"ids": [0]}, "ids"), ({"ids": [1], "source": "tail"}, "ids"),
                           ({"limit": 5000}, "limit"), ({"from": "yesterday"}, "from"),
                           ({"idz": [1]}, "idz"), ([1, 2], None)):
            got = self.assertStatus(self.replay(h, body), 400, repr(body)[:60])
            if name:
                self.assertTrue(got["detail"].startswith(name + ":"), got)
        huge = b'{"ids": [' + b",".join([b"1"] * 40000) + b"]}"
        self.assertStatus(self.replay(h, huge), 413, "a body over the route's limit")
        self.assertEqual(len(self.dead(h, path)), 3)

        # The limit still stands: the long line stays a dead letter.
        got = self.assertStatus(self.replay(h, {"ids": [long_id]}), 200, "replay too soon")
        self.assertEqual((got["selected"], got["replayed"], got["failed"]), (1, 0, 1), got)
        self.assertEqual(got["failures"], [{"id": long_id,
                                            "reason": "line longer than 256 bytes"}])
        self.assertEqual(h.get_event(eid)[0], 404)

        # A restart with the default limit (1 MiB): the same ids, and now it decodes.
        h.args = ["--tail-dir", logs]
        h.restart()
        self.assertEqual(sorted(d["id"] for d in self.dead(h, path)),
                         sorted([long_id, bad_id, twin_id]))
        got = self.assertStatus(self.replay(h, {"ids": [long_id, bad_id, 987654321]}), 200,
                                "replay")
        self.assertEqual((got["selected"], got["replayed"], got["stored"], got["duplicates"],
                          got["failed"], got["more"]), (2, 1, 1, 0, 1, False), got)
        self.assertEqual([f["id"] for f in got["failures"]], [bad_id], got)
        self.assertIn("malformed JSON", got["failures"][0]["reason"])

        status, _, ev = h.get_event(eid)
        self.assertEqual(status, 200, ev)
        self.assertEqual((ev["app"], ev["source"], ev["source_file"], ev["source_offset"]),
                         ("replaytest", "tail", path, 0), ev)
        self.assertEqual(ev["raw_message"].encode(), long_line)
        self.assertEqual([e["event_id"] for e in h.events({"app": "replaytest"})["events"]],
                         [eid])
        left = self.dead(h, path)
        self.assertEqual(sorted((d["id"], d["raw"]) for d in left),
                         sorted([(bad_id, "not json replaymarker"), (twin_id, twin_line.decode())]))
        self.assertIn("malformed JSON", [d for d in left if d["id"] == bad_id][0]["reason"])

        # Two replays of one record at once: it is stored once, its dead letter removed.
        answers = []

        def replay_twin():
            answers.append(self.replay(h, {"ids": [twin_id]}))
        threads = [threading.Thread(target=replay_twin) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        twins = [self.assertStatus(a, 200, "twin replay") for a in answers]
        self.assertEqual(sum(g["stored"] for g in twins), 1, twins)
        self.assertEqual(len(h.events({"app": "replaytwin"})["events"]), 1)
        self.assertNotIn(twin_id, [d["id"] for d in self.dead(h, path)])

        # Replayed again: the stored one is gone from the dead letters; a filter selects the
        # one left (and keeps it).
        got = self.assertStatus(self.replay(h, {"ids": [long_id]}), 200, "again")
        self.assertEqual((got["selected"], got["replayed"]), (0, 0), got)
        got = self.assertStatus(self.replay(h, {"source": "tail", "reason": "malformed JSON",
                                                "limit": 10}), 200, "by filter")
        self.assertEqual((got["selected"], got["failed"]), (1, 1), got)
        self.assertEqual(len(self.dead(h, path)), 1)

        # Since the restart: the long line and the twin (once or twice: each replay that
        # read it), the bad line failed twice.
        text = metrics_text(h)
        self.assertEqual(metric(text, "minisiem_dead_letters_replayed_total"),
                         1 + sum(g["replayed"] for g in twins))
        self.assertEqual(metric(text, "minisiem_dead_letters_replay_failed_total"), 2)

        status, _, audit = h.get("/audit", {"limit": 50})
        self.assertEqual(status, 200, audit)
        replays = [e for e in audit["audit"] if e["action"] == "dead_letters.replay"]
        self.assertEqual(len(replays), 6, replays)
        self.assertIn("replayed 1", " ".join(e["detail"] for e in replays))
