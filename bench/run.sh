#!/usr/bin/env bash
# run.sh — `make bench`: benchmarks (a)–(f) of BENCHMARKS.md against a fresh hub on loopback,
# on the SQLite store or (--backend postgres) on a private PostgreSQL 15 started here; every
# result is printed with the exact command that produced it. See bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
	cat >&2 <<'EOF'
usage: bench/run.sh [--quick] [--curve] [--backend sqlite|postgres]
  --quick     (a), (b), (e), (f) at small scale, under a minute
  --curve     also run the naive-design curve: ceiling --indices, 20M rows (up to 30 min;
              SQLite only)
  --backend   the store: sqlite (default, or $BACKEND), or postgres: a private PostgreSQL 15
              cluster in the bench directory, with the settings of deploy/postgresql.conf
env: MINISIEM_BIN (hub binary; default build/rel/minisiem, built here), BENCH_REPEAT (3),
     BENCH_TMPDIR (where the stores go; default $TMPDIR or /tmp), CC (cc),
     BENCH_WAIT_QUIET (seconds to wait for a load average under 0.5 before starting),
     PG_BIN (PostgreSQL's programs; /usr/lib/postgresql/15/bin), PG_CONF (deploy/postgresql.conf)
EOF
	exit 2
}

QUICK=0 CURVE=0 BACKEND=${BACKEND:-sqlite}
while [ $# -gt 0 ]; do
	case $1 in
	--quick) QUICK=1 ;;
	--curve) CURVE=1 ;;
	--backend)
		[ $# -ge 2 ] || usage
		BACKEND=$2
		shift
		;;
	*) usage ;;
	esac
	shift
done
# Targets (BENCHMARKS.md): an empty one is not set for that store.
case $BACKEND in
sqlite) T_A=150000 T_A_TEXT="≥ 150,000/s" T_B=20000 T_B_TEXT="≥ 20,000/s" T_AF=0.7 T_D=50 ;;
postgres) T_A='' T_A_TEXT='' T_B='' T_B_TEXT='' T_AF=0.5 T_D=100 ;;
*) usage ;;
esac
T_C=0.8

