#!/usr/bin/env bash
# parse.sh — how fast raw lines become events (BENCHMARKS.md, "Parsing: lines per second"):
# (p) `minisiem logtest` over sshd (loghub OpenSSH_2k repeated), netfilter/UFW firewall lines,
# nginx access lines, CSV rows and a user-defined decoder's lines, and over the same sshd
# lines with the hub of 05ca091 (before the decoder files), interleaved in this one run;
# (t) the hub's tailer (--tail-dir): a JSON-lines file and a CSV file, from the file's
# arrival to its last event stored; (u) the agent's file source (linux-auth:FILE, --once) to
# a hub, from start to the hub's last acknowledgement. Every result is printed with its
# command.
#   bench/parse.sh [--quick]
# env: MINISIEM_BIN, MINISIEM_AGENT_BIN (default build/rel/..., built here), BENCH_REPEAT (3),
#      BENCH_TMPDIR, SIEM_TEST_DATA (shared/data: loghub's OpenSSH_2k), BASE_BIN (the baseline
#      hub; default: 05ca091 built under build/bench/base-05ca091)
set -euo pipefail
cd "$(dirname "$0")/.."

QUICK=0
[ "${1:-}" = --quick ] && QUICK=1
REPEAT=${BENCH_REPEAT:-3}
COPIES=50 # OpenSSH_2k × 50: 100,000 lines
LINES=100000
[ "$QUICK" = 1 ] && COPIES=10 LINES=20000 REPEAT=1
BASE_COMMIT=05ca091
OUT=build/bench
HUB=${MINISIEM_BIN:-build/rel/minisiem}
AGENT=${MINISIEM_AGENT_BIN:-build/rel/minisiem-agent}
KEY=benchkey-0123456789abcdef
DATA=${SIEM_TEST_DATA:-../shared/data}
SSHD=$DATA/loghub/OpenSSH/OpenSSH_2k.log

say() { printf 'bench: %s\n' "$*" >&2; }
fail() {
	say "error: $*"
	exit 1
}
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
now() { date +%s.%N; }
rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN {printf "%d", n / (b - a)}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "n/a"}'; }

[ -f "$SSHD" ] || fail "no $SSHD (set SIEM_TEST_DATA to the shared data folder)"
mkdir -p "$OUT"
if [ -z "${MINISIEM_BIN:-}" ]; then
	say "building the hub and the agent"
	make --no-print-directory BUILD=build/rel build/rel/minisiem build/rel/minisiem-agent \
		>"$OUT/make-parse.log" 2>&1 || { tail -30 "$OUT/make-parse.log" >&2; fail "build failed"; }
fi
# The baseline: the hub of 05ca091, built once from `git archive` (only its logtest is run,
# so the dashboard it embeds is borrowed from this build instead of bundled again).
BASE=${BASE_BIN:-}
if [ -z "$BASE" ]; then
	B=$OUT/base-$BASE_COMMIT
	BASE=$B/build/rel/minisiem
	if [ ! -x "$BASE" ]; then
		say "building the baseline hub ($BASE_COMMIT) in $B"
		rm -rf "$B" && mkdir -p "$B/build/gen"
		git archive "$BASE_COMMIT" | tar -x -C "$B"
		cp build/gen/web_assets.c "$B/build/gen/"
		(cd "$B" && make --no-print-directory -o web/dist/.stamp -o web/node_modules/.stamp \
			-o build/gen/web_assets.c BUILD=build/rel VERSION=$BASE_COMMIT build/rel/minisiem) \
			>"$OUT/make-parse-base.log" 2>&1 ||
			{ tail -30 "$OUT/make-parse-base.log" >&2; fail "baseline build failed"; }
	fi
fi

TMP=$(mktemp -d "${BENCH_TMPDIR:-${TMPDIR:-/tmp}}/minisiem-bench-parse.XXXXXX")
HUB_PID=
stop_hub() {
	[ -n "$HUB_PID" ] || return 0
	kill -TERM "$HUB_PID" 2>/dev/null || true
	wait "$HUB_PID" 2>/dev/null || true
	HUB_PID=
}
trap 'stop_hub; rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM

# ---- the inputs ----
for _ in $(seq "$COPIES"); do awk 1 "$SSHD"; done >"$TMP/sshd.log" # awk: the file ends without a newline
SSHD_LINES=$(wc -l <"$TMP/sshd.log")
# UFW/netfilter kernel lines and nginx combined access lines from fixed pools of addresses
awk -v n="$LINES" 'BEGIN {for (i = 0; i < n; i++) printf "Dec  7 08:%02d:%02d gw1 kernel: [%d.%06d] [UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:12:34:56:52:54:00:65:43:21:08:00 SRC=203.0.%d.%d DST=192.0.2.10 LEN=60 TOS=0x00 PREC=0x00 TTL=%d ID=%d DF PROTO=TCP SPT=%d DPT=%d WINDOW=64240 RES=0x00 SYN URGP=0 \n",
	i / 60 % 60, i % 60, 1000 + i, i % 1000000, i / 250 % 256, i % 250 + 1, 40 + i % 20, i % 65536, 1024 + i % 60000, (i % 7 ? 22 : 3389)}' >"$TMP/ufw.log"
