# minisiem — build, run, install, test, bench. `make run` and `make check` install what they need.

CC       ?= cc
PKGS     := libmicrohttpd jansson sqlite3 libjwt libargon2 libcrypto zlib libpcre2-8 yaml-0.1 libcurl \
            expat libevtx libpq libmaxminddb libcares librabbitmq
# Debian packages: what building and running the hub and the agent need (`make`, `make run`,
# `make install`), and what only the tests need besides (`make check`: cmocka, the Windows
# cross compiler, journal-remote, a PostgreSQL server, clang for the fuzzers and the format
# check; tests/web/run.sh adds the browser).
RUN_DEB_PKGS   := build-essential pkg-config libmicrohttpd-dev libjansson-dev libsqlite3-dev \
            libjwt-dev libargon2-dev libssl-dev zlib1g-dev libcrypt-dev libpcre2-dev \
            libyaml-dev libcurl4-openssl-dev libexpat1-dev libevtx-dev libbfio-dev \
            libsystemd-dev python3 nodejs libpq-dev postgresql-client-15 libmaxminddb-dev \
            libc-ares-dev libcsv-dev librabbitmq-dev
CHECK_DEB_PKGS := libcmocka-dev systemd-journal-remote gcc-mingw-w64-x86-64 libz-mingw-w64-dev \
            curl sqlite3 clang clang-format libclang-rt-dev postgresql-15 strace rabbitmq-server \
            docker-compose
BUILD    ?= build/rel
SANITIZE ?=
VERSION  := $(shell git describe --always --dirty 2>/dev/null || echo 0.1)

CSTD     := -std=c17 -D_GNU_SOURCE
WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wformat=2 -Wno-format-nonliteral
OPT      := -O2 -g
ifeq ($(SANITIZE),1)
BUILD    := build/asan
OPT      := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
endif
ifeq ($(FUZZ),1)
CC       := clang
BUILD    := build/fuzz
OPT      := -O1 -g -fsanitize=address,undefined,fuzzer-no-link -fno-omit-frame-pointer \
            -DSIEM_TEST_SEAMS
endif
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CFLAGS   += $(CSTD) $(WARN) $(OPT) -Isrc -include src/core/banned.h -DSIEM_VERSION='"$(VERSION)"' $(PKG_CFLAGS) \
            -MMD -MP
LDLIBS   += $(PKG_LIBS) -lcsv -lcrypt -lpthread -lm
LDFLAGS  += $(if $(filter 1,$(SANITIZE)),-fsanitize=address$(,)undefined)
, := ,

