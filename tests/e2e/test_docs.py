"""The documentation matches the binary: every option `minisiem serve --help` prints and every
command `minisiem --help` lists appears in README.md."""
import os
import re
import subprocess
import unittest

from hub import BIN

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


class Docs(unittest.TestCase):
    def setUp(self):
        with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
            self.readme = f.read()

    def help(self, *args):
        p = subprocess.run([BIN, *args, "--help"], capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout

    def test_every_serve_option_is_in_the_readme(self):
        names = re.findall(r"^  (--[a-z0-9-]+|SIEM_[A-Z_]+)", self.help("serve"), re.M)
        self.assertGreater(len(names), 10)
        missing = [n for n in names if n not in self.readme]
        self.assertEqual(missing, [], "options missing from README.md")

    def test_every_command_is_in_the_readme(self):
        cmds = re.findall(r"^  ([a-z-]+(?: [a-z]+)?)", self.help(), re.M)
        self.assertGreater(len(cmds), 5)
        missing = [c for c in cmds if "minisiem " + c.split()[0] not in self.readme
                   and c.split()[0] not in ("version",)]
        self.assertEqual(missing, [], "commands missing from README.md")
