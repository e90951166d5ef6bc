#!/usr/bin/env bash
# broker.sh — `make bench BROKER=1`: the broker-mode rows of BENCHMARKS.md ("Broker mode"):
# batched ingest with 1 and 2 store nodes, POST /ingest to queryable and to alert (p50/p99),
# each process's CPU per 1,000 events, and a projection per added node. A private RabbitMQ
# and PostgreSQL (tests/e2e/mqserver.py, pgserver.py) on loopback; bench/broker.py drives it.
#   bench/broker.sh [--quick] [broker.py's options]
# env: MINISIEM_BIN (default build/rel/minisiem, built here), BENCH_TMPDIR, CC (cc),
#      BENCH_QUIET_LOAD (0.3) and BENCH_QUIET_WAIT (300 s): before each row, wait that long at
#      most for a 1-minute load average under that
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=build/bench
HUB=${MINISIEM_BIN:-build/rel/minisiem}
say() { printf 'bench: %s\n' "$*" >&2; }
mkdir -p "$OUT"
if [ -z "${MINISIEM_BIN:-}" ]; then
	say "building the hub (make BUILD=build/rel)"
	make --no-print-directory BUILD=build/rel build/rel/minisiem >"$OUT/make-broker.log" 2>&1 ||
		{
			tail -30 "$OUT/make-broker.log" >&2
			say "error: the hub does not build"
			exit 1
		}
	COMMIT="built from the tree at $(git describe --always --dirty 2>/dev/null || echo '?')"
else
	COMMIT="$("$HUB" --version 2>/dev/null | head -1) ($HUB, from MINISIEM_BIN)"
fi
[ -x "$HUB" ] || {
	say "error: no hub binary at '$HUB'"
	exit 1
}
${CC:-cc} -std=c17 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -o "$OUT/loadgen" bench/loadgen.c bench/gen.c
exec python3 bench/broker.py --hub "$HUB" --loadgen "$OUT/loadgen" --out "$OUT" --commit "$COMMIT" \
	--quiet-load "${BENCH_QUIET_LOAD:-0.3}" --quiet-wait "${BENCH_QUIET_WAIT:-300}" "$@"
