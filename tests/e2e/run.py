#!/usr/bin/env python3
"""run.py — run the end-to-end suite (tests/e2e/test_*.py) against a minisiem binary.

    python3 tests/e2e/run.py --bin build/rel/minisiem [--results build/results.txt] [--label rel]
        [--backend sqlite|postgres] [-k PATTERN] [--jobs N]

Prints each failure with its traceback and the tail of the hubs' stderr, then
`e2e (LABEL): N passed, N failed, N skipped`, and appends `e2e:LABEL P F S` to the results
file (if one is given). Exits 0 even when tests fail: the summary carries the counts.

--backend postgres runs the test files that use the store (all but NO_STORE_MODULES) with
every hub on a PostgreSQL database of its own: one private PostgreSQL 15 (pgserver.py) is
started for the whole run and stopped at its end; its admin URL reaches the test processes
in SIEM_TEST_PG (a SIEM_TEST_PG already set names a server to use instead). LABEL becomes
LABEL:postgres. The broker mode tests (POSTGRES_MODULES) run in this pass only; they start
one private RabbitMQ (mqserver.py) for their file."""

import argparse
import collections
import json
import shutil
import signal
import subprocess
import tempfile
import os
import sys
import threading
import time
import traceback
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SUITE_DEADLINE = 900.0  # seconds; past it every hub is killed so blocked tests fail fast
SHARD_GRACE = 120.0  # seconds past SUITE_DEADLINE until a shard that still runs is ended

# Test files that never open a store (no hub, no store-using CLI command): the PostgreSQL
# pass leaves them out. Every other test_*.py runs on both backends.
NO_STORE_MODULES = ("test_docs", "test_logtest")
# Test files that need PostgreSQL by nature (broker mode: its nodes share one database; the
# file starts its own RabbitMQ): only the PostgreSQL pass runs them.
POSTGRES_MODULES = ("test_broker",)


def test_modules(backend):
    """The test files (module names) a run on backend covers."""
    names = sorted(f[:-3] for f in os.listdir(HERE) if f.startswith("test_") and f.endswith(".py"))
    if backend == "postgres":
        names = [m for m in names if m not in NO_STORE_MODULES]
    else:
        names = [m for m in names if m not in POSTGRES_MODULES]
    return names


def load_module(loader, name):
    """The tests of one file; a file that cannot be imported is one failing test."""
    try:
        return loader.loadTestsFromName(name)
    except Exception:
        why = traceback.format_exc()

        def import_failed():
            raise ImportError("cannot load %s:\n%s" % (name, why))
        import_failed.__name__ = name + ".import"
        return unittest.TestSuite([unittest.FunctionTestCase(import_failed)])


def run_label(a):
    """The label of the results line and of the times file: LABEL, or LABEL:postgres."""
    return a.label if a.backend == "sqlite" else "%s:%s" % (a.label, a.backend)


def record(a, label, passed, failed, skipped):
    sys.stdout.write("e2e (%s): %d passed, %d failed, %d skipped\n"
                     % (label, passed, failed, skipped))
    if a.results:
        with open(a.results, "a") as f:
            f.write("e2e:%s %d %d %d\n" % (label, passed, failed, skipped))


def sigterm_interrupts(signum, frame):
    """SIGTERM ends the run as Ctrl-C does (unittest lets KeyboardInterrupt through, where it
    would record SystemExit as one test's error): hubs killed, PostgreSQL stopped."""
    raise KeyboardInterrupt("SIGTERM")


def stderr_excerpt(text):
    """A sanitizer report from its first line (bounded), else the last lines."""
    import hub
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if any(m in line for m in hub.SANITIZER_MARKERS):
            start = max(0, i - 2)
            return "\n".join(lines[start:start + 80])
    return hub.tail(text, 30)


