"""test_backpressure.py — a full writer queue answers 503 with Retry-After, never an error
or a silent drop; every 200 is stored exactly once."""

from hub import HubCase, Load


class Backpressure(HubCase):
    def test_small_queue_answers_200_or_503_with_retry_after(self):
        hub = self.own_hub(args=["--queue-max", "20"])
        load = Load(hub, "bp", threads=8, batch=10, max_events=1500).start()
        self.assertTrue(load.join_done(120), "client threads did not finish")
        self.assertEqual(load.bad, [], "answers other than 200 or a JSON 503")
        self.assertEqual(load.conn_errors, [])
        for v in load.retry_after:
            self.assertIsNotNone(v, "503 without Retry-After")
            self.assertRegex(v, r"^\d+$", "Retry-After must be delay-seconds")
        self.assertGreater(load.statuses[200], 0)
        ids = [e["event_id"] for e in hub.all_events({"app": "bp"})]
        self.assertEqual(len(ids), len(set(ids)), "an event stored twice")
        self.assertEqual(set(ids), set(load.acked), "stored events differ from the 200-acked ones")