REPEAT=${BENCH_REPEAT:-3}
OUT=build/bench
HUB=${MINISIEM_BIN:-build/rel/minisiem}
KEY=benchkey-0123456789abcdef
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
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
minmax() { printf '%s\n' "$@" | sort -g | awk 'NR == 1 {lo = $1} {hi = $1} END {print lo "–" hi}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "n/a"}'; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN {exit !(a >= b)}'; }
le() { awk -v a="$1" -v b="$2" 'BEGIN {exit !(a <= b)}'; }
verdict() { if "$@"; then echo ok; else echo MISSED; fi; }
# goal TEXT TEST VALUE LIMIT — GOAL=(target verdict), or (— —) when TEXT is empty (no target)
goal() { if [ -n "$1" ]; then GOAL=("$1" "$(verdict "$2" "$3" "$4")"); else GOAL=("—" "—"); fi; }

# ---- the store ----
# Each backend defines the same functions, called as `store NAME`:
#   tools     build its ceiling tool (f): CEILING, F_LABEL, F_SHOWN (how rows show its command);
#             STORE_PROC: the name of the store's server processes (none: in the hub)
#   start     make the store; STORE_ARGS: the hub's flags for it
#   stop      remove what start made (from the exit trap: safe when nothing was started)
#   jiffies   CPU the store used so far in processes other than the hub (clock ticks)
#   ceiling   one measured run of (f) on a fresh table
#   watch_start, watch_stop   around each (a) run; rows_a: rows of its own after (a)
#   bytes     BYTES: bytes on disk of the hub's store; BYTES_SHOWN: how they were counted
#   header    the store's part of the report's header
#   curve     the naive-design curve (--curve)
store() { "${BACKEND}_$1" "${@:2}"; }
STORE_ARGS=() WATCH_PID=

# -- SQLite: a file beside the hub --
sqlite_tools() {
	# shellcheck disable=SC2086,SC2046
	$CC $BCFLAGS $(pkg-config --cflags sqlite3) -o "$OUT/ceiling" bench/ceiling.c bench/gen.c \
		$(pkg-config --libs sqlite3)
	CEILING=$OUT/ceiling F_LABEL="straight SQLite, no index" F_SHOWN="--db STORE_DIR/ceiling.db"
	STORE_PROC= # the store is in the hub's process
}
sqlite_start() { STORE_ARGS=(--db "$TMP/store.db"); }
sqlite_stop() { :; }
sqlite_jiffies() { echo 0; }
sqlite_ceiling() {
	measure "(f)" cpu_s "${F_CMD[@]}" --db "$TMP/ceiling.db"
	rm -f "$TMP/ceiling.db" "$TMP/ceiling.db-wal" "$TMP/ceiling.db-shm"
}
sqlite_watch_start() { :; }
sqlite_watch_stop() { :; }
sqlite_rows_a() { :; }
sqlite_bytes() {
	BYTES=$(du -s --block-size=1 "$TMP" | cut -f1) BYTES_SHOWN="du -s --block-size=1 STORE_DIR"
}
sqlite_header() {
	echo "SQLite $(pkg-config --modversion sqlite3), store on $(df -P "$TMP" | awk 'NR == 2 {print $1}')"
}
sqlite_curve() {
	CURVE_CMD=("$CEILING" --indices --rows 20M --report-every 1M --seconds 1800)
	say "curve: ${CURVE_CMD[*]} --db $TMP/curve.db"
	"${CURVE_CMD[@]}" --db "$TMP/curve.db" | tee -a "$OUT/curve.jsonl"
	rm -f "$TMP"/curve.db*
}

# -- PostgreSQL: a private cluster in TMP/pg, on a free loopback port, its socket there too;
# databases minisiem (the hub's) and ceiling. Never the system's cluster: the server is
# stopped by the PID in its own postmaster.pid. --
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PG_CONF=${PG_CONF:-deploy/postgresql.conf}
PG_DIR='' PG_PID='' PG_PORT='' PG_URL='' PG_OVERRIDES='' PG_VERSION=''
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
pg_sql() { # DB SQL — its output, unaligned, through the socket
	psql -X -q -A -t -v ON_ERROR_STOP=1 -h "$PG_DIR" -p "$PG_PORT" -U postgres -d "$1" -c "$2"
}
free_port() { # a loopback port nothing listens on
	local p
	for _ in $(seq 100); do
		p=$((20000 + RANDOM % 40000))
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
	done
	return 1
}
postgres_tools() {
	[ -x "$PG_BIN/postgres" ] || fail "no PostgreSQL at $PG_BIN (apt-get install postgresql-15, or set PG_BIN)"
	[ -r "$PG_CONF" ] || fail "no settings file $PG_CONF"
	# shellcheck disable=SC2086,SC2046
	$CC $BCFLAGS $(pkg-config --cflags libpq) -o "$OUT/pg_ceiling" bench/pg_ceiling.c bench/gen.c \
		$(pkg-config --libs libpq)
	CEILING=$OUT/pg_ceiling F_LABEL="COPY into PostgreSQL, no index" F_SHOWN="--url PG_URL/ceiling"
	STORE_PROC=postgres
}
postgres_start() {
	local data mem_kb
	PG_DIR=$(cd "$TMP" && pwd)/pg data=$PG_DIR/data # absolute: the server runs elsewhere
	mkdir -m 700 "$PG_DIR"
	if [ "$(id -u)" = 0 ]; then # PostgreSQL refuses root: the cluster is the account postgres's
		chmod 711 "$TMP"
		chown postgres: "$PG_DIR"
	fi
	say "initdb: $data"
	as_pg "$PG_BIN/initdb" -D "$data" -E UTF8 --locale=C -A trust -U postgres --no-sync \
		>"$PG_DIR/initdb.log" 2>&1 || { cat "$PG_DIR/initdb.log" >&2; fail "initdb failed"; }
	# deploy/postgresql.conf as docs/postgres.md installs it; its memory lines are for 4 GiB:
	# on a smaller machine, a quarter of the RAM for shared buffers and half for the cache.
	cp "$PG_CONF" "$data/minisiem.conf"
	mem_kb=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)
	[ "$mem_kb" -lt 4194304 ] &&
		PG_OVERRIDES="shared_buffers = $((mem_kb / 4 / 1024))MB, effective_cache_size = $((mem_kb / 2 / 1024))MB"
	{
		echo "include_if_exists = 'minisiem.conf'"
		echo "listen_addresses = '127.0.0.1'"
		echo "unix_socket_directories = '$PG_DIR'"
		[ -z "$PG_OVERRIDES" ] || tr ',' '\n' <<<"$PG_OVERRIDES"
	} >>"$data/postgresql.conf"
	[ "$(id -u)" != 0 ] || chown postgres: "$data/minisiem.conf"
	for try in 1 2 3 4 5; do # another program may take the port between the check and the bind
		PG_PORT=$(free_port) || fail "no free loopback port"
		as_pg "$PG_BIN/pg_ctl" -D "$data" -l "$PG_DIR/postgres.log" -w -t 60 -o "-p $PG_PORT" start \
			>/dev/null && break
		[ "$try" = 5 ] && { tail -20 "$PG_DIR/postgres.log" >&2; fail "PostgreSQL did not start"; }
	done
	PG_PID=$(head -1 "$data/postmaster.pid")
	pg_sql postgres "CREATE DATABASE minisiem" || fail "cannot create the database minisiem"
	pg_sql postgres "CREATE DATABASE ceiling" || fail "cannot create the database ceiling"
	PG_URL=postgresql://postgres@127.0.0.1:$PG_PORT PG_VERSION=$(pg_sql postgres 'SHOW server_version')
	say "PostgreSQL $PG_VERSION pid $PG_PID at $PG_URL"
	mkdir "$TMP/hub"
	STORE_ARGS=(--postgres "$PG_URL/minisiem" --db "$TMP/hub/minisiem")
}
postgres_stop() { # fast shutdown (SIGINT), then SIGQUIT, then SIGKILL
	[ -n "$PG_DIR" ] || return 0
	# the PID in our cluster's postmaster.pid, if it is still our postmaster (start may have
	# ended before it read the file)
	[ -n "$PG_PID" ] || PG_PID=$(head -1 "$PG_DIR/data/postmaster.pid" 2>/dev/null || true)
	if [ -z "$PG_PID" ] || ! tr '\0' ' ' <"/proc/$PG_PID/cmdline" 2>/dev/null |
		grep -qF -- "-D $PG_DIR/data "; then
		PG_PID=
		return 0
	fi
	local sig
	for sig in INT QUIT KILL; do
		kill -"$sig" "$PG_PID" 2>/dev/null || break
		for _ in $(seq 600); do # up to 60 s
			kill -0 "$PG_PID" 2>/dev/null || break 2
			sleep 0.1
		done
		say "PostgreSQL did not stop on SIG$sig in 60 s"
	done
	PG_PID=
	cp "$PG_DIR/postgres.log" "$OUT/postgres.log" 2>/dev/null || true
}
postgres_pids() { echo "$PG_PID" $(pgrep -P "$PG_PID"); } # the postmaster and its children
postgres_jiffies() { # the live processes' user + system time, and the reaped children's
	local p files=()
	for p in $(postgres_pids); do files+=("/proc/$p/stat"); done
	{ cat "${files[@]}" 2>/dev/null || true; } | awk -v pm="$PG_PID" '{pid = $1; sub(/^.*\) /, "")
		t += $12 + $13; if (pid == pm) t += $14 + $15} END {print t + 0}'
}
postgres_mem() { # VmRSS and Pss (kB) summed over the server's processes, and their count
	local p # (a process may end between pgrep and cat)
	for p in $(postgres_pids); do cat "/proc/$p/status" "/proc/$p/smaps_rollup" || true; done 2>/dev/null |
		awk '$1 == "VmRSS:" {r += $2; n++} $1 == "Pss:" {s += $2} END {print r + 0, s + 0, n + 0}'
}
postgres_watch_start() { # the server's memory every 0.5 s, into TMP/pg/mem
	(while :; do
		postgres_mem
		sleep 0.5
	done >>"$PG_DIR/mem") &
	WATCH_PID=$!
}
postgres_watch_stop() {
	[ -n "$WATCH_PID" ] || return 0
	kill "$WATCH_PID" 2>/dev/null || true
	wait "$WATCH_PID" 2>/dev/null || true
	WATCH_PID=
}
postgres_rows_a() {
	local rss pss n
	read -r rss n <<<"$(sort -k1,1n "$PG_DIR/mem" | tail -1 | awk '{print $1, $3}')"
	pss=$(sort -k2,2n "$PG_DIR/mem" | tail -1 | cut -d' ' -f2)
	row "(e) PostgreSQL memory under (a)" \
		"$(mb "$rss") MB VmRSS summed over $n processes (Pss $(mb "$pss") MB: shared pages counted once)" \
		"—" "—" "the largest of VmRSS in /proc/PID/status and of Pss in /proc/PID/smaps_rollup, summed over the postmaster and its children, every 0.5 s during (a)"
}
postgres_ceiling() {
	measure "(f)" cpu_s "${F_CMD[@]}" --url "$PG_URL/ceiling"
}
postgres_bytes() {
	BYTES=$(pg_sql minisiem "SELECT pg_database_size('minisiem')")
	BYTES_SHOWN="SELECT pg_database_size('minisiem')"
}
postgres_header() {
	echo "PostgreSQL $PG_VERSION with the settings of $PG_CONF" \
		"$([ -z "$PG_OVERRIDES" ] || echo "except $PG_OVERRIDES (for this machine's RAM) ")(fsync," \
		"full_page_writes, synchronous_commit on), hub and ceiling over TCP to 127.0.0.1," \
		"data on $(df -P "$TMP" | awk 'NR == 2 {print $1}')"
}
postgres_curve() { say "--curve: the naive-design curve is for the SQLite store only; skipped"; }

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
store tools
LOADGEN=$OUT/loadgen

TMP=$(mktemp -d "${BENCH_TMPDIR:-${TMPDIR:-/tmp}}/minisiem-bench.XXXXXX")
HUB_PID=
stop_hub() {
	[ -n "$HUB_PID" ] || return 0
	kill -TERM "$HUB_PID" 2>/dev/null || true
	for _ in $(seq 300); do # up to 30 s for a clean shutdown, then force
		kill -0 "$HUB_PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$HUB_PID" 2>/dev/null; then
		say "the hub did not stop on SIGTERM in 30 s; killing it"
		kill -KILL "$HUB_PID"
	fi
	wait "$HUB_PID" 2>/dev/null || true
	HUB_PID=
}
cleanup() {
	stop_hub
	store watch_stop
	store stop
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- what else runs on the machine ----
# Other processes on a 2-core machine change every number, so each measurement records the
# share of all CPUs that neither the hub, its store's server nor the bench tool used (and the
# hypervisor's steal).
TCK=$(getconf CLK_TCK) NCPU=$(nproc)
if [ -n "${BENCH_WAIT_QUIET:-}" ]; then # up to that many seconds for a load average under 0.5
	say "waiting up to ${BENCH_WAIT_QUIET} s for a quiet machine"
	for _ in $(seq $((BENCH_WAIT_QUIET / 5))); do
		ge "$(cut -d' ' -f1 /proc/loadavg)" 0.5 || break
		sleep 5
	done
fi
LOAD0=$(cut -d' ' -f1 /proc/loadavg)
ge "$LOAD0" 0.5 && say "warning: load average $LOAD0 at the start: other work on this machine skews the numbers"
snap() { # wall busy steal hub store — clock seconds and jiffies
	local hub=0
	[ -n "$HUB_PID" ] && hub=$(awk '{print $14 + $15}' "/proc/$HUB_PID/stat" 2>/dev/null || echo 0)
	awk -v hub="$hub" -v st="$(store jiffies)" -v now="$(date +%s.%N)" \
		'/^cpu / {print now, $2 + $3 + $4 + $7 + $8, $9, hub, st}' /proc/stat
}
noise() { # SNAP0 SNAP1 OWN_CPU_S → other% steal% hub_cores store_cores
	awk -v a="$1" -v b="$2" -v own="${3:-0}" -v tck="$TCK" -v n="$NCPU" 'BEGIN {
		split(a, x, " "); split(b, y, " "); wall = y[1] - x[1]; cap = wall * tck * n
		other = (y[2] - x[2]) - (y[4] - x[4]) - (y[5] - x[5]) - own * tck; if (other < 0) other = 0
		printf "%.0f %.0f %.2f %.2f\n", 100 * other / cap, 100 * (y[3] - x[3]) / cap,
			(y[4] - x[4]) / tck / wall, (y[5] - x[5]) / tck / wall }'
}
MAX_OTHER=0 MAX_STEAL=0
TOKEN=
mask() { if [ -n "$TOKEN" ]; then printf '%s' "${1//$TOKEN/\$TOKEN}"; else printf '%s' "$1"; fi; }

JSONL=$OUT/results.jsonl
: >"$JSONL"
STORED=0
# measure LABEL CPU_FIELD CMD... — run one benchmark command: LAST is its JSON line, OTHER
# and STEAL the % of the machine used meanwhile by other processes and the hypervisor,
# HUBC the hub's busy cores, STOREC its store server's (PostgreSQL).
measure() {
	local label=$1 field=$2 s0 s1 cmd
	shift 2
	cmd=$(mask "$*")
	sync
	say "$label: $cmd"
	s0=$(snap)
	LAST=$("$@") || say "$label: errors reported (above)"
	s1=$(snap)
	[ -n "$LAST" ] || fail "$label: no result from $cmd"
	read -r OTHER STEAL HUBC STOREC <<<"$(noise "$s0" "$s1" "$(jget "$LAST" "$field")")"
	[ "$OTHER" -gt "$MAX_OTHER" ] && MAX_OTHER=$OTHER
	[ "$STEAL" -gt "$MAX_STEAL" ] && MAX_STEAL=$STEAL
	printf '{"bench":"%s","cmd":"%s","other_cpu_pct":%s,"steal_pct":%s,"hub_cores":%s,"store_cores":%s,"result":%s}\n' \
		"$label" "$cmd" "$OTHER" "$STEAL" "$HUBC" "$STOREC" "$LAST" >>"$JSONL"
	[ -z "$HUB_PID" ] || kill -0 "$HUB_PID" 2>/dev/null || { tail -20 "$TMP/hub.err" >&2; fail "the hub died"; }
}
load() { # like measure, for loadgen ingest runs; counts what is stored
	measure "$1" client_cpu_s "${@:2}"
	STORED=$((STORED + $(jget "$LAST" events)))
}

# ---- start the store and the hub ----
store start
PW=benchpass-4e1f
ENV=(SIEM_API_KEYS="bench:$KEY" SIEM_JWT_SECRET=benchsecret-0123456789abcdef0123456789abcdef)
if HASH=$(printf '%s\n' "$PW" | timeout 30 "$HUB" hash-password 2>/dev/null | grep '^\$' | tail -1) &&
	[ -n "$HASH" ]; then
	ENV+=(SIEM_ADMIN_PASSWORD_HASH="$HASH")
else
	PW= # take the first-run password the hub prints
fi
HUB_CMD=("$HUB" serve --listen 127.0.0.1:0 "${STORE_ARGS[@]}")
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
[ -n "$PW" ] || PW=$(sed -n 's/.*minisiem: first run: admin password: \([^ ]*\).*/\1/p' \
	"$TMP/hub.out" "$TMP/hub.err" | head -1)
URL=http://127.0.0.1:$PORT
say "hub pid $HUB_PID at $URL"

rss() { awk -v f="$1:" '$1 == f {print $2}' "/proc/$HUB_PID/status"; }
mb() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }
# Forget the peak so far (Linux clear_refs 5), so VmHWM is the peak of what follows.
HWM_RESET=yes
reset_hwm() { echo 5 >"/proc/$HUB_PID/clear_refs" 2>/dev/null || HWM_RESET=no; }