class Result(unittest.TestResult):
    """Counts tests (a test with failing subtests counts once) and reports failures as they
    happen, with the stderr of the hubs the test used."""

    def __init__(self, stream):
        super().__init__()
        self.stream = stream
        self.passed = 0
        self.failed_ids = set()
        self.started = {}
        self.module_times = collections.defaultdict(float)

    def startTest(self, test):
        import hub
        hub.begin_test()
        self.started[test.id()] = time.monotonic()
        super().startTest(test)

    def _report(self, kind, test, err, owner):
        import hub
        self.failed_ids.add(owner.id())
        w = self.stream.write
        w("\n%s: %s\n" % (kind, test.id()))
        w("".join(traceback.format_exception(*err)))
        for h in hub.touched_hubs():
            text = h.stderr()
            w("--- hub stderr (%s, run %d, port %s) ---\n" % (h.tmpdir, h.runs, h.port))
            w(stderr_excerpt(text) + "\n" if text.strip() else "(empty)\n")
        w("---\n")
        self.stream.flush()

    def addError(self, test, err):
        super().addError(test, err)
        self._report("ERROR", test, err, test)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._report("FAIL", test, err, test)

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            kind = "FAIL" if issubclass(err[0], test.failureException) else "ERROR"
            self._report(kind, subtest, err, test)

    def addSuccess(self, test):
        super().addSuccess(test)
        self.passed += 1

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._progress(test, "skipped (%s)" % reason)

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self.failed_ids.add(test.id())

    def stopTest(self, test):
        super().stopTest(test)
        self.module_times[test.id().split(".")[0]] += \
            time.monotonic() - self.started.get(test.id(), time.monotonic())
        if test.id() in self.failed_ids:
            self._progress(test, "FAILED")
        elif not any(t is test for t, _ in self.skipped):
            self._progress(test, "ok")

    def _progress(self, test, what):
        t = time.monotonic() - self.started.get(test.id(), time.monotonic())
        self.stream.write("%-88s %s (%.1fs)\n" % (test.id(), what, t))
        self.stream.flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", required=True, help="the minisiem binary")
    ap.add_argument("--results", help="file to append 'e2e:LABEL P F S' to")
    ap.add_argument("--label", help="names the run in the results (default: the binary's folder)")
    ap.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite",
                    help="the hubs' store: the embedded SQLite one or a private PostgreSQL")
    ap.add_argument("-k", dest="pattern", action="append",
                    help="only tests whose id contains PATTERN (repeatable)")
    ap.add_argument("--jobs", type=int, default=1,
                    help="run the test files in N processes at once (most tests wait on hubs)")
    ap.add_argument("--modules", help=argparse.SUPPRESS)  # a shard: these test files only
    a = ap.parse_args()
    if a.label is None:
        a.label = os.path.relpath(os.path.dirname(os.path.abspath(a.bin)))
    signal.signal(signal.SIGTERM, sigterm_interrupts)
    label = run_label(a)
    if a.backend == "sqlite":
        os.environ.pop("SIEM_TEST_PG", None)  # hub.py picks its backend from this variable
    server = None
    try:
        if a.backend == "postgres" and not os.environ.get("SIEM_TEST_PG"):
            if os.path.isfile(a.bin):  # else the shards report the missing binary
                try:
                    server = start_postgres()
                except (AssertionError, OSError, subprocess.SubprocessError) as e:
                    sys.stdout.write("e2e (%s): could not start PostgreSQL: %s\n" % (label, e))
                    record(a, label, 0, 1, 0)
                    return 0
        if a.jobs > 1 and not a.modules:
            return run_sharded(a, label)
        return run_tests(a, label)
    finally:
        if server is not None:
            stop_postgres(server)


def start_postgres():
    """One private PostgreSQL for the whole run; its admin URL in SIEM_TEST_PG."""
    sys.path.insert(0, HERE)
    import pgserver
    t0 = time.monotonic()
    server = pgserver.PgServer().start()
    os.environ["SIEM_TEST_PG"] = server.admin_url
    sys.stdout.write("e2e: PostgreSQL on 127.0.0.1:%d (%s), started in %.1f s\n"
                     % (server.port, server.dir, time.monotonic() - t0))
    sys.stdout.flush()
    return server


def stop_postgres(server):
    """Stop the run's PostgreSQL (by its postmaster's PID) and remove it; print what its log
    says about crashed server processes, if anything."""
    crashed = server.crash_lines()
    try:
        server.stop()
    finally:
        os.environ.pop("SIEM_TEST_PG", None)
    for line in crashed[:20]:
        sys.stdout.write("e2e: PostgreSQL log: %s\n" % line)


