# web/web.mk — the dashboard's build, included by the top Makefile: Node and npm (Debian's
# packages when missing), `npm ci` from the committed lock file, esbuild bundling web/src into
# web/dist (content-hashed names, a .gz beside each file), and web/embed.py turning web/dist
# into build/gen/web_assets.c, which is compiled and linked into the hub ($(WEB_OBJ)).

WEB_SRC   := $(shell find web/src -type f 2>/dev/null) web/build.mjs web/package.json \
             web/package-lock.json
WEB_DEPS  := web/node_modules/.stamp
WEB_DIST  := web/dist/.stamp
WEB_GEN   := build/gen/web_assets.c
WEB_OBJ   := $(BUILD)/gen/web_assets.o

.PHONY: web web-deps check-web

web: $(WEB_DIST)

# Node and npm: Debian's nodejs and npm packages when there is no `npm` (a nodesource
# nodejs brings its own npm and conflicts with Debian's, so only a missing command counts).
web-deps:
	@if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing: nodejs npm"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null || exit 1; \
	  else \
	    echo "the dashboard needs Node.js and npm; run:"; \
	    echo "  sudo apt-get update && sudo apt-get install -y nodejs npm"; exit 1; \
	  fi; \
	fi

$(WEB_DEPS): web/package.json web/package-lock.json
	@$(MAKE) --no-print-directory web-deps
	cd web && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(WEB_DIST): $(WEB_DEPS) $(WEB_SRC)
	cd web && node build.mjs
	@touch $@

$(WEB_GEN): $(WEB_DIST) web/embed.py
	@mkdir -p $(dir $@)
	python3 web/embed.py web/dist $@

$(WEB_OBJ): $(WEB_GEN)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

# The hub's link line is `$^`: this adds the embedded files to it.
$(HUB): $(WEB_OBJ)

# Browser tests (Playwright driving Debian's Chromium) and the static-file checks; appends
# "web P F S" to build/results.txt.
check-web: $(HUB) $(WEB_DEPS)
	@tests/web/run.sh $(HUB) build/results.txt
