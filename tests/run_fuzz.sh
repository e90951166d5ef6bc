#!/bin/sh
# run_fuzz.sh SECONDS RESULTS — run every fuzz driver in build/fuzz for SECONDS from its seed
# corpus (tests/fuzz/corpus/NAME, copied so the repository's corpus is not modified), count
# each driver that ends without a crash as passed, and append "fuzz P F 0" to RESULTS.
# A crash input is left in build/fuzz/ (crash-*) to keep as a regression test.
secs=$1 results=$2
pass=0 fail=0
for f in build/fuzz/fuzz_*; do
	[ -x "$f" ] || continue
	name=${f##*/fuzz_}
	work=build/fuzz/corpus-$name
	mkdir -p "$work"
	[ -d "tests/fuzz/corpus/$name" ] && cp -n tests/fuzz/corpus/"$name"/* "$work"/ 2>/dev/null
	if "$f" -max_total_time="$secs" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix=build/fuzz/ "$work" >"build/fuzz/$name.log" 2>&1; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "FAIL fuzz $name (see build/fuzz/$name.log)"
		grep -E "ERROR|SUMMARY|Test unit written" "build/fuzz/$name.log" | head -5
	fi
done
echo "fuzz: $pass passed, $fail failed"
echo "fuzz $pass $fail 0" >>"$results"