def run_tests(a, label):
    """Run the tests in this process."""
    binpath = os.path.abspath(a.bin)
    os.environ["MINISIEM_BIN"] = binpath
    sys.path.insert(0, HERE)
    import hub
    hub.BIN = binpath

    out = sys.stdout
    t0 = time.monotonic()
    result = None
    if not (os.path.isfile(binpath) and os.access(binpath, os.X_OK)):
        out.write("e2e (%s): binary %s not found or not executable\n" % (label, binpath))
        passed, failed, skipped = 0, 1, 0
    else:
        loader = unittest.TestLoader()
        if a.pattern:
            loader.testNamePatterns = ["*%s*" % p for p in a.pattern]
        names = a.modules.split(",") if a.modules else test_modules(a.backend)
        suite = unittest.TestSuite(load_module(loader, m) for m in names)
        result = Result(out)

        def watchdog():
            out.write("\ne2e: suite over %.0f s, killing every hub\n" % SUITE_DEADLINE)
            out.flush()
            hub.abort()

        timer = threading.Timer(SUITE_DEADLINE, watchdog)
        timer.daemon = True
        timer.start()
        try:
            suite.run(result)
        finally:
            timer.cancel()
            hub.kill_all()
        passed = result.passed
        failed = len(result.failed_ids)
        skipped = len(result.skipped)
    if a.modules and result is not None:
        # for the next run's balancing: this shard's time per file
        for m, t in result.module_times.items():
            out.write("e2e-module-time %s %.1f\n" % (m, t))
    out.write("e2e: %.0f s\n" % (time.monotonic() - t0))
    record(a, label, passed, failed, skipped)
    return 0


TIMES = os.path.join(HERE, "..", "..", "build", "e2e-times.json")
DEFAULT_TIMES = os.path.join(HERE, "e2e-times.json")


def run_sharded(a, label):
    """Split the test files over a.jobs processes, balanced by the last run's times, run
    them at once, then print each shard's output in turn and add up the counts."""
    modules = test_modules(a.backend)
    known = {}
    # this machine's last run, else the shipped one; a backend's first run: the SQLite times
    for key in (label, a.label):
        for path in (TIMES, DEFAULT_TIMES):
            try:
                with open(path) as f:
                    known = json.load(f).get(key, {})
            except (OSError, ValueError):
                continue
            if known:
                break
        if known:
            break
    shards = [[] for _ in range(a.jobs)]
    load = [0.0] * a.jobs
    for m in sorted(modules, key=lambda m: -known.get(m, 30.0)):
        i = load.index(min(load))
        shards[i].append(m)
        load[i] += known.get(m, 30.0)
    t0 = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="minisiem-e2e-shards-")
    procs = []
    try:
        for i, mods in enumerate(s for s in shards if s):
            res = os.path.join(tmp, "results-%d" % i)
            log = open(os.path.join(tmp, "out-%d" % i), "w+")
            cmd = [sys.executable, os.path.abspath(__file__), "--bin", a.bin, "--results", res,
                   "--label", a.label, "--backend", a.backend, "--modules", ",".join(mods)]
            for p in a.pattern or []:
                cmd += ["-k", p]
            procs.append((subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT), log, res))
        end = t0 + SUITE_DEADLINE + SHARD_GRACE
        for proc, _, _ in procs:
            try:
                proc.wait(max(1.0, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                sys.stdout.write("e2e: a shard still ran %.0f s after the suite deadline\n"
                                 % SHARD_GRACE)
                break
    except BaseException:
        end_shards(procs)
        for _, log, _ in procs:
            log.close()
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    end_shards(procs)
    passed = failed = skipped = 0
    times = {}
    for proc, log, res in procs:
        log.seek(0)
        for line in log:
            if line.startswith("e2e-module-time "):
                _, m, t = line.split()
                times[m] = float(t)
            elif not line.startswith("e2e ("):
                sys.stdout.write(line)
        log.close()
        try:
            with open(res) as f:
                for line in f:
                    _, p, fl, sk = line.split()
                    passed, failed, skipped = passed + int(p), failed + int(fl), skipped + int(sk)
        except (OSError, ValueError):
            sys.stdout.write("e2e: a shard ended without results (exit %s)\n" % proc.returncode)
            failed += 1
    try:
        data = {}
        if os.path.exists(TIMES):
            with open(TIMES) as f:
                data = json.load(f)
        data.setdefault(label, {}).update(times)  # a -k run updates only its files
        with open(TIMES, "w") as f:
            json.dump(data, f, indent=1, sort_keys=True)
    except (OSError, ValueError):
        pass
    shutil.rmtree(tmp, ignore_errors=True)
    sys.stdout.write("e2e: %.0f s in %d processes\n" % (time.monotonic() - t0, len(procs)))
    record(a, label, passed, failed, skipped)
    return 0


def end_shards(procs):
    """Shards still running (a deadline, Ctrl-C, SIGTERM) get SIGTERM: they kill their hubs
    on the way out; SIGKILL after 30 s."""
    for proc, _, _ in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc, _, _ in procs:
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt as e:
        sys.stdout.write("\ne2e: interrupted (%s)\n" % (e or "Ctrl-C"))
        sys.exit(130)
