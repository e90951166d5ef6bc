"""test_pagination.py — paging /events with next_cursor: no gaps, no repeats, newest first,
ties broken by insertion order; stable while new events keep arriving."""

import threading

from hub import HubCase, event_uuid, wait_for

BASE = 1710028800  # 2024-03-10T00:00:00Z
N = 1000
PAGE = 37


def ts_of(i):
    # groups of 3 events share a timestamp, so page boundaries fall inside ties
    return BASE + (i // 3) * 10


class Pagination(HubCase):
    @classmethod
    def setUpClass(cls):
        cls.hub = cls.class_hub()
        # app "pag": N events inserted in order 0..N-1 in 4 batches
        cls.ids = [event_uuid("pag", i) for i in range(N)]
        for lo in range(0, N, 250):
            evs = [{"event_id": cls.ids[i], "timestamp": ts_of(i), "app": "pag",
                    "event_type": "page_test", "message": "page event %d" % i}
                   for i in range(lo, lo + 250)]
            status, _, body = cls.hub.ingest(evs)
            assert status == 200 and body["accepted"] == 250, (status, body)

    def page_all(self, params, max_pages):
        params = dict(params, limit=PAGE)
        pages = []
        for _ in range(max_pages):
            data = self.hub.events(params)
            self.assertLessEqual(len(data["events"]), PAGE)
            pages.append(data["events"])
            if data["next_cursor"] is None:
                return pages
            self.assertIsInstance(data["next_cursor"], str)
            params["cursor"] = data["next_cursor"]
        self.fail("still a next_cursor after %d pages" % max_pages)

    def test_pages_cover_everything_once_in_order(self):
        pages = self.page_all({"app": "pag"}, max_pages=N // PAGE + 3)
        got = [e["event_id"] for p in pages for e in p]
        # newest first: timestamp desc, then insertion order desc
        want = [self.ids[i] for i in sorted(range(N), key=lambda i: (ts_of(i), i), reverse=True)]
        self.assertEqual(len(got), N)
        self.assertEqual(len(set(got)), N, "an event repeated across pages")
        self.assertEqual(got, want)
        self.assertEqual([len(p) for p in pages[:-1]], [PAGE] * (len(pages) - 1))
        self.assertEqual(len(pages), (N + PAGE - 1) // PAGE)

    def test_timestamps_never_increase_across_pages(self):
        pages = self.page_all({"app": "pag"}, max_pages=N // PAGE + 3)
        stamps = [e["timestamp"] for p in pages for e in p]
        self.assertEqual(stamps, sorted(stamps, reverse=True))

    def test_before_ts_and_before_id_page_like_the_cursor(self):
        # DESIGN: the cursor's other form: continue after the last event of the page, named by
        # its timestamp and event_id.
        want = [e["event_id"] for p in self.page_all({"app": "pag"}, N // PAGE + 3) for e in p]
        got, params = [], {"app": "pag", "limit": PAGE}
        for _ in range(N // PAGE + 3):
            page = self.hub.events(params)["events"]
            got.extend(e["event_id"] for e in page)
            if len(page) < PAGE:
                break
            params.update(before_ts=page[-1]["timestamp"], before_id=page[-1]["event_id"])
        self.assertEqual(got, want)

    def test_before_ts_alone_is_strictly_older(self):
        t = ts_of(600)
        got = self.hub.events({"app": "pag", "before_ts": str(t), "limit": 1000})["events"]
        want = [self.ids[i] for i in sorted(range(N), key=lambda i: (ts_of(i), i), reverse=True)
                if ts_of(i) < t]
        self.assertEqual([e["event_id"] for e in got], want)

    def test_start_and_end_are_from_and_to(self):
        lo, hi = str(ts_of(100)), str(ts_of(300))
        a = self.hub.events({"app": "pag", "from": lo, "to": hi, "limit": 1000})["events"]
        b = self.hub.events({"app": "pag", "start": lo, "end": hi, "limit": 1000})["events"]
        self.assertEqual([e["event_id"] for e in a], [e["event_id"] for e in b])
        self.assertGreater(len(a), 0)

    def test_paging_mistakes_are_400_naming_the_parameter(self):
        first = self.hub.events({"app": "pag", "limit": 2})
        last = first["events"][-1]
        cases = [
            ({"app": "pag", "bogus": "1"}, "bogus: unknown parameter"),
            ({"app": "pag", "befor_ts": "1"}, "befor_ts: unknown parameter"),
            ({"app": "pag", "total": "true"}, "total: unknown parameter"),
            ({"app": "pag", "count": "yes"}, "count: true or false"),
            ({"app": "pag", "from": "1", "start": "2"}, "from: given twice (also as start)"),
            ({"app": "pag", "cursor": first["next_cursor"], "before_id": last["event_id"]},
             "cursor: give either cursor or before_ts/before_id"),
            ({"app": "pag", "before_id": "not-a-uuid"}, "before_id: not a UUID"),
            ({"app": "pag", "before_id": event_uuid("pag", "nonesuch")},
             "before_id: no such event"),
            ({"app": "pag", "before_ts": "2024-03-10T00:00:01Z", "before_id": last["event_id"]},
             "before_id: its event has another timestamp than before_ts"),
            ({"app": "pag", "before_ts": "yesterday"}, "before_ts: not ISO-8601 or epoch"),
        ]
        for params, detail in cases:
            with self.subTest(params=params):
                status, _, body = self.hub.get("/events", params)
                self.assertEqual(status, 400, body)
                self.assertEqual(body.get("detail"), detail, body)

    def test_unknown_parameters_of_the_list_endpoints_are_400(self):
        for path in ("/stats/summary", "/stats/timeseries", "/stats/top", "/alerts"):
            with self.subTest(path=path):
                status, _, body = self.hub.get(path, {"from": str(BASE), "bogus": "1"})
                self.assertEqual(status, 400, body)
                self.assertEqual(body.get("detail"), "bogus: unknown parameter", body)
                status, _, body = self.hub.get(path, {"from": str(BASE)})
                self.assertEqual(status, 200, body)

    def test_default_limit_is_200(self):
        data = self.hub.events({"app": "pag"})
        self.assertEqual(len(data["events"]), 200)
        self.assertIsNotNone(data["next_cursor"])

    def test_limit_1000_returns_everything_in_one_page(self):
        data = self.hub.events({"app": "pag", "limit": 1000})
        self.assertEqual(len(data["events"]), N)
        # exactly N match: there may or may not be a cursor, but the next page must be empty
        if data["next_cursor"] is not None:
            more = self.hub.events({"app": "pag", "limit": 1000, "cursor": data["next_cursor"]})
            self.assertEqual(more["events"], [])
            self.assertIsNone(more["next_cursor"])

    def test_cursor_with_filters_and_time_range(self):
        lo, hi = ts_of(100), ts_of(700)
        pages = self.page_all({"app": "pag", "from": str(lo), "to": str(hi)}, max_pages=30)
        got = [e["event_id"] for p in pages for e in p]
        want = [self.ids[i] for i in sorted(range(N), key=lambda i: (ts_of(i), i), reverse=True)
                if lo <= ts_of(i) <= hi]
        self.assertEqual(got, want)

    def test_paging_while_ingesting(self):
        # A second app so the first tests' expectations stay exact.
        n0 = 400
        old = [event_uuid("pagc", i) for i in range(n0)]
        for lo in range(0, n0, 200):
            self.hub.ingest_ok([{"event_id": old[i], "timestamp": BASE + i * 10, "app": "pagc",
                                 "event_type": "page_test"} for i in range(lo, lo + 200)])
        stop = threading.Event()
        added, errors = [], []

        def writer():
            k = 0
            try:
                while not stop.is_set() and k < 60:
                    evs = []
                    for j in range(10):
                        n = k * 10 + j
                        # newer than everything, and inside the paged range
                        ts = BASE + n0 * 10 + n if j % 2 else BASE + (n * 7919) % (n0 * 10)
                        evs.append({"event_id": event_uuid("pagc-new", n), "timestamp": ts,
                                    "app": "pagc", "event_type": "page_test"})
                    status, _, body = self.hub.ingest(evs)
                    if status != 200:
                        errors.append((status, body))
                        return
                    added.extend(e["event_id"] for e in evs)
                    k += 1
            except Exception as e:  # reported below
                errors.append(repr(e))

        t = threading.Thread(target=writer, daemon=True)
        t.start()
        try:
            seen = []
            params = {"app": "pagc", "limit": PAGE}
            for _ in range(200):
                data = self.hub.events(params)
                seen.extend(e["event_id"] for e in data["events"])
                if data["next_cursor"] is None:
                    break
                params["cursor"] = data["next_cursor"]
                # let at least one more batch commit between two pages
                n = len(added)
                wait_for(lambda: len(added) > n or errors or not t.is_alive(), 20,
                         "the writer thread's next batch")
            else:
                self.fail("paging did not end")
        finally:
            stop.set()
            t.join(60)
        self.assertEqual(errors, [])
        self.assertEqual(len(seen), len(set(seen)), "an event repeated while paging")
        missing = set(old) - set(seen)
        self.assertEqual(missing, set(), "%d pre-existing events never seen" % len(missing))
        self.assertLessEqual(set(seen) - set(old), set(added))
