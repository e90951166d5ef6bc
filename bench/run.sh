#!/usr/bin/env bash
# run.sh — `make bench`: benchmarks (a)–(f) of BENCHMARKS.md against a fresh hub on loopback;
# every result is printed with the exact command that produced it. See bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
	cat >&2 <<'EOF'
usage: bench/run.sh [--quick] [--curve]
  --quick   (a), (b), (e), (f) at small scale, under a minute
  --curve   also run the naive-design curve: ceiling --indices, 20M rows (takes long)
env: MINISIEM_BIN (hub binary; default build/rel/minisiem, built here), BENCH_REPEAT (3),
     BENCH_TMPDIR (where the stores go; default $TMPDIR or /tmp), CC (cc)
EOF
	exit 2
}

QUICK=0 CURVE=0
for arg in "$@"; do
	case $arg in
	--quick) QUICK=1 ;;
	--curve) CURVE=1 ;;
	*) usage ;;
	esac
done

REPEAT=${BENCH_REPEAT:-3}
OUT=build/bench
HUB=${MINISIEM_BIN:-build/rel/minisiem}
KEY=benchkey-0123456789
if [ "$QUICK" = 1 ]; then
	A_EVENTS=200000 B_SECONDS=10 F_ROWS=500000
else
	A_EVENTS=3000000 B_SECONDS=30 F_ROWS=3000000 D_AT=10000000 C_AT=20000000
fi