ROWS=() # label|result|target|verdict|command
row() { ROWS+=("$1|$2|$3|$4|$5"); }
store_cpu_note() { [ -z "$STORE_PROC" ] || echo "$STORE_PROC $STOREC cores, "; }
cpu_note() { echo "hub $HUBC cores, $(store_cpu_note)others ${OTHER}% CPU"; }

# ---- (e) idle ----
curl -fsS "$URL/health" >/dev/null || say "warning: GET /health failed"
IDLE_RSS=$(rss VmRSS) IDLE_HWM=$(rss VmHWM)
row "(e) RSS idle" "$(mb "$IDLE_RSS") MB (peak since start $(mb "$IDLE_HWM") MB)" "≤ 30 MB" \
	"$(verdict le "$IDLE_RSS" 30720)" "VmRSS and VmHWM in /proc/PID/status once GET /health answers"

# ---- (a) batched ingest and (f) the ceiling, interleaved so both see the same disk ----
A_CMD=("$LOADGEN" --url "$URL" --key "$KEY" --conns 4 --batch 1000 --events "$A_EVENTS" --seconds 300)
F_CMD=("$CEILING" --rows "$F_ROWS" --batch 1000)
A_RATES=() F_RATES=() A_P99=() A_NOTE=() F_NOTE=() A_ERR=0 PEAK_A=0
STAGES=
for _ in $(seq "$REPEAT"); do
	reset_hwm
	store watch_start
	python3 bench/stages.py --url "$URL" --save "$TMP/stages0" || true
	load "(a)" "${A_CMD[@]}"
	# Where the hub's CPU went during the last (a) run, per stage (/metrics before and after).
	python3 bench/stages.py --url "$URL" --save "$TMP/stages1" &&
		STAGES=$(python3 bench/stages.py "$TMP/stages0" "$TMP/stages1") || true
	store watch_stop
	A_RATES+=("$(jget "$LAST" events_per_s)")
	A_P99+=("$(jget "$LAST" p99_ms)")
	A_NOTE+=("$(cpu_note)")
	A_ERR=$((A_ERR + $(jget "$LAST" errors)))
	h=$(rss VmHWM)
	[ "$h" -gt "$PEAK_A" ] && PEAK_A=$h
	store ceiling
	F_RATES+=("$(jget "$LAST" rows_per_s)")
	F_NOTE+=("$(store_cpu_note)others ${OTHER}% CPU")
