"""test_deploy.py — deploy/docker-compose.yml and deploy/Dockerfile, without Docker (this
machine has none): `docker-compose config` (Debian's docker-compose) accepts the compose file,
which runs PostgreSQL 15, RabbitMQ 3, two hub nodes with the roles ingest,store and one with
detect,api, each with a healthcheck, the hubs after their databases are healthy, and no
password on any command line or in the environment; deploy/docker/make-secrets.sh writes the
secrets the compose file mounts, consistent with each other; the Dockerfile's build stage
installs every package of the Makefile's RUN_DEB_PKGS and runs make targets the Makefile has,
install among them; its runtime stage runs the hub as a user other than root with a
HEALTHCHECK on /health and a volume for the data."""

import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import tempfile
import unittest

ROOT = os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
COMPOSE = os.path.join(ROOT, "deploy", "docker-compose.yml")
DOCKERFILE = os.path.join(ROOT, "deploy", "Dockerfile")
MAKE_SECRETS = os.path.join(ROOT, "deploy", "docker", "make-secrets.sh")
HUBS = {"ingest-store-1": "ingest,store", "ingest-store-2": "ingest,store",
        "detect-api": "detect,api"}
# A URL with a password in it (scheme://user:password@host)
URL_PASSWORD_RE = re.compile(r"[a-z][a-z0-9+.-]*://[^/@\s:]+:[^/@\s]+@", re.I)


def logical_lines(text):
    """Lines with backslash continuations joined and comments dropped (Makefile, Dockerfile)."""
    out, cur = [], ""
    for line in text.splitlines():
        if not cur and line.lstrip().startswith("#"):
            continue
        if line.endswith("\\"):
            cur += line[:-1] + " "
            continue
        out.append(cur + line)
        cur = ""
    if cur:
        out.append(cur)
    return out


def makefile_texts():
    """The top Makefile and the files it includes (-include PATH, when PATH is a file)."""
    texts = [open(os.path.join(ROOT, "Makefile")).read()]
    for m in re.finditer(r"^-?include\s+(\S+)\s*$", texts[0], re.M):
        path = os.path.join(ROOT, m.group(1))
        if os.path.isfile(path):
            texts.append(open(path).read())
    return texts


def make_variable(name):
    """The words of a `NAME := ...` of the Makefile."""
    for line in logical_lines(makefile_texts()[0]):
        m = re.match(r"^%s\s*:?=\s*(.*)$" % re.escape(name), line)
        if m:
            return m.group(1).split()
    raise AssertionError("no %s in the Makefile" % name)


def make_targets():
    """Every explicit target of the Makefile and its included files (rules and .PHONY)."""
    targets = set()
    for text in makefile_texts():
        for line in logical_lines(text):
            if line.startswith("\t") or re.match(r"^\s*[A-Za-z_][A-Za-z0-9_]*\s*[:?+]?=", line):
                continue
            m = re.match(r"^([^:#=\t][^:#=]*?):(?!=)(.*)$", line)
            if not m:
                continue
            names = m.group(1).split()
            if names == [".PHONY"]:
                targets.update(m.group(2).split())
            else:
                targets.update(n for n in names if "$" not in n and "%" not in n)
    return targets


def dockerfile_stages():
    """[(stage name or None, [(INSTRUCTION, arguments)])] of the Dockerfile."""
    stages = []
    for line in logical_lines(open(DOCKERFILE).read()):
        if not line.strip():
            continue
        word, _, rest = line.strip().partition(" ")
        word = word.upper()
        if word == "FROM":
            m = re.search(r"\bAS\s+(\S+)", rest, re.I)
            stages.append((m.group(1) if m else None, [("FROM", rest.strip())]))
        else:
            assert stages, "an instruction before the first FROM: " + line
            stages[-1][1].append((word, rest.strip()))
    return stages


def commands(run_args):
    """The simple commands of a RUN line (split at &&, ;, ||), each as a list of words."""
    out = []
    for part in re.split(r"&&|\|\||;", run_args):
        words = shlex.split(part)
        if words:
            out.append(words)
    return out


