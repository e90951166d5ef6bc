#!/usr/bin/env bash
# agent.sh — the "Agent footprint" rows of BENCHMARKS.md (`make bench` runs it, SQLite only):
# minisiem-agent following a file (linux-auth:FILE) that grows by 100 sshd lines a second,
# sending to a hub on loopback. Measured over the appending window, after the agent's first
# batch: its CPU (utime + stime from /proc/PID/stat) as a share of one core, its wake-ups
# (context switches from /proc/PID/status), and at the end its memory from
# /proc/PID/smaps_rollup (Rss, Pss, Private_Dirty). Every line must reach the hub.
# usage: bench/agent.sh [--quick]   (60 s of appending, 20 s quick)
# env: MINISIEM_BIN, MINISIEM_AGENT_BIN (built here when unset), AGENT_RATE (100 lines/s),
#      AGENT_SECONDS, BENCH_TMPDIR
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_RUN=${AGENT_SECONDS:-60}
[ "${1:-}" = --quick ] && SECONDS_RUN=${AGENT_SECONDS:-20}
RATE=${AGENT_RATE:-100}
OUT=build/bench
HUB=${MINISIEM_BIN:-build/rel/minisiem}
AGENT=${MINISIEM_AGENT_BIN:-build/rel/minisiem-agent}
KEY=benchkey-0123456789abcdef

say() { printf 'bench: %s\n' "$*" >&2; }
fail() {
	say "error: $*"
	exit 1
}
mkdir -p "$OUT"
if [ -z "${MINISIEM_BIN:-}${MINISIEM_AGENT_BIN:-}" ]; then
	say "building the hub and the agent"
	make --no-print-directory BUILD=build/rel build/rel/minisiem build/rel/minisiem-agent \
		>"$OUT/make-agent.log" 2>&1 || { tail -30 "$OUT/make-agent.log" >&2; fail "build failed"; }
fi
TMP=$(mktemp -d "${BENCH_TMPDIR:-${TMPDIR:-/tmp}}/minisiem-agent-bench.XXXXXX")
HUB_PID= AGENT_PID= APP_PID=
cleanup() {
	for p in $APP_PID $AGENT_PID $HUB_PID; do
		kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true
	done
	rm -rf "$TMP"
}
trap cleanup EXIT

# ---- the hub ----
mkdir -p "$TMP/store"
env SIEM_API_KEYS="bench:$KEY" SIEM_JWT_SECRET=benchsecret-0123456789abcdef0123456789abcdef \
	"$HUB" serve --listen 127.0.0.1:0 --db "$TMP/store/s.db" >"$TMP/hub.out" 2>"$TMP/hub.err" &