done
A=$(median "${A_RATES[@]}") F=$(median "${F_RATES[@]}")
goal "$T_A_TEXT" ge "$A" "$T_A"
row "(a) ingest, 1000/request, 4 conns" \
	"$A events/s (runs $(minmax "${A_RATES[@]}"); p99 $(median "${A_P99[@]}") ms; errors $A_ERR; last run: ${A_NOTE[-1]})" \
	"${GOAL[@]}" "${A_CMD[*]}"
row "(f) ceiling: $F_LABEL" \
	"$F rows/s (runs $(minmax "${F_RATES[@]}"); last run: ${F_NOTE[-1]})" \
	"—" "—" "${F_CMD[*]} $F_SHOWN"
row "(a)/(f)" "$(ratio "$A" "$F")" "≥ $T_AF" "$(verdict ge "$(ratio "$A" "$F")" "$T_AF")" \
	"medians of $REPEAT interleaved runs"
row "(e) peak RSS under (a)" "$(mb "$PEAK_A") MB" "≤ 150 MB" "$(verdict le "$PEAK_A" 153600)" \
	"VmHWM after each (a) run$([ $HWM_RESET = yes ] && echo ', reset before it through /proc/PID/clear_refs')"
store rows_a

# ---- (b) one event per request ----
B_CMD=("$LOADGEN" --url "$URL" --key "$KEY" --conns 32 --batch 1 --seconds "$B_SECONDS")
load "(b)" "${B_CMD[@]}"
B=$(jget "$LAST" requests_per_s)
goal "$T_B_TEXT" ge "$B" "$T_B"
row "(b) one event/request, 32 conns" \
	"$B requests/s (p50 $(jget "$LAST" p50_ms) ms, p99 $(jget "$LAST" p99_ms) ms; errors $(jget "$LAST" errors), 503s $(jget "$LAST" retries_503); $(cpu_note))" \
	"${GOAL[@]}" "${B_CMD[*]}"

