"""test_memory.py — --memory-budget: a hub started with a small budget takes a few hundred
thousand events, stores every one, and its peak resident memory (VmHWM in /proc) stays
under the budget plus a stated slack. Memory is not timing: the bound holds however loaded
the machine is (a slow indexer only makes the writer wait, or postings leave memory)."""
import http.client
import json
import threading
import time

from hub import API_KEY, HubCase, event_uuid

BUDGET_MB = 64  # what a Raspberry Pi user might set
# What the budget does not promise to the byte: pages of shared libraries counted in RSS
# (about 12 MB), glibc's free lists between trims, and requests in flight past a bound's
# check (docs/operations.md, "Memory").
SLACK_MB = 24
APPS = 4
PER_APP = 50000  # each under the count bound of GET /events (100,000)
BATCH = 2500
THREADS = 3


def vm_kb(pid, field):
    with open("/proc/%d/status" % pid, encoding="ascii") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError("no %s in /proc/%d/status" % (field, pid))


def reset_peak(pid):
    """Forget the peak so far (Linux clear_refs 5): the first run's admin password hash
    (argon2id, 64 MiB for a moment) is not ingest."""
    with open("/proc/%d/clear_refs" % pid, "w", encoding="ascii") as f:
        f.write("5")


def sanitized(pid):
    with open("/proc/%d/maps" % pid, encoding="ascii", errors="replace") as f:
        maps = f.read()
    return "libasan" in maps or "libubsan" in maps


class MemoryBudget(HubCase):
    def send_all(self, hub, batches):
        """POST every batch on keep-alive connections; a 503 is sent again."""
        lock = threading.Lock()
        errors, acked = [], [0]
        todo = list(batches)

        def run():
            conn = http.client.HTTPConnection("127.0.0.1", hub.port, timeout=120)
            try:
                while True:
                    with lock:
                        if not todo or errors:
                            return
                        n, body = todo.pop()
                    while True:
                        conn.request("POST", "/ingest", body=body,
                                     headers={"Content-Type": "application/json",
                                              "X-API-Key": API_KEY})
                        resp = conn.getresponse()
                        data = resp.read()
                        if resp.status != 503:
                            break
                        time.sleep(0.05)  # the queue is full: back off, then the same batch
                    ans = json.loads(data) if resp.status == 200 else None
                    with lock:
                        if not ans or ans.get("accepted") != n or ans.get("duplicates") != 0:
                            errors.append((resp.status, data[:200]))
                        else:
                            acked[0] += n
            except (OSError, http.client.HTTPException) as e:
                with lock:
                    errors.append(repr(e))
            finally:
                conn.close()

        threads = [threading.Thread(target=run, daemon=True) for _ in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(600)
            self.assertFalse(t.is_alive(), "a client thread did not finish")
        self.assertEqual(errors, [])
        return acked[0]

    def test_small_budget_stores_everything_within_its_memory(self):
        hub = self.own_hub(args=["--memory-budget", "%dm" % BUDGET_MB])
        batches = []
        for a in range(APPS):
            app = "mem%d" % a
            for lo in range(0, PER_APP, BATCH):
                events = [{"event_id": event_uuid("mem", a, i), "timestamp": 1710028800 + i,
                           "app": app, "event_type": "memory_test",
                           "source_host": "h%d" % (i % 50), "user": "u%d" % (i % 500),
                           "source_ip": "10.%d.%d.%d" % (a, i // 256 % 256, i % 256),
                           "message": "memory budget event %d of %s" % (i, app)}
                          for i in range(lo, lo + BATCH)]
                batches.append((BATCH, json.dumps(events).encode()))
        reset_peak(hub.proc.pid)
        acked = self.send_all(hub, batches)
        self.assertEqual(acked, APPS * PER_APP)
        for a in range(APPS):
            status, _, body = hub.get("/events", {"app": "mem%d" % a, "count": "true",
                                                  "limit": "1"})
            self.assertEqual(status, 200, body)
            self.assertEqual(body["total"], PER_APP, "events of mem%d stored" % a)
            self.assertTrue(body["total_exact"])
        peak = vm_kb(hub.proc.pid, "VmHWM")
        if not sanitized(hub.proc.pid):  # a sanitizer's shadow memory is not the hub's
            self.assertLessEqual(peak, (BUDGET_MB + SLACK_MB) * 1024,
                                 "peak RSS %.1f MB with --memory-budget %dm"
                                 % (peak / 1024, BUDGET_MB))
