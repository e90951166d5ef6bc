#!/usr/bin/env bash
# run_fuzz.sh SECONDS RESULTS — run every fuzz driver in build/fuzz for SECONDS from its seed
# corpus (tests/fuzz/corpus/NAME, copied so the repository's corpus is not modified), count
# each driver that ends without a crash as passed, and append "fuzz P F 0" to RESULTS.
# Drivers run two at a time (FUZZ_JOBS), each on one core for its whole SECONDS.
# A crash input is left in build/fuzz/ (crash-*) to keep as a regression test.
secs=$1 results=$2
jobs=${FUZZ_JOBS:-2}

one() { # NAME DRIVER: run it, leave its exit status in build/fuzz/NAME.rc
	local name=$1 f=$2 work=build/fuzz/corpus-$1
	mkdir -p "$work"
	[ -d "tests/fuzz/corpus/$name" ] && cp -n tests/fuzz/corpus/"$name"/* "$work"/ 2>/dev/null
	"$f" -max_total_time="$secs" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix=build/fuzz/ "$work" >"build/fuzz/$name.log" 2>&1
	echo $? >"build/fuzz/$name.rc"
}

names=()
for f in build/fuzz/fuzz_*; do
	[ -x "$f" ] || continue
	name=${f##*/fuzz_}
	names+=("$name")
	rm -f "build/fuzz/$name.rc"
	while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
		wait -n
	done
	one "$name" "$f" &
done
wait

pass=0 fail=0
for name in "${names[@]}"; do
	if [ "$(cat "build/fuzz/$name.rc" 2>/dev/null)" = 0 ]; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "FAIL fuzz $name (see build/fuzz/$name.log)"
		grep -E "ERROR|SUMMARY|Test unit written" "build/fuzz/$name.log" | head -5
	fi
done
echo "fuzz: $pass passed, $fail failed"
echo "fuzz $pass $fail 0" >>"$results"
