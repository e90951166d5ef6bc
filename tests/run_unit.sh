#!/bin/sh
# run_unit.sh BUILD RESULTS — run every cmocka unit test binary in BUILD/tests (TAP output),
# print failures, and append "unit:BUILD passed failed skipped" to RESULTS.
build=$1 results=$2
pass=0 fail=0 skip=0
for t in "$build"/tests/test_*; do
	[ -x "$t" ] || continue
	out=$(CMOCKA_MESSAGE_OUTPUT=TAP "$t" 2>&1)
	rc=$?
	# cmocka 1.1 prints a skipped test as "not ok N # SKIP"; TAP says "ok N # SKIP".
	s=$(printf '%s\n' "$out" | grep -c '^\(not \)\{0,1\}ok .*# SKIP')
	p=$(printf '%s\n' "$out" | grep '^ok ' | grep -vc '# SKIP')
	f=$(printf '%s\n' "$out" | grep '^not ok ' | grep -vc '# SKIP')
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && [ "$s" -eq 0 ]; then
		f=1 # crashed or failed outside a test
	fi
	if [ "$f" -ne 0 ]; then
		echo "FAIL $t"
		printf '%s\n' "$out" | grep -v '^ok ' | head -50
	fi
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
done
echo "unit ($build): $pass passed, $fail failed, $skip skipped"
echo "unit:$build $pass $fail $skip" >>"$results"
