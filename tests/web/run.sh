#!/bin/sh
# run.sh HUB RESULTS — the dashboard's browser tests: Playwright (playwright-core from
# web/node_modules) driving Debian's Chromium against a hub this script's runner starts on a
# free loopback port. Installs the chromium package (and an emoji font for the flags) when
# missing (as root); without a browser every test is reported skipped. Appends "web P F S" to RESULTS.
hub=$1 results=$2
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
if [ -z "$hub" ] || [ -z "$results" ]; then
	echo "usage: tests/web/run.sh HUB RESULTS" >&2
	exit 2
fi
if [ ! -x /usr/bin/chromium ]; then
	if [ "$(id -u)" = 0 ]; then
		echo "web: installing chromium"
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-color-emoji >/dev/null
	fi
fi
if [ ! -d "$root/web/node_modules/playwright-core" ]; then
	(cd "$root/web" && npm ci --no-audit --no-fund --loglevel=error) || true
fi
exec node "$here/run.mjs" --hub "$hub" --results "$results"