def compose_config(cwd):
    """`docker-compose -f deploy/docker-compose.yml config`, parsed (its YAML through the
    Python that docker-compose itself runs on, which has PyYAML)."""
    exe = shutil.which("docker-compose")
    assert exe, ("docker-compose is not installed: `make deps` (as root) installs Debian's "
                 "docker-compose with the other test dependencies")
    r = subprocess.run([exe, "-f", COMPOSE, "config"], cwd=cwd, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=120,
                       env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": cwd})
    assert r.returncode == 0, "docker-compose config failed:\n%s%s" % (r.stdout, r.stderr)
    with open(exe) as f:
        shebang = f.readline()
    py = shebang[2:].split()[0] if shebang.startswith("#!") else "/usr/bin/python3"
    j = subprocess.run([py, "-c", "import json, sys, yaml; "
                        "json.dump(yaml.safe_load(sys.stdin), sys.stdout)"],
                       input=r.stdout, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=60)
    assert j.returncode == 0, j.stderr
    return json.loads(j.stdout), r.stdout


def as_words(v):
    if v is None:
        return []
    return shlex.split(v) if isinstance(v, str) else [str(x) for x in v]


class Compose(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="minisiem-e2e-deploy-")
        cls.cfg, cls.text = compose_config(cls.tmp)
        cls.services = cls.cfg["services"]

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_services_and_roles(self):
        self.assertEqual(set(self.services), {"postgres", "rabbitmq", *HUBS})
        self.assertRegex(self.services["postgres"]["image"], r"^postgres:15(\b|-)")
        self.assertRegex(self.services["rabbitmq"]["image"], r"^rabbitmq:3(\b|[.-])")
        for name, roles in HUBS.items():
            s = self.services[name]
            cmd = as_words(s.get("command"))
            self.assertEqual(cmd[:1], ["serve"], name)
            self.assertIn("--roles", cmd, name)
            self.assertEqual(cmd[cmd.index("--roles") + 1], roles, name)
            self.assertEqual(s["build"]["dockerfile"], "deploy/Dockerfile", name)
            self.assertEqual(os.path.realpath(s["build"]["context"]), ROOT, name)
            # the broker and PostgreSQL settings come from the mounted config file
            self.assertIn("--config", cmd, name)
            conf = cmd[cmd.index("--config") + 1]
            self.assertTrue(conf.startswith("/run/secrets/"), conf)
            self.assertIn(os.path.basename(conf),
                          [x["source"] if isinstance(x, dict) else x for x in s["secrets"]])
            self.assertTrue(any(v.endswith(":/var/lib/minisiem") or
                                v.endswith(":/var/lib/minisiem:rw")
                                for v in (x if isinstance(x, str) else
                                          "%s:%s" % (x.get("source"), x.get("target"))
                                          for x in s.get("volumes", []))), name)

    def test_healthchecks_and_start_order(self):
        for name, s in self.services.items():
            hc = s.get("healthcheck") or {}
            self.assertTrue(hc.get("test") and not hc.get("disable"), name + ": no healthcheck")
        for name in HUBS:
            test = " ".join(as_words(self.services[name]["healthcheck"]["test"]))
            self.assertIn("/health", test, name)
            dep = self.services[name].get("depends_on") or {}
            for db in ("postgres", "rabbitmq"):
                self.assertEqual((dep.get(db) or {}).get("condition"), "service_healthy",
                                 "%s must wait for %s to be healthy: %r" % (name, db, dep))

    def test_no_password_on_a_command_line_or_in_the_environment(self):
        for name, s in self.services.items():
            words = as_words(s.get("command")) + as_words(s.get("entrypoint"))
            for w in words:
                self.assertIsNone(URL_PASSWORD_RE.search(w), "%s: a password in %r" % (name, w))
                self.assertNotRegex(w, r"(?i)password(?!-file)", name)
            env = s.get("environment") or {}
            if isinstance(env, list):
                env = dict(e.partition("=")[::2] for e in env)
            for k, v in env.items():
                self.assertIsNone(URL_PASSWORD_RE.search(str(v or "")), "%s: %s" % (name, k))
                if re.search(r"(?i)pass|secret|key", k):
                    self.assertTrue(k.endswith("_FILE") or k == "RABBITMQ_CONFIG_FILE", k)
                    self.assertTrue(str(v).startswith("/run/secrets/"), "%s=%s" % (k, v))
        # every secret is a file of deploy/docker/secrets (made by make-secrets.sh, not in git)
        for name, sec in self.cfg.get("secrets", {}).items():
            self.assertEqual(os.path.dirname(sec["file"]),
                             os.path.join(ROOT, "deploy", "docker", "secrets"), name)
        ignored = subprocess.run(["git", "check-ignore", "-q", "deploy/docker/secrets/x"],
                                 cwd=ROOT, timeout=30)
        self.assertEqual(ignored.returncode, 0, "deploy/docker/secrets/ is not in .gitignore")
        # nor are they sent to the image's build (the context is the source tree)
        with open(os.path.join(ROOT, ".dockerignore")) as f:
            patterns = [x.strip().rstrip("/") for x in f if x.strip() and x[0] != "#"]
        self.assertIn("deploy/docker/secrets", patterns)

    def test_make_secrets_writes_what_the_services_read(self):
        out = os.path.join(self.tmp, "secrets")
        r = subprocess.run(["sh", MAKE_SECRETS, out], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertEqual(stat.S_IMODE(os.stat(out).st_mode), 0o700)
        self.assertEqual(sorted(os.listdir(out)), sorted(self.cfg["secrets"]))
        pg = open(os.path.join(out, "postgres_password")).read().strip()
        mq = re.search(r"(?m)^default_pass = (\S+)$",
                       open(os.path.join(out, "rabbitmq.conf")).read()).group(1)
        conf = open(os.path.join(out, "minisiem.conf")).read()
        self.assertGreaterEqual(min(len(pg), len(mq)), 32)
        self.assertNotEqual(pg, mq)
        self.assertIn("postgres = postgresql://siem:%s@postgres:5432/siem\n" % pg, conf)
        self.assertIn("amqp = amqp://siem:%s@rabbitmq:5672/siem\n" % mq, conf)
        key = re.search(r"(?m)^SIEM_API_KEYS = agents:(\S+)$", conf).group(1)
        self.assertGreaterEqual(len(key), 20)
        self.assertRegex(conf, r"(?m)^SIEM_JWT_SECRET = \S{32,}$")
        # a second run keeps what is there (the databases were set up with it)
        before = {f: open(os.path.join(out, f)).read() for f in os.listdir(out)}
        r = subprocess.run(["sh", MAKE_SECRETS, out], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertEqual({f: open(os.path.join(out, f)).read() for f in os.listdir(out)}, before)
        # and none of them is in the compose file's configuration
        for secret in (pg, mq, key):
            self.assertNotIn(secret, self.text)


class Dockerfile(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.stages = dockerfile_stages()
        names = [n for n, _ in cls.stages]
        assert "build" in names, "the Dockerfile has no stage named build: %r" % names
        cls.build = dict(cls.stages)["build"]
        cls.runtime = cls.stages[-1][1]

    def test_bookworm_multi_stage(self):
        self.assertGreaterEqual(len(self.stages), 2)
        for _, ins in self.stages:
            self.assertRegex(ins[0][1], r"^debian:bookworm(-slim)?\b", ins[0])
        self.assertIsNot(self.stages[-1][0], "build")

    def test_build_stage_installs_every_run_package(self):
        want = set(make_variable("RUN_DEB_PKGS"))
        got = set()
        for word, args in self.build:
            if word != "RUN":
                continue
            for cmd in commands(args):
                if "apt-get" in cmd and "install" in cmd:
                    rest = cmd[cmd.index("install") + 1:]
                    got.update(w for w in rest if not w.startswith("-"))
        missing = sorted(want - got)
        self.assertEqual(missing, [], "the Dockerfile's build stage does not install these "
                         "packages of the Makefile's RUN_DEB_PKGS: %s" % " ".join(missing))

    def test_build_stage_runs_make_targets_that_exist(self):
        targets = make_targets()
        run = []
        for word, args in self.build:
            if word != "RUN":
                continue
            for cmd in commands(args):
                if cmd[0] == "make":
                    run += [w for w in cmd[1:] if not w.startswith("-") and "=" not in w]
        self.assertIn("install", run, "the build stage does not run `make install`")
        unknown = sorted(set(run) - targets)
        self.assertEqual(unknown, [], "the Dockerfile runs make targets the Makefile does not "
                         "have: %s (it has: %s)" % (" ".join(unknown), " ".join(sorted(targets))))
        # what `make install` depends on is the Makefile's: all, which needs deps-run
        self.assertIn("all", targets)
        self.assertIn("deps-run", targets)

    def test_runtime_stage(self):
        words = [w for w, _ in self.runtime]
        users = [a for w, a in self.runtime if w == "USER"]
        self.assertTrue(users, "no USER in the runtime stage")
        self.assertNotIn(users[-1].split(":")[0], ("root", "0"))
        hc = " ".join(a for w, a in self.runtime if w == "HEALTHCHECK")
        self.assertIn("/health", hc)
        self.assertIn("VOLUME", words)
        entry = json.loads([a for w, a in self.runtime if w == "ENTRYPOINT"][-1])
        self.assertEqual(entry, ["minisiem"])
        # only the runtime libraries: no compiler, no -dev package
        for word, args in self.runtime:
            if word == "RUN":
                for cmd in commands(args):
                    if "apt-get" in cmd and "install" in cmd:
                        pk = [w for w in cmd if w.endswith("-dev") or w == "build-essential"]
                        self.assertEqual(pk, [], "build packages in the runtime stage")


if __name__ == "__main__":
    unittest.main()
