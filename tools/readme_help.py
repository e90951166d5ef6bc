#!/usr/bin/env python3
"""Refresh the `minisiem --help` and `minisiem serve --help` blocks of README.md from a built
binary (tests/e2e/test_docs.py fails when they drift): tools/readme_help.py BINARY"""
import re
import subprocess
import sys

binary = sys.argv[1] if len(sys.argv) > 1 else "build/rel/minisiem"
readme = open("README.md", encoding="utf-8").read()
for args, marker in ((["serve", "--help"], "$ minisiem serve --help\n"), (["--help"], "$ minisiem --help\n")):
    out = subprocess.run([binary, *args], capture_output=True, text=True, check=True).stdout
    if args[0] == "serve":
        out = out.split("options:\n", 1)[1]
    start = readme.index(marker) + len(marker)
    end = readme.index("```", start)
    readme = readme[:start] + out.rstrip("\n") + "\n" + readme[end:]
open("README.md", "w", encoding="utf-8").write(readme)