# ---- log in (after the RSS rows: hashing a password may take tens of MB for a moment) ----
TOKEN=$(curl -fsS -H 'Content-Type: application/json' -d "{\"password\":\"$PW\"}" "$URL/auth/login" |
	sed -n 's/.*"access_token" *: *"\([^"]*\)".*/\1/p') || true
[ -n "$TOKEN" ] || say "warning: POST /auth/login gave no token"

# ---- full mode: (d) at 10M events, (c) at 20M ----
fill_to() {
	local want=$1
	[ "$STORED" -ge "$want" ] && return 0
	load "fill to $want" "$LOADGEN" --url "$URL" --key "$KEY" --conns 4 --batch 1000 \
		--events $((want - STORED)) --progress 1M --seconds 3600
	[ "$STORED" -ge "$want" ] || say "warning: only $STORED events stored (wanted $want)"
}
if [ "$QUICK" = 0 ]; then
	fill_to "$D_AT"
	IP=$("$LOADGEN" --pool-ip 0)
	for q in "/events?event_type=LOGIN_FAIL&source_ip=$IP" "/events?q=vacuumed"; do
		D_CMD=("$LOADGEN" --url "$URL" --token "$TOKEN" --query "$q" --requests 200 --warmup 5
			--conns 1 --seconds 120)
		measure "(d)" client_cpu_s "${D_CMD[@]}"
		row "(d) GET $q at $STORED events" \
			"p50 $(jget "$LAST" p50_ms) ms, p99 $(jget "$LAST" p99_ms) ms ($(jget "$LAST" requests) answers of $(jget "$LAST" avg_rows) events; errors $(jget "$LAST" errors); $(cpu_note))" \
			"p99 ≤ $T_D ms" "$(verdict le "$(jget "$LAST" p99_ms)" "$T_D")" "$(mask "${D_CMD[*]}")"
	done
	fill_to "$C_AT"
	C_RATES=()
	for _ in $(seq "$REPEAT"); do
		load "(c)" "${A_CMD[@]}"
		C_RATES+=("$(jget "$LAST" events_per_s)")
	done
	C=$(median "${C_RATES[@]}")
	row "(c) = (a) at $C_AT+ events" \
		"$C events/s (runs $(minmax "${C_RATES[@]}"); last run: $(cpu_note)); (c)/(a) = $(ratio "$C" "$A")" \
		"≥ $T_C × (a)" "$(verdict ge "$(ratio "$C" "$A")" "$T_C")" "${A_CMD[*]}"
	row "(e) peak RSS from the last (a) to the end" "$(mb "$(rss VmHWM)") MB" "≤ 150 MB" \
		"$(verdict le "$(rss VmHWM)" 153600)" "VmHWM at the end"
