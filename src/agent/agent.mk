# agent.mk — build minisiem-agent (included by the top Makefile: -include src/agent/agent.mk).
# It links the shared core, parse and source libraries and none of the hub's server
# libraries (libmicrohttpd, libjwt, argon2). `make agent-windows` cross-compiles the Windows
# agent with mingw-w64; `make check-agent-windows` does it and records the result.

AGENT          := $(BUILD)/minisiem-agent
AGENT_HAVE_EVTX     ?= $(shell pkg-config --exists libevtx expat 2>/dev/null && echo 1)
AGENT_HAVE_JOURNALD ?= $(shell pkg-config --exists libsystemd 2>/dev/null && echo 1)
AGENT_PKGS     := jansson libpcre2-8 yaml-0.1 libcrypto zlib libcurl sqlite3 \
                  $(if $(AGENT_HAVE_EVTX),libevtx expat) $(if $(AGENT_HAVE_JOURNALD),libsystemd)
AGENT_CFLAGS   := $(shell pkg-config --cflags $(AGENT_PKGS) 2>/dev/null) \
                  $(if $(AGENT_HAVE_EVTX),-DAGENT_HAVE_EVTX) \
                  $(if $(AGENT_HAVE_JOURNALD),-DAGENT_HAVE_JOURNALD)
AGENT_LIBS     := $(shell pkg-config --libs $(AGENT_PKGS) 2>/dev/null) -lpthread -lm

# Platform files (*_win.c) are for the Windows build only; the source kinds whose library is
# missing are left out (and refused with a clear message at run time). The parsers of what
# only the hub receives (POST /ingest's CSV and forwarders' records) are left out too.
AGENT_SRC      := $(filter-out %_win.c src/agent/main.c,$(wildcard src/agent/*.c))
AGENT_LIB_SRC  := $(filter-out $(EXCLUDE) src/core/taskpool.c src/core/jsonalloc.c \
                    src/parse/csv.c src/parse/forward.c \
                    $(if $(AGENT_HAVE_EVTX),,src/parse/winevent.c), \
                    $(wildcard src/core/*.c src/parse/*.c)) \
                  $(addprefix src/source/,nofollow.c follow.c file_source.c auditd_source.c pihole.c \
                    pihole_source.c) \
                  $(if $(AGENT_HAVE_EVTX),src/source/evtx.c src/source/evtx_source.c) \
                  $(if $(AGENT_HAVE_JOURNALD),src/source/journald.c)
AGENT_OBJ      := $(AGENT_SRC:%.c=$(BUILD)/%.o) $(AGENT_LIB_SRC:%.c=$(BUILD)/%.o)

$(AGENT_OBJ) $(BUILD)/src/agent/main.o: CFLAGS += $(AGENT_CFLAGS)

$(AGENT): $(AGENT_OBJ) $(BUILD)/src/agent/main.o
	$(CC) $(LDFLAGS) -o $@ $^ $(AGENT_LIBS)

# The agent's unit tests link the agent's objects, not the hub's library.
AGENT_TESTS    := $(BUILD)/tests/test_spool $(BUILD)/tests/test_servers
$(AGENT_TESTS): $(BUILD)/tests/%: tests/unit/%.c $(AGENT_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(AGENT_CFLAGS) $(LDFLAGS) -o $@ $< $(AGENT_OBJ) $(AGENT_LIBS) -lcmocka

.PHONY: agent agent-windows check-agent-windows
agent: $(AGENT)
all: $(AGENT)
check-suite: $(AGENT)

# ---- Windows (cross-compiled with mingw-w64) ----

WIN_CC         ?= x86_64-w64-mingw32-gcc
WIN_BUILD      := build/win
WIN_AGENT      := $(WIN_BUILD)/minisiem-agent.exe
WIN_SRC        := $(addprefix src/agent/,agent.c main.c spool.c state.c gz.c reply.c sources.c servers.c \
                    plat.c plat_win.c sender_win.c service_win.c) \
                  $(addprefix src/core/,config.c file.c log.c strbuf.c arena.c err.c metrics.c) \
                  src/parse/winevent_table.c src/source/wineventlog_win.c
WIN_CFLAGS     := -std=c17 -D__USE_MINGW_ANSI_STDIO=1 -D_POSIX_THREAD_SAFE_FUNCTIONS -D_WIN32_WINNT=0x0601 -DWINVER=0x0601 \
                  $(WARN) -O2 -Isrc -DSIEM_VERSION='"$(VERSION)"'
WIN_LIBS       := -static -lwinhttp -lwevtapi -ladvapi32 -lbcrypt -lws2_32 -lz -lpthread

# Shell: install mingw-w64 (and its zlib) when run as root and missing; false, with the reason,
# when it cannot be had.
AGENT_WIN_DEPS = { if ! command -v $(WIN_CC) >/dev/null 2>&1 || \
	    [ ! -f /usr/x86_64-w64-mingw32/include/zlib.h ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing the mingw-w64 cross compiler"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      gcc-mingw-w64-x86-64 libz-mingw-w64-dev >/dev/null; \
	  fi; \
	fi; \
	if ! command -v $(WIN_CC) >/dev/null 2>&1 || \
	    [ ! -f /usr/x86_64-w64-mingw32/include/zlib.h ]; then \
	  echo "agent-windows: skipped: mingw-w64 is not installed and cannot be installed here" \
	       "(as root: apt-get install gcc-mingw-w64-x86-64 libz-mingw-w64-dev)"; false; \
	fi; }

agent-windows:
	@if $(AGENT_WIN_DEPS); then \
	  mkdir -p $(WIN_BUILD) && \
	  echo "$(WIN_CC) ... -o $(WIN_AGENT)" && \
	  $(WIN_CC) $(WIN_CFLAGS) -o $(WIN_AGENT) $(WIN_SRC) $(WIN_LIBS) && \
	  echo "agent-windows: built $(WIN_AGENT)"; \
	fi

# Records "build:agent-windows P F S" in build/results.txt (skipped when mingw cannot be had).
check-agent-windows:
	@mkdir -p build $(WIN_BUILD); \
	if $(AGENT_WIN_DEPS); then \
	  if $(WIN_CC) $(WIN_CFLAGS) -o $(WIN_AGENT) $(WIN_SRC) $(WIN_LIBS); then \
	    echo "agent-windows: built $(WIN_AGENT)"; r="1 0 0"; \
	  else echo "agent-windows: FAILED"; r="0 1 0"; fi; \
	else r="0 0 1"; fi; \
	echo "build:agent-windows $$r" >>build/results.txt