LIB_DIRS := core ingest broker store store/pg auth http api hub parse source detect alert notify enrich
# Not in the hub: Windows files (*_win.c) and the journald source (libsystemd; src/agent/agent.mk).
LIB_SRC  := $(filter-out src/hub/main.c $(EXCLUDE) %_win.c src/source/journald.c,\
              $(foreach d,$(LIB_DIRS),$(wildcard src/$(d)/*.c)))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
HUB      := $(BUILD)/minisiem
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
# Files with test seams (globals a unit test flips) are built a second time, with
# -DSIEM_TEST_SEAMS, for the unit tests only; the binaries never have them.
SEAM_SRC := src/source/tail_fs.c src/parse/jsonl.c
SEAM_OBJ := $(SEAM_SRC:%.c=$(BUILD)/seams/%.o)
UNIT_OBJ := $(filter-out $(SEAM_SRC:%.c=$(BUILD)/%.o),$(LIB_OBJ)) $(SEAM_OBJ)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)
FUZZ_SECONDS ?= 60
E2E_JOBS ?= 2   # end-to-end test files run in this many processes (most of a test is waiting)

.PHONY: all deps deps-run run install uninstall check check-suite check-fuzz check-format fuzz \
        fuzz-build bench clean format help
all: deps-run $(HUB)

help:
	@echo "make run     build and start the hub on 127.0.0.1:8080 (store in ./var/; ARGS=\"...\" adds flags)"
	@echo "make install install into PREFIX (/usr/local) with systemd units; DESTDIR for staging"
	@echo "make check   build and run every test suite (unit, end-to-end, sanitizers)"
	@echo "make bench   benchmarks (QUICK=1 for a short run); results in BENCHMARKS.md"

# Install the missing Debian packages of a list (as root), or print the exact command.
# rabbitmq-server is there for the tests, which start brokers of their own: installed here,
# its system service is neither started (policy-rc.d for the install) nor enabled.
apt_missing = missing=""; for p in $(1); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    policy=""; case " $$missing " in *" rabbitmq-server "*) \
	      if [ ! -e /usr/sbin/policy-rc.d ]; then policy=/usr/sbin/policy-rc.d; \
	        printf '\#!/bin/sh\nexit 101\n' >$$policy && chmod 755 $$policy; fi;; esac; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	    rc=$$?; [ -z "$$policy" ] || rm -f $$policy; \
	    case " $$missing " in *" rabbitmq-server "*) \
	      systemctl disable rabbitmq-server >/dev/null 2>&1; \
	      update-rc.d rabbitmq-server disable >/dev/null 2>&1;; esac; \
	    [ $$rc = 0 ] || exit 1; \
	  else \
	    echo "missing $(2); run:"; echo "  sudo apt-get update && sudo apt-get install -y$$missing"; exit 1; \
	  fi; \
	fi

# What building and running need; deps: also what the tests need.
deps-run:
	@$(call apt_missing,$(RUN_DEB_PKGS),build dependencies)
deps:
	@$(call apt_missing,$(RUN_DEB_PKGS) $(CHECK_DEB_PKGS),build and test dependencies)

$(HUB): $(LIB_OBJ) $(BUILD)/src/hub/main.o
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

.SECONDARY: $(SEAM_OBJ)
$(BUILD)/seams/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DSIEM_TEST_SEAMS -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(UNIT_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DSIEM_TEST_SEAMS $(LDFLAGS) -o $@ $< $(UNIT_OBJ) $(LDLIBS) -lcmocka

# The rule engine's cost with SigmaHQ's rules: the bench's events (gen.c) too.
$(BUILD)/bench/sigma_cost: bench/sigma_cost.c bench/gen.c $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ bench/sigma_cost.c bench/gen.c $(LIB_OBJ) $(LDLIBS)

$(BUILD)/bench/%: bench/%.c $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB_OBJ) $(LDLIBS)

build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $< $(LIB_OBJ) $(LDLIBS)

# Fuzz every driver for FUZZ_SECONDS each, starting from tests/fuzz/corpus/<name>/.
fuzz-build:
	@$(MAKE) --no-print-directory FUZZ=1 $(FUZZ_BIN)

fuzz: deps fuzz-build
	@tests/run_fuzz.sh $(FUZZ_SECONDS) build/results.txt

# The hub with its store in var/ (RUN_DB=PATH: --db PATH) and ARGS added to `minisiem serve`.
# Started as root (for the packages), the hub runs as RUN_USER: by default the user behind
# sudo, else the owner of this folder, else the system user minisiem (created when missing);
# the store's folder is theirs.
ARGS     ?=
RUN_USER ?=
RUN_DB   ?=
RUN_DIR   = $(dir $(or $(RUN_DB),var/minisiem.db))
RUN_HUB   = $(HUB) serve $(if $(RUN_DB),--db "$(RUN_DB)")
run: all
	@mkdir -p $(RUN_DIR)
	@if [ "$$(id -u)" != 0 ]; then exec $(RUN_HUB) $(ARGS); fi; \
	u="$(RUN_USER)"; [ -n "$$u" ] || u="$${SUDO_USER:-}"; \
	[ -n "$$u" ] && [ "$$u" != root ] || u=$$(stat -c %U .); \
	if [ "$$u" = root ]; then \
	  u=minisiem; \
	  id -u minisiem >/dev/null 2>&1 || useradd --system --home-dir /var/lib/minisiem \
	    --no-create-home --shell /usr/sbin/nologin --comment "minisiem SIEM hub" minisiem || exit 1; \
	fi; \
	chown "$$u:" $(RUN_DIR) || exit 1; \
	if ! runuser -u "$$u" -- test -w $(RUN_DIR) -a -r rules/mapping.yml; then \
	  echo "make run: user $$u cannot reach $(abspath $(RUN_DIR)) or $(CURDIR)/rules" \
	       "(a folder above is closed to it), so the hub runs as root; to run it unprivileged," \
	       "put the tree where $$u can read it or set RUN_USER=NAME (docs/install.md)"; \
	  exec $(RUN_HUB) $(ARGS); \
	fi; \
	echo "make run: started as root: the hub runs as $$u (--user $$u)"; \
	exec $(RUN_HUB) --user "$$u" $(ARGS)

# ---- Installing (docs/install.md) ----
# PREFIX/bin: minisiem and minisiem-agent; PREFIX/share/minisiem/rules: the built-in rules
# (where the hub looks, beside its binary); PREFIX/share/minisiem/decoders: the built-in
# decoders (for reading and copying: the binary carries its own); PREFIX/share/doc/minisiem: README, docs and the
# configuration examples; the systemd units and the sysusers.d file of their service accounts
# under PREFIX/lib; SYSCONFDIR/minisiem/minisiem.conf, only when there is none. Installed into
# the real root (no DESTDIR) as root, it also creates the service accounts and reloads systemd.
# The files under deploy/ name their paths as @BINDIR@, @DOCDIR@ and @SYSCONFDIR@.
PREFIX      ?= /usr/local
SYSCONFDIR  ?= /etc
UNITDIR     ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
BINDIR      := $(PREFIX)/bin
RULESDIR    := $(PREFIX)/share/minisiem/rules
DECODERSDIR := $(PREFIX)/share/minisiem/decoders
DOCDIR      := $(PREFIX)/share/doc/minisiem
RULE_FILES  := $(filter-out rules/mapping.yml,$(wildcard rules/*.yml))
DECODER_FILES := $(wildcard decoders/*.yml)
DOC_FILES   := $(wildcard docs/*.md)
UNITS       := minisiem.service minisiem-agent.service
SUBST       := sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@DOCDIR@|$(DOCDIR)|g' \
                   -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g'
D           := $(DESTDIR)

install: all
	install -d -m 755 $(D)$(BINDIR) $(D)$(RULESDIR) $(D)$(DECODERSDIR) $(D)$(DOCDIR)/docs $(D)$(UNITDIR) \
	  $(D)$(SYSUSERSDIR) $(D)$(SYSCONFDIR)/minisiem
	install -m 755 $(HUB) $(AGENT) $(D)$(BINDIR)/
	install -m 644 $(RULE_FILES) $(D)$(RULESDIR)/
	install -m 644 $(DECODER_FILES) $(D)$(DECODERSDIR)/
	install -m 644 README.md $(D)$(DOCDIR)/
	install -m 644 $(DOC_FILES) $(D)$(DOCDIR)/docs/
	$(SUBST) deploy/minisiem.conf >$(D)$(DOCDIR)/minisiem.conf.example
	$(SUBST) deploy/agent.conf >$(D)$(DOCDIR)/agent.conf.example
	$(foreach u,$(UNITS),$(SUBST) deploy/$(u) >$(D)$(UNITDIR)/$(u) && chmod 644 $(D)$(UNITDIR)/$(u);)
	install -m 644 deploy/minisiem.sysusers $(D)$(SYSUSERSDIR)/minisiem.conf
	@chmod 644 $(D)$(DOCDIR)/*.example
	@if [ -e $(D)$(SYSCONFDIR)/minisiem/minisiem.conf ]; then \
	  echo "kept $(D)$(SYSCONFDIR)/minisiem/minisiem.conf (the new example: $(DOCDIR)/minisiem.conf.example)"; \
	else \
	  echo "installed $(D)$(SYSCONFDIR)/minisiem/minisiem.conf (mode 0640)"; \
	  (umask 027 && $(SUBST) deploy/minisiem.conf >$(D)$(SYSCONFDIR)/minisiem/minisiem.conf); \
	fi
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then \
	  if command -v systemd-sysusers >/dev/null 2>&1; then \
	    systemd-sysusers $(SYSUSERSDIR)/minisiem.conf; \
	  else \
	    for u in minisiem minisiem-agent; do id -u $$u >/dev/null 2>&1 || \
	      useradd --system --home-dir /var/lib/$$u --no-create-home --shell /usr/sbin/nologin $$u; done; \
	  fi; \
	  chgrp minisiem $(SYSCONFDIR)/minisiem/minisiem.conf; \
	  if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi; \
	fi

# Removes what `make install` put there; keeps SYSCONFDIR/minisiem (settings, keys), the
# stores in /var/lib and the service accounts. Stop and disable the units first.
uninstall:
	rm -f $(D)$(BINDIR)/minisiem $(D)$(BINDIR)/minisiem-agent $(D)$(SYSUSERSDIR)/minisiem.conf \
	  $(addprefix $(D)$(UNITDIR)/,$(UNITS))
	rm -rf $(D)$(PREFIX)/share/minisiem $(D)$(DOCDIR)
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && [ -d /run/systemd/system ]; then \
	  systemctl daemon-reload; fi

# Every suite writes "suite passed failed skipped" lines into $(BUILD)/results; the last
# line of `make check` is the total.
check: deps
	@mkdir -p build
	@rm -f build/results.txt
	@$(MAKE) --no-print-directory check-suite BUILD=build/rel || echo "build:rel 0 1 0" >>build/results.txt
	@$(MAKE) --no-print-directory check-web BUILD=build/rel || echo "web 0 1 0" >>build/results.txt
	@$(MAKE) --no-print-directory check-suite SANITIZE=1 || echo "build:asan 0 1 0" >>build/results.txt
	@$(MAKE) --no-print-directory fuzz-build >/dev/null && tests/run_fuzz.sh 10 build/results.txt \
		|| echo "fuzz:build 0 1 0" >>build/results.txt
	@$(MAKE) --no-print-directory check-agent-windows || echo "build:agent-windows 0 1 0" >>build/results.txt
	@$(MAKE) --no-print-directory check-format
	@tests/summary.sh build/results.txt

# Every C file as .clang-format says (`make format` fixes them); recorded as one result.
check-format:
	@mkdir -p build; \
	if clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h') 2>build/format.log; then \
	  echo "format: every C file is formatted"; echo "format 1 0 0" >>build/results.txt; \
	else head -40 build/format.log; echo "format: run 'make format'"; \
	  echo "format 0 1 0" >>build/results.txt; fi

# The end-to-end suite runs on the SQLite store in both builds, and once more on a private
# PostgreSQL (tests/e2e/pgserver.py) in the sanitizer build, which also checks that backend's
# memory.
check-suite: $(HUB) $(UNIT_BIN)
	@tests/run_unit.sh $(BUILD) build/results.txt
	@python3 tests/e2e/run.py --bin $(HUB) --results build/results.txt --label $(BUILD) --jobs $(E2E_JOBS)
	@if [ "$(BUILD)" = build/asan ]; then python3 tests/e2e/run.py --bin $(HUB) --results build/results.txt \
	  --label $(BUILD) --jobs $(E2E_JOBS) --backend postgres; fi

# A PostgreSQL run needs the server that only `make check` installs otherwise; BROKER=1 runs
# only the broker-mode bench (RabbitMQ and PostgreSQL, also from `make deps`).
bench: all $(if $(BACKEND)$(BROKER),deps)
ifneq ($(BROKER),)
	@bench/broker.sh $(if $(QUICK),--quick)
else
	@bench/run.sh $(if $(QUICK),--quick) $(if $(BACKEND),--backend $(BACKEND))
	@$(if $(BACKEND),:,bench/enrich.sh $(if $(QUICK),--quick))
	@$(if $(BACKEND),:,bench/parse.sh $(if $(QUICK),--quick))
	@$(if $(BACKEND),:,bench/agent.sh $(if $(QUICK),--quick))
endif

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build

# The field mapping is embedded into the detection engine and the built-in decoders into
# the parser (.incbin), which -MMD cannot see.
$(BUILD)/src/detect/fieldmap.o: rules/mapping.yml
$(BUILD)/src/parse/decoders_builtin.o: $(wildcard decoders/*.yml)

# The dashboard's build (npm, bundling, embedding into the binary) lives with its sources.
-include web/web.mk

# The agent (its own binary; no hub server libraries) and its Windows build.
-include src/agent/agent.mk

-include $(shell find build -name '*.d' 2>/dev/null)
