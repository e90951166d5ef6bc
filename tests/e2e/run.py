#!/usr/bin/env python3
"""run.py — run the end-to-end suite (tests/e2e/test_*.py) against a minisiem binary.

    python3 tests/e2e/run.py --bin build/rel/minisiem --results build/results.txt --label rel [-k PATTERN]

Prints each failure with its traceback and the tail of the hubs' stderr, then
`e2e (LABEL): N passed, N failed, N skipped`, and appends `e2e:LABEL P F S` to the results
file. Exits 0 even when tests fail: the summary carries the counts."""

import argparse
import os
import sys
import threading
import time
import traceback
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SUITE_DEADLINE = 420.0  # seconds; past it every hub is killed so blocked tests fail fast


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
    ap.add_argument("--results", required=True, help="file to append 'e2e:LABEL P F S' to")
    ap.add_argument("--label", required=True)
    ap.add_argument("-k", dest="pattern", action="append",
                    help="only tests whose id contains PATTERN (repeatable)")
    a = ap.parse_args()

    binpath = os.path.abspath(a.bin)
    os.environ["MINISIEM_BIN"] = binpath
    sys.path.insert(0, HERE)
    import hub
    hub.BIN = binpath

    out = sys.stdout
    t0 = time.monotonic()
    if not (os.path.isfile(binpath) and os.access(binpath, os.X_OK)):
        out.write("e2e (%s): binary %s not found or not executable\n" % (a.label, binpath))
        passed, failed, skipped = 0, 1, 0
    else:
        loader = unittest.TestLoader()
        if a.pattern:
            loader.testNamePatterns = ["*%s*" % p for p in a.pattern]
        suite = loader.discover(HERE, pattern="test_*.py", top_level_dir=HERE)
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
    out.write("e2e: %.0f s\n" % (time.monotonic() - t0))
    out.write("e2e (%s): %d passed, %d failed, %d skipped\n" % (a.label, passed, failed, skipped))
    with open(a.results, "a") as f:
        f.write("e2e:%s %d %d %d\n" % (a.label, passed, failed, skipped))
    return 0


if __name__ == "__main__":
    sys.exit(main())