awk -v n="$LINES" 'BEGIN {split("GET POST GET GET HEAD", m, " "); split("200 404 200 301 500 200 403", s, " ");
	for (i = 0; i < n; i++) printf "Dec  7 08:%02d:%02d web1 nginx: 198.51.%d.%d - - [07/Dec/2026:08:%02d:%02d +0000] \"%s /app/item/%d?page=%d HTTP/1.1\" %s %d \"https://example.com/\" \"Mozilla/5.0 (X11; Linux x86_64) bench/%d\"\n",
	i / 60 % 60, i % 60, i / 250 % 256, i % 250 + 1, i / 60 % 60, i % 60, m[i % 5 + 1], i % 5000, i % 9, s[i % 7 + 1], 200 + i % 30000, i % 50}' >"$TMP/nginx.log"
# A user-defined decoder and its program's lines
mkdir -p "$TMP/decoders"
cat >"$TMP/decoders/vault.yml" <<'EOF'
patterns:
  VAULT_PATH: '[a-z0-9/_-]+'
decoders:
  - name: vault
    programs: [vaultd]
    patterns:
      - name: denied
        match: 'permission denied: user=%{USERNAME:user} path=%{VAULT_PATH:data.path} from %{IP:source_ip} port %{INT:data.port:int}'
        type: VAULT_DENIED
        severity: 4
      - name: login
        match: 'login ok: user=%{USERNAME:user} from %{IP:source_ip}'
        type: VAULT_LOGIN
        severity: 1
EOF
awk -v n="$LINES" 'BEGIN {for (i = 0; i < n; i++) if (i % 4) printf "Dec  7 08:%02d:%02d vault1 vaultd[%d]: permission denied: user=user%d path=secret/team%d/db from 10.%d.%d.%d port %d\n", i / 60 % 60, i % 60, 100 + i % 900, i % 500, i % 40, i / 65536 % 256, i / 256 % 256, i % 256, 1024 + i % 60000;
	else printf "Dec  7 08:%02d:%02d vault1 vaultd[%d]: login ok: user=user%d from 10.1.%d.%d\n", i / 60 % 60, i % 60, 100 + i % 900, i % 500, i / 256 % 256, i % 256}' >"$TMP/user.log"
# JSON lines and CSV: the sshd lines as normalized events (what an application or a
# collector writes), every line with its own id
"$HUB" logtest --format syslog "$TMP/sshd.log" >"$TMP/sshd.jsonl" 2>/dev/null
python3 - "$TMP/sshd.jsonl" "$TMP/sshd.csv" <<'EOF'
import csv, json, sys
cols = ["timestamp", "source_host", "app", "event_type", "severity", "source_ip", "user", "message"]
with open(sys.argv[1]) as f, open(sys.argv[2], "w", newline="") as out:
    w = csv.writer(out)
    w.writerow(cols)
    for line in f:
        e = json.loads(line)
        w.writerow(["" if e.get(c) in (None, "N/A") else e[c] for c in cols])
EOF
ROWS=$(($(wc -l <"$TMP/sshd.csv") - 1))

# ---- (p) logtest ----
logtest_rate() { # NAME BIN ARGS... → lines/s of BIN logtest ARGS (median of REPEAT)
	local name=$1 bin=$2 n=$3
	shift 3
	local runs=() a b
	for _ in $(seq "$REPEAT"); do
		a=$(now)
		"$bin" logtest "$@" >/dev/null 2>&1 || fail "$name: $bin logtest $* failed"
		b=$(now)
		runs+=("$(rate "$n" "$a" "$b")")
	done
	say "(p) $name: $bin logtest $* → ${runs[*]} lines/s"
	median "${runs[@]}"
}
ROWS_MD=()
row() { ROWS_MD+=("$1"); }
# sshd now and at the baseline, interleaved run by run so that both see the same load
P_NOW=() P_BASE=()
for _ in $(seq "$REPEAT"); do
	P_BASE+=("$(REPEAT=1 logtest_rate "sshd, $BASE_COMMIT" "$BASE" "$SSHD_LINES" --format syslog "$TMP/sshd.log")")
	P_NOW+=("$(REPEAT=1 logtest_rate "sshd, now" "$HUB" "$SSHD_LINES" --format syslog "$TMP/sshd.log")")