fi
store bytes
row "store size at $STORED events" \
	"$(awk -v b="$BYTES" 'BEGIN {printf "%.0f", b / 1048576}') MB, $(ratio "$BYTES" "$STORED") bytes/event" \
	"—" "—" "$BYTES_SHOWN"
stop_hub

[ "$CURVE" = 0 ] || store curve

# ---- report ----
SIZE=$(stat -c %s "$HUB")
STRIPPED=$(strip -o "$TMP/hub.stripped" "$HUB" 2>/dev/null && stat -c %s "$TMP/hub.stripped" || echo "?")
row "footprint: binary size" "$SIZE bytes ($STRIPPED stripped)" "—" "—" "stat -c %s $HUB"
{
	echo "# minisiem bench $(date -u +%Y-%m-%dT%H:%M:%SZ)$([ "$QUICK" = 1 ] && echo ' (quick)')"
	echo
	echo "machine: $NCPU cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)," \
		"$(awk '/MemTotal/ {printf "%.0f GB", $2 / 1048576}' /proc/meminfo), kernel $(uname -r)," \
		"$(store header)"
	if [ -n "${MINISIEM_BIN:-}" ]; then
		echo "hub: $("$HUB" --version 2>/dev/null | head -1) ($HUB, from MINISIEM_BIN)"
	else
		echo "hub: $("$HUB" --version 2>/dev/null | head -1) (built from the tree at $(git describe --always --dirty 2>/dev/null || echo '?'))"
	fi
	echo "events: $(jget "$(head -1 "$JSONL")" avg_event_bytes) bytes on average (bench/gen.c)"
	echo "other processes: load average $LOAD0 at the start; at most ${MAX_OTHER}% of all CPUs" \
		"used by others, ${MAX_STEAL}% stolen by the hypervisor, during any measurement" \
		"$(ge "$MAX_OTHER" 5 && echo '— NOT A CLEAN RUN')"
	echo
	echo "| benchmark | result | target | | command |"
	echo "|---|---|---|---|---|"
	for r in "${ROWS[@]}"; do
		IFS='|' read -r l v t ok c <<<"$r"
		echo "| $l | $v | $t | $ok | \`$c\` |"
	done
	if [ -n "$STAGES" ]; then
		echo
		echo "Per stage during the last (a) run (thread CPU time, from /metrics; bench/stages.py):"
		echo
		echo "$STAGES"
	fi
} | tee "$OUT/results.md"
say "results in $OUT/results.md, raw JSON lines in $JSONL"