say() { printf 'bench: %s\n' "$*" >&2; }
fail() {
	say "error: $*"
	exit 1
}
# jget JSON FIELD — a number from one of our JSON lines
jget() { sed -n "s/.*\"$2\":\\([-0-9.]*\\).*/\\1/p" <<<"$1"; }
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
minmax() { printf '%s\n' "$@" | sort -g | awk 'NR==1{lo=$1} {hi=$1} END {print lo "–" hi}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "n/a"}'; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN {exit !(a >= b)}'; }
le() { awk -v a="$1" -v b="$2" 'BEGIN {exit !(a <= b)}'; }
verdict() { if "$@"; then echo ok; else echo MISSED; fi; }

# ---- build ----
mkdir -p "$OUT"
if [ -z "${MINISIEM_BIN:-}" ]; then
	say "building the hub (make BUILD=build/rel)"
	make --no-print-directory BUILD=build/rel build/rel/minisiem >"$OUT/make.log" 2>&1 ||
		{ tail -30 "$OUT/make.log" >&2; fail "the hub does not build (log: $OUT/make.log)"; }
fi
[ -x "$HUB" ] || fail "no hub binary at '$HUB'"
CC=${CC:-cc}
BCFLAGS="-std=c17 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror"
# shellcheck disable=SC2086,SC2046 # flag lists split on purpose
$CC $BCFLAGS -o "$OUT/loadgen" bench/loadgen.c bench/gen.c
# shellcheck disable=SC2086,SC2046
$CC $BCFLAGS $(pkg-config --cflags sqlite3) -o "$OUT/ceiling" bench/ceiling.c bench/gen.c \
	$(pkg-config --libs sqlite3)
LOADGEN=$OUT/loadgen CEILING=$OUT/ceiling

TMP=$(mktemp -d "${BENCH_TMPDIR:-${TMPDIR:-/tmp}}/minisiem-bench.XXXXXX")
HUB_PID=
stop_hub() {
	[ -n "$HUB_PID" ] || return 0
	kill -TERM "$HUB_PID" 2>/dev/null || true
	for _ in $(seq 200); do # up to 20 s for a clean shutdown, then force
		kill -0 "$HUB_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$HUB_PID" 2>/dev/null && { say "hub did not stop on SIGTERM; killing it"; kill -KILL "$HUB_PID"; }
	wait "$HUB_PID" 2>/dev/null || true
	HUB_PID=
}
cleanup() {
	stop_hub
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

LOAD0=$(cut -d' ' -f1 /proc/loadavg)
ge "$LOAD0" 0.5 && say "warning: load average $LOAD0 before the start: other work on this machine skews the numbers"

# ---- start the hub ----
PW=benchpass-4e1f
ENV=(SIEM_API_KEYS="bench:$KEY" SIEM_JWT_SECRET=benchsecret-0123456789abcdef0123456789abcdef) # >= 32 bytes
if HASH=$(printf '%s\n' "$PW" | timeout 30 "$HUB" hash-password 2>/dev/null | grep '^\$' | tail -1) && [ -n "$HASH" ]; then
	ENV+=(SIEM_ADMIN_PASSWORD_HASH="$HASH")
else
	PW= # take the first-run password the hub prints
fi
HUB_CMD=("$HUB" serve --listen 127.0.0.1:0 --db "$TMP/store.db")
say "starting: ${HUB_CMD[*]}"
env "${ENV[@]}" "${HUB_CMD[@]}" >"$TMP/hub.out" 2>"$TMP/hub.err" &
HUB_PID=$!
PORT=
for _ in $(seq 600); do # the listening line, or 60 s
	PORT=$(sed -n 's|.*minisiem: listening on http://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' \
		"$TMP/hub.out" "$TMP/hub.err" | head -1)
	[ -n "$PORT" ] && break
	kill -0 "$HUB_PID" 2>/dev/null || { cat "$TMP/hub.err" >&2; HUB_PID=; fail "the hub exited at start"; }
	sleep 0.1
done
[ -n "$PORT" ] || { tail "$TMP/hub.out" "$TMP/hub.err" >&2; fail "no 'listening on' line from the hub in 60 s"; }
if [ -z "$PW" ]; then
	PW=$(sed -n 's/.*minisiem: first run: admin password: \([^ ]*\).*/\1/p' "$TMP/hub.out" "$TMP/hub.err" | head -1)
fi
URL=http://127.0.0.1:$PORT
say "hub pid $HUB_PID at $URL"

rss() { awk -v f="$1:" '$1 == f {print $2}' "/proc/$HUB_PID/status"; }
mb() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }
# Forget the peak so far (Linux clear_refs 5), so VmHWM is the peak of what follows.
HWM_RESET=yes
reset_hwm() { echo 5 >"/proc/$HUB_PID/clear_refs" 2>/dev/null || HWM_RESET=no; }
check_hub() { kill -0 "$HUB_PID" 2>/dev/null || { tail -20 "$TMP/hub.err" >&2; fail "the hub died"; }; }

ROWS=()     # label|result|target|verdict|command
JSONL=$OUT/results.jsonl
: >"$JSONL"
row() { ROWS+=("$1|$2|$3|$4|$5"); }
STORED=0
# run_load LABEL CMD... — run a loadgen command, keep its JSON line in $LAST
run_load() {
	local label=$1
	shift
	sync
	say "$label: $*"
	LAST=$("$@") || say "$label: loadgen reported errors: $LAST"
	[ -n "$LAST" ] || fail "$label: loadgen printed no result"
	printf '{"bench":"%s","cmd":"%s","result":%s}\n' "$label" "$*" "$LAST" >>"$JSONL"
	STORED=$((STORED + $(jget "$LAST" events)))
	check_hub
}

# ---- (e) idle ----
curl -fsS "$URL/health" >/dev/null || say "warning: GET /health failed"
IDLE_RSS=$(rss VmRSS) IDLE_HWM=$(rss VmHWM)
row "(e) RSS idle" "$(mb "$IDLE_RSS") MB (peak since start $(mb "$IDLE_HWM") MB)" "≤ 30 MB" \
	"$(verdict le "$IDLE_RSS" 30720)" "VmRSS and VmHWM in /proc/PID/status once GET /health answers"

# ---- (a) batched ingest and (f) the ceiling, interleaved so both see the same disk ----
A_CMD=("$LOADGEN" --url "$URL" --key "$KEY" --conns 4 --batch 1000 --events "$A_EVENTS" --seconds 300)
F_CMD=("$CEILING" --rows "$F_ROWS" --batch 1000)
A_RATES=() F_RATES=() A_P99=() A_ERR=0 PEAK_A=0
for _ in $(seq "$REPEAT"); do
	reset_hwm
	run_load "(a)" "${A_CMD[@]}"
	A_RATES+=("$(jget "$LAST" events_per_s)")
	A_P99+=("$(jget "$LAST" p99_ms)")
	A_ERR=$((A_ERR + $(jget "$LAST" errors)))
	h=$(rss VmHWM)
	[ "$h" -gt "$PEAK_A" ] && PEAK_A=$h
	sync
	say "(f): ${F_CMD[*]} --db $TMP/ceiling.db"
	F=$("${F_CMD[@]}" --db "$TMP/ceiling.db")
	rm -f "$TMP/ceiling.db" "$TMP/ceiling.db-wal" "$TMP/ceiling.db-shm"
	printf '{"bench":"(f)","cmd":"%s","result":%s}\n' "${F_CMD[*]}" "$F" >>"$JSONL"
	F_RATES+=("$(jget "$F" rows_per_s)")
done
A=$(median "${A_RATES[@]}") F=$(median "${F_RATES[@]}")
row "(a) ingest, 1000/request, 4 conns" \
	"$A events/s (runs $(minmax "${A_RATES[@]}"); p99 $(median "${A_P99[@]}") ms; errors $A_ERR)" \
	"≥ 150,000/s" "$(verdict ge "$A" 150000)" "${A_CMD[*]}"
row "(f) ceiling: straight SQLite, no index" "$F rows/s (runs $(minmax "${F_RATES[@]}"))" \
	"—" "—" "${F_CMD[*]} --db STORE_DIR/ceiling.db"
row "(a)/(f)" "$(ratio "$A" "$F")" "≥ 0.7" "$(verdict ge "$(ratio "$A" "$F")" 0.7)" "medians of $REPEAT interleaved runs"
row "(e) peak RSS under (a)" "$(mb "$PEAK_A") MB" "≤ 150 MB" "$(verdict le "$PEAK_A" 153600)" \
	"VmHWM after each (a) run$([ $HWM_RESET = yes ] && echo ', reset before it via /proc/PID/clear_refs')"

# ---- (b) one event per request ----
B_CMD=("$LOADGEN" --url "$URL" --key "$KEY" --conns 32 --batch 1 --seconds "$B_SECONDS")
run_load "(b)" "${B_CMD[@]}"
B=$(jget "$LAST" requests_per_s)
row "(b) one event/request, 32 conns" \
	"$B requests/s (p50 $(jget "$LAST" p50_ms) ms, p99 $(jget "$LAST" p99_ms) ms; errors $(jget "$LAST" errors), 503s $(jget "$LAST" retries_503))" \
	"≥ 20,000/s" "$(verdict ge "$B" 20000)" "${B_CMD[*]}"

# ---- login (after the RSS rows: a password hash may take tens of MB for a moment) ----
TOKEN=$(curl -fsS -H 'Content-Type: application/json' -d "{\"password\":\"$PW\"}" "$URL/auth/login" |
	sed -n 's/.*"access_token" *: *"\([^"]*\)".*/\1/p') || true
[ -n "$TOKEN" ] || say "warning: POST /auth/login gave no token"

# ---- full mode: (d) at 10M events, (c) at 20M ----
fill_to() {
	local want=$1
	[ "$STORED" -ge "$want" ] && return 0
	run_load "fill to $want" "$LOADGEN" --url "$URL" --key "$KEY" --conns 4 --batch 1000 \
		--events $((want - STORED)) --progress 1M --seconds 3600
	[ "$STORED" -ge "$want" ] || say "warning: only $STORED events stored (wanted $want)"
}
if [ "$QUICK" = 0 ]; then
	fill_to "$D_AT"
	IP=$("$LOADGEN" --pool-ip 0)
	for q in "/events?event_type=LOGIN_FAIL&source_ip=$IP" "/events?q=vacuumed"; do
		D_CMD=("$LOADGEN" --url "$URL" --token "$TOKEN" --query "$q" --requests 200 --warmup 5 --conns 1
			--seconds 120)
		say "(d): ${D_CMD[*]}"
		D=$("${D_CMD[@]}") || say "(d): loadgen reported errors: $D"
		printf '{"bench":"(d)","cmd":"%s","result":%s}\n' "${D_CMD[*]/$TOKEN/\$TOKEN}" "${D:-null}" >>"$JSONL"
		row "(d) GET $q at $STORED events" \
			"p50 $(jget "$D" p50_ms) ms, p99 $(jget "$D" p99_ms) ms ($(jget "$D" avg_rows) rows/answer; errors $(jget "$D" errors))" \
			"p99 ≤ 50 ms" "$(verdict le "$(jget "$D" p99_ms)" 50)" "${D_CMD[*]/$TOKEN/\$TOKEN}"
	done
	fill_to "$C_AT"
	C_RATES=()
	for _ in $(seq "$REPEAT"); do
		run_load "(c)" "${A_CMD[@]}"
		C_RATES+=("$(jget "$LAST" events_per_s)")
	done
	C=$(median "${C_RATES[@]}")
	row "(c) = (a) at $C_AT+ events" "$C events/s (runs $(minmax "${C_RATES[@]}")); (c)/(a) = $(ratio "$C" "$A")" \
		"≥ 0.8 × (a)" "$(verdict ge "$(ratio "$C" "$A")" 0.8)" "${A_CMD[*]}"
	row "(e) peak RSS, whole run" "$(mb "$(rss VmHWM)") MB" "≤ 150 MB" "$(verdict le "$(rss VmHWM)" 153600)" "VmHWM at the end"
	row "store size at $STORED events" "$(du -sm "$TMP" | cut -f1) MB" "—" "—" "du -sm STORE_DIR"
fi
stop_hub

if [ "$CURVE" = 1 ]; then
	CURVE_CMD=("$CEILING" --indices --rows 20M --report-every 1M --seconds 1800)
	say "curve: ${CURVE_CMD[*]} --db $TMP/curve.db"
	"${CURVE_CMD[@]}" --db "$TMP/curve.db" | tee -a "$OUT/curve.jsonl"
	rm -f "$TMP"/curve.db*
fi

# ---- report ----
SIZE=$(stat -c %s "$HUB")
STRIPPED=$(strip -o "$TMP/hub.stripped" "$HUB" 2>/dev/null && stat -c %s "$TMP/hub.stripped" || echo "?")
row "footprint: binary size" "$SIZE bytes ($STRIPPED stripped)" "—" "—" "stat -c %s $HUB"
{
	echo "# minisiem bench $(date -u +%Y-%m-%dT%H:%M:%SZ)$([ "$QUICK" = 1 ] && echo ' (quick)')"
	echo
	echo "machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)," \
		"$(awk '/MemTotal/ {printf "%.0f GB", $2 / 1048576}' /proc/meminfo), kernel $(uname -r)," \
		"SQLite $(pkg-config --modversion sqlite3), hub $(git describe --always --dirty 2>/dev/null || echo '?')," \
		"store on $(df -P "$TMP" | awk 'NR==2 {print $1}'), load average $LOAD0 at the start"
	echo "events: $(jget "$(head -1 "$JSONL")" avg_event_bytes) bytes on average (bench/gen.c)"
	echo
	echo "| benchmark | result | target | | command |"
	echo "|---|---|---|---|---|"
	for r in "${ROWS[@]}"; do
		IFS='|' read -r l v t ok c <<<"$r"
		echo "| $l | $v | $t | $ok | \`$c\` |"
	done
} | tee "$OUT/results.md"
say "results in $OUT/results.md, raw JSON lines in $JSONL"