done
p_now=$(median "${P_NOW[@]}") p_base=$(median "${P_BASE[@]}")
row "| (p) \`logtest\`, sshd (OpenSSH_2k × $COPIES, $SSHD_LINES lines), at $BASE_COMMIT | $p_base lines/s (runs ${P_BASE[*]}) | \`$BASE logtest --format syslog sshd.log\` |"
row "| (p) \`logtest\`, sshd, now | $p_now lines/s (runs ${P_NOW[*]}); now / $BASE_COMMIT: $(ratio "$p_now" "$p_base") | \`$HUB logtest --format syslog sshd.log\` |"
r=$(logtest_rate firewall "$HUB" "$LINES" --format syslog "$TMP/ufw.log")
row "| (p) \`logtest\`, UFW/netfilter lines ($LINES) | $r lines/s | \`$HUB logtest --format syslog ufw.log\` |"
r=$(logtest_rate nginx "$HUB" "$LINES" --format syslog "$TMP/nginx.log")
row "| (p) \`logtest\`, nginx access lines ($LINES) | $r lines/s | \`$HUB logtest --format syslog nginx.log\` |"
r=$(logtest_rate csv "$HUB" "$ROWS" --format csv "$TMP/sshd.csv")
row "| (p) \`logtest\`, CSV rows ($ROWS, the sshd events) | $r lines/s | \`$HUB logtest --format csv sshd.csv\` |"
r=$(logtest_rate "user decoder" "$HUB" "$LINES" --decoders "$TMP/decoders" --format syslog "$TMP/user.log")
row "| (p) \`logtest\`, a user decoder's lines ($LINES, \`--decoders\`) | $r lines/s | \`$HUB logtest --decoders DIR --format syslog user.log\` |"

# ---- (t) the tailer and (u) the agent ----
run_hub() { # extra args... → PORT, HUB_PID
	rm -rf "$TMP/store" && mkdir -p "$TMP/store"
	env SIEM_API_KEYS="bench:$KEY" SIEM_JWT_SECRET=benchsecret-0123456789abcdef0123456789abcdef \
		"$HUB" serve --listen 127.0.0.1:0 --db "$TMP/store/s.db" "$@" >"$TMP/hub.out" 2>"$TMP/hub.err" &
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
tail_accepted() {
	curl -sf "http://127.0.0.1:$PORT/metrics" |
		awk '$1 == "minisiem_events_accepted_total{source=\"tail\"}" {print $2}'
}
tail_rate() { # FILE NAME N → lines/s from the file's arrival in --tail-dir to N events stored
	local file=$1 name=$2 n=$3 a b got
	run_hub --tail-dir "$TMP/tail"
	cp "$file" "$TMP/$name.part"
	a=$(now)
	mv "$TMP/$name.part" "$TMP/tail/$name"
	for _ in $(seq 12000); do
		got=$(tail_accepted)
		[ "${got:-0}" -ge "$n" ] && break
		sleep 0.02
	done
	b=$(now)
	stop_hub
	[ "${got:-0}" -ge "$n" ] || fail "tailer: $got of $n events of $name in 240 s"
	rm -f "$TMP/tail/$name"
	rate "$n" "$a" "$b"
}
mkdir -p "$TMP/tail"
T_J=() T_C=() U=()
JSONL_LINES=$(wc -l <"$TMP/sshd.jsonl")
U_CMD=("$AGENT" --once --server "http://127.0.0.1:PORT" --insecure-http --state-dir STATE --batch 500 --source "linux-auth:sshd.log")
for _ in $(seq "$REPEAT"); do
	T_J+=("$(tail_rate "$TMP/sshd.jsonl" sshd.jsonl "$JSONL_LINES")")
	T_C+=("$(tail_rate "$TMP/sshd.csv" sshd.csv "$ROWS")")
	run_hub
	rm -rf "$TMP/agent"
	a=$(now)
	SIEM_AGENT_API_KEY=$KEY "$AGENT" --once --server "http://127.0.0.1:$PORT" --insecure-http \
		--state-dir "$TMP/agent" --batch 500 --source "linux-auth:$TMP/sshd.log" 2>"$TMP/agent.err" ||
		{ tail -5 "$TMP/agent.err" >&2; fail "the agent did not deliver everything"; }
	b=$(now)
	stop_hub
	U+=("$(rate "$SSHD_LINES" "$a" "$b")")
done
say "(t) jsonl ${T_J[*]}, csv ${T_C[*]}; (u) agent ${U[*]} lines/s"
row "| (t) tailer, JSON lines ($JSONL_LINES sshd events) | $(median "${T_J[@]}") lines/s (runs ${T_J[*]}) | \`$HUB serve --tail-dir DIR\`; the file moved in, until \`minisiem_events_accepted_total{source=\"tail\"}\` counts them |"
row "| (t) tailer, CSV ($ROWS rows) | $(median "${T_C[@]}") lines/s (runs ${T_C[*]}) | the same with \`sshd.csv\` |"
row "| (u) agent file source to a hub, sshd ($SSHD_LINES lines) | $(median "${U[@]}") lines/s (runs ${U[*]}) | \`${U_CMD[*]}\`, start to exit (every batch acknowledged) |"

{
	echo "| row | result | command |"
	echo "|---|---|---|"
	printf '%s\n' "${ROWS_MD[@]}"
	echo
	echo "commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src decoders || echo ' (modified)'), $(date -u +%Y-%m-%dT%H:%MZ), load average $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$OUT/parse.md"
