#!/usr/bin/env bash
# enrich.sh — what enrichment costs (BENCHMARKS.md, "Enrichment"): (g) batched ingest with
# GeoIP + ASN + 1M intel indicators on versus off, runs interleaved on fresh SQLite stores in
# this one run, and their ratio; (h) the cost per event and the load time and memory of the
# indicators (bench/enrich_cost.c). Every result is printed with its command.
#   bench/enrich.sh [--quick]
# env: MINISIEM_BIN (default build/rel/minisiem, built here), BENCH_REPEAT (3), BENCH_TMPDIR,
#      SIEM_TEST_DATA (shared/data: the MaxMind test databases)
set -euo pipefail
cd "$(dirname "$0")/.."

QUICK=0
[ "${1:-}" = --quick ] && QUICK=1
REPEAT=${BENCH_REPEAT:-3}
EVENTS=2000000
INDICATORS=1000000
[ "$QUICK" = 1 ] && EVENTS=200000 REPEAT=1
OUT=build/bench
HUB=${MINISIEM_BIN:-build/rel/minisiem}
KEY=benchkey-0123456789abcdef
DATA=${SIEM_TEST_DATA:-../shared/data}
CITY=$DATA/maxmind/test-data/GeoIP2-City-Test.mmdb
ASN=$DATA/maxmind/test-data/GeoLite2-ASN-Test.mmdb

say() { printf 'bench: %s\n' "$*" >&2; }
fail() {
	say "error: $*"
	exit 1
}
jget() { sed -n "s/.*\"$2\":\\([-0-9.]*\\).*/\\1/p" <<<"$1"; }
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "n/a"}'; }

[ -f "$CITY" ] && [ -f "$ASN" ] || fail "no MaxMind test databases under $DATA/maxmind (set SIEM_TEST_DATA)"
mkdir -p "$OUT"
if [ -z "${MINISIEM_BIN:-}" ]; then
	say "building the hub and enrich_cost"
	make --no-print-directory BUILD=build/rel build/rel/minisiem build/rel/bench/enrich_cost \
		>"$OUT/make-enrich.log" 2>&1 || { tail -30 "$OUT/make-enrich.log" >&2; fail "build failed"; }
fi
cc -std=c17 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -o "$OUT/loadgen" bench/loadgen.c bench/gen.c
TMP=$(mktemp -d "${BENCH_TMPDIR:-${TMPDIR:-/tmp}}/minisiem-bench-enrich.XXXXXX")
HUB_PID=
stop_hub() {
	[ -n "$HUB_PID" ] || return 0
	kill -TERM "$HUB_PID" 2>/dev/null || true
	wait "$HUB_PID" 2>/dev/null || true
	HUB_PID=
}
trap 'stop_hub; rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM

# (h) first: it writes the 1M-indicator list the hub then loads
mkdir -p "$TMP/intel"
H_CMD=(build/rel/bench/enrich_cost --indicators "$INDICATORS" --events "$EVENTS" --geoip-db "$CITY" --asn-db "$ASN" --dir "$TMP/intel")
say "(h): ${H_CMD[*]}"
H=$("${H_CMD[@]}")
rm -f "$TMP/intel/bench_list.txt"
# the hub's list: 1M random public /24../32 blocks (enrich_cost removes its own when done)
awk -v n="$INDICATORS" 'BEGIN {srand(7); for (i = 0; i < n; i++) {
	a = 11 + int(rand() * 200); printf "%d.%d.%d.%d/%d\n", a, int(rand() * 256), int(rand() * 256), 0, 24 + int(rand() * 9) }}' \
	>"$TMP/intel/bench_list.txt"

run_hub() { # on|off → PORT, HUB_PID
	local extra=()
	[ "$1" = on ] && extra=(--geoip-db "$CITY" --asn-db "$ASN" --intel-dir "$TMP/intel")
	rm -rf "$TMP/store"* && mkdir -p "$TMP/store"
	env SIEM_API_KEYS="bench:$KEY" SIEM_JWT_SECRET=benchsecret-0123456789abcdef0123456789abcdef \
		"$HUB" serve --listen 127.0.0.1:0 --db "$TMP/store/s.db" "${extra[@]}" >"$TMP/hub.out" 2>"$TMP/hub.err" &
	HUB_PID=$!
	PORT=
	for _ in $(seq 600); do
		PORT=$(sed -n 's|.*minisiem: listening on http://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$TMP/hub.out" | head -1)
		[ -n "$PORT" ] && break
		kill -0 "$HUB_PID" 2>/dev/null || { cat "$TMP/hub.err" >&2; fail "the hub exited at start"; }
		sleep 0.1
	done
	[ -n "$PORT" ] || fail "no listening line in 60 s"
}

G_CMD=("$OUT/loadgen" --key "$KEY" --conns 4 --batch 1000 --events "$EVENTS" --seconds 300)
ON=() OFF=() RSS_ON=() RSS_OFF=()
for _ in $(seq "$REPEAT"); do
	for mode in off on; do
		run_hub "$mode"
		say "(g) $mode: ${G_CMD[*]} --url http://127.0.0.1:$PORT"
		R=$("${G_CMD[@]}" --url "http://127.0.0.1:$PORT")
		rss=$(awk '$1 == "VmHWM:" {print $2}' "/proc/$HUB_PID/status")
		stop_hub
		if [ "$mode" = on ]; then ON+=("$(jget "$R" events_per_s)") RSS_ON+=("$rss"); else OFF+=("$(jget "$R" events_per_s)") RSS_OFF+=("$rss"); fi
	done
done
on=$(median "${ON[@]}") off=$(median "${OFF[@]}")
{
	echo "| row | result | target | command |"
	echo "|---|---|---|---|"
	echo "| (g) ingest, enrichment off | $off events/s (runs ${OFF[*]}; peak RSS $(median "${RSS_OFF[@]}") kB) | — | \`${G_CMD[*]}\` against \`minisiem serve\` |"
	echo "| (g) ingest, GeoIP + ASN + $INDICATORS intel indicators | $on events/s (runs ${ON[*]}; peak RSS $(median "${RSS_ON[@]}") kB) | — | the same, hub with \`--geoip-db GeoIP2-City-Test.mmdb --asn-db GeoLite2-ASN-Test.mmdb --intel-dir\` (one list of $INDICATORS CIDR blocks) |"
	echo "| (g) on / off | $(ratio "$on" "$off") | ≥ 0.9 | medians of the interleaved runs above |"
	echo "| (h) enrichment cost | load $(jget "$H" load_s) s, $(jget "$H" intel_rss_mb) MB for $INDICATORS indicators; $(jget "$H" intel_ns_per_event) ns/event intel only, $(jget "$H" all_ns_per_event) ns/event GeoIP + ASN + intel | well under 1 µs | \`${H_CMD[*]}\` |"
} | tee "$OUT/enrich.md"
