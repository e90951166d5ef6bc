#!/bin/sh
# summary.sh RESULTS — add up the suites' counts; the last line is the total. Exit 1 on any
# failure or when a suite did not report.
results=$1
if [ ! -s "$results" ]; then
	echo "0 passed, 1 failed"
	exit 1
fi
awk '{ p += $2; f += $3; s += $4 }
END {
	if (s > 0) printf "%d passed, %d failed, %d skipped\n", p, f, s
	else printf "%d passed, %d failed\n", p, f
	exit (f > 0)
}' "$results"
