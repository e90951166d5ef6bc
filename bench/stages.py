#!/usr/bin/env python3
"""stages.py — where the hub's CPU went between two /metrics snapshots: the per-stage table
(thread CPU µs per event) from minisiem_stage_cpu_seconds_total and
minisiem_stage_events_total.

    bench/stages.py --url http://127.0.0.1:PORT --save before.txt   # a snapshot into a file
    bench/stages.py before.txt after.txt                            # the table, in Markdown
    bench/stages.py before.txt http://127.0.0.1:PORT                # against the live hub

"µs/event" divides a stage's CPU by the events it handled; "µs per stored event" by the
events committed meanwhile (minisiem_events_committed_total), so that column adds up to the
hub's pipeline CPU per stored event. The indexer counts rows of the segments it finished."""
import argparse
import re
import sys
import urllib.request

SERIES = re.compile(r'^(minisiem_stage_cpu_seconds_total|minisiem_stage_events_total)'
                    r'\{stage="([a-z_]+)"\}\s+(\S+)$')


def read(where):
    if where.startswith("http://") or where.startswith("https://"):
        with urllib.request.urlopen(where.rstrip("/") + "/metrics", timeout=30) as r:
            return r.read().decode()
    with open(where, encoding="utf-8") as f:
        return f.read()


def parse(text):
    """{stage: [cpu_s, events]}, the committed events, the order of the stages."""
    stages, order, committed = {}, [], 0.0
    for line in text.splitlines():
        m = SERIES.match(line)
        if m:
            name, stage, v = m.group(1), m.group(2), float(m.group(3))
            if stage not in stages:
                stages[stage] = [0.0, 0.0]
                order.append(stage)
            stages[stage][0 if name.endswith("cpu_seconds_total") else 1] = v
        elif line.startswith("minisiem_events_committed_total "):
            committed = float(line.split()[1])
    return stages, committed, order


def table(before, after):
    s0, c0, _ = parse(before)
    s1, c1, order = parse(after)
    stored = c1 - c0
    out = ["| stage | CPU s | events | µs/event | µs per stored event |", "|---|---|---|---|---|"]
    total = 0.0
    for st in order:
        cpu = s1[st][0] - s0.get(st, [0, 0])[0]
        ev = s1[st][1] - s0.get(st, [0, 0])[1]
        total += cpu
        per = f"{cpu * 1e6 / ev:.2f}" if ev > 0 else "—"
        per_stored = f"{cpu * 1e6 / stored:.2f}" if stored > 0 else "—"
        out.append(f"| {st} | {cpu:.3f} | {ev:.0f} | {per} | {per_stored} |")
    per_stored = f"{total * 1e6 / stored:.2f}" if stored > 0 else "—"
    out.append(f"| all stages | {total:.3f} | {stored:.0f} stored | | {per_stored} |")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("snapshots", nargs="*", help="BEFORE AFTER: files or hub URLs")
    ap.add_argument("--url", help="the hub to snapshot (with --save)")
    ap.add_argument("--save", help="write the hub's /metrics into this file")
    a = ap.parse_args()
    try:
        if a.save:
            if not a.url:
                ap.error("--save needs --url")
            text = read(a.url)
            with open(a.save, "w", encoding="utf-8") as f:
                f.write(text)
            return 0
        if len(a.snapshots) != 2:
            ap.error("give two snapshots: BEFORE AFTER")
        print(table(read(a.snapshots[0]), read(a.snapshots[1])))
    except (OSError, ValueError) as e:  # urllib's errors are OSErrors
        print("stages.py: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