HUB_PID=$!
PORT=
for _ in $(seq 600); do
	PORT=$(sed -n 's|.*minisiem: listening on http://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$TMP/hub.out" | head -1)
	[ -n "$PORT" ] && break
	kill -0 "$HUB_PID" 2>/dev/null || { cat "$TMP/hub.err" >&2; fail "the hub exited at start"; }
	sleep 0.1
done
[ -n "$PORT" ] || fail "no listening line from the hub in 60 s"
accepted() {
	curl -sf "http://127.0.0.1:$PORT/metrics" |
		awk '$1 == "minisiem_events_accepted_total{source=\"http\"}" {print $2}'
}

# ---- the appender: RATE sshd lines a second, in tenths, for SECONDS_RUN seconds ----
LOG=$TMP/auth.log
: >"$LOG"
cat >"$TMP/append.py" <<'EOF'
import sys, time
path, rate, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
per_tick, n, t0 = rate / 10.0, 0, time.monotonic()
with open(path, "a") as f:
    tick = 0
    while tick < seconds * 10:
        tick += 1
        target = int(per_tick * tick)
        while n < target:
            ip = "203.0.113.%d" % (n % 250 + 1)
            f.write(time.strftime("%b %d %H:%M:%S", time.gmtime()) +
                    " bench sshd[%d]: Failed password for invalid user u%d from %s port %d ssh2\n"
                    % (1000 + n % 5000, n % 500, ip, 1024 + n % 60000))
            n += 1
        f.flush()
        delay = t0 + tick / 10.0 - time.monotonic()
        if delay > 0:
            time.sleep(delay)
print(n)
EOF

# ---- the agent ----
SIEM_AGENT_API_KEY=$KEY "$AGENT" --server "http://127.0.0.1:$PORT" --insecure-http \
	--state-dir "$TMP/agent" --source "linux-auth:$LOG" 2>"$TMP/agent.err" &
AGENT_PID=$!
for _ in $(seq 100); do # the agent has opened its file
	grep -q 'sources,' "$TMP/agent.err" 2>/dev/null && break
	sleep 0.1
done
kill -0 "$AGENT_PID" 2>/dev/null || { cat "$TMP/agent.err" >&2; fail "the agent exited at start"; }
ticks() { awk '{print $14 + $15}' "/proc/$AGENT_PID/stat"; }
ctxsw() { awk '/^voluntary_ctxt_switches|^nonvoluntary_ctxt_switches/ {n += $2} END {print n}' "/proc/$AGENT_PID/status"; }

python3 "$TMP/append.py" "$LOG" "$RATE" "$SECONDS_RUN" >"$TMP/appended" &
APP_PID=$!
# The window starts once the first batch is acknowledged (connection set up, buffers grown).
for _ in $(seq 100); do
	[ "$(accepted)" -gt 0 ] 2>/dev/null && break
	sleep 0.1
done
t0=$(date +%s.%N) c0=$(ticks) w0=$(ctxsw)
wait "$APP_PID"
APP_PID=
t1=$(date +%s.%N) c1=$(ticks) w1=$(ctxsw)
LINES=$(cat "$TMP/appended")
for _ in $(seq 300); do # every line at the hub (the agent sends within --flush-ms)
	[ "$(accepted)" -ge "$LINES" ] 2>/dev/null && break
	sleep 0.1
done
GOT=$(accepted)
read -r RSS PSS PD <<<"$(awk '$1 == "Rss:" {r = $2} $1 == "Pss:" {p = $2} $1 == "Private_Dirty:" {d = $2} END {print r, p, d}' "/proc/$AGENT_PID/smaps_rollup")"
HZ=$(getconf CLK_TCK)
CPU=$(awk -v c="$((c1 - c0))" -v hz="$HZ" -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", 100 * c / hz / (b - a)}')
WAKE=$(awk -v w="$((w1 - w0))" -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", w / (b - a)}')
kill "$AGENT_PID" && wait "$AGENT_PID" 2>/dev/null || true
AGENT_PID=
[ "${GOT:-0}" -ge "$LINES" ] || fail "the hub stored ${GOT:-0} of $LINES lines"
mb() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }
say "agent at $RATE lines/s: CPU $CPU % of a core, $WAKE wake-ups/s, Rss $(mb "$RSS") MB, Pss $(mb "$PSS") MB, private dirty $(mb "$PD") MB"
CMD="$AGENT --server URL --insecure-http --state-dir DIR --source linux-auth:FILE"
{
	echo "| row | result | target | command |"
	echo "|---|---|---|---|"
	echo "| agent CPU at $RATE lines/s ($LINES lines, every one stored) | $CPU % of one core; $WAKE context switches/s | < 1 % | \`$CMD\`; utime + stime over ${SECONDS_RUN} s of appending |"
	echo "| agent memory | Rss $(mb "$RSS") MB, Pss $(mb "$PSS") MB, private dirty $(mb "$PD") MB | — | \`/proc/PID/smaps_rollup\` at the end |"
} | tee "$OUT/agent.md"
printf '{"bench":"agent","rate":%s,"lines":%s,"cpu_pct":%s,"wakeups_per_s":%s,"rss_kb":%s,"pss_kb":%s,"private_dirty_kb":%s}\n' \
	"$RATE" "$LINES" "$CPU" "$WAKE" "$RSS" "$PSS" "$PD" >"$OUT/agent.jsonl"
