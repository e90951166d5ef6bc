"""test_api_contract.py — what a client and an operator rely on beyond each endpoint: GET
/openapi.json (valid OpenAPI 3.1 by a real validator from npm, every route of the table in
it), GET /ready per component, HTTP request counts and latencies per route in /metrics (the
whole page checked by Prometheus' `promtool check metrics`), and a client that goes away from
an event stream logging no warning."""

import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

from helpers import SSE, free_port, metric, metrics_text
from hub import API_KEY, HubCase, event_uuid, wait_for

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
WEB = os.path.join(ROOT, "web")
VALIDATOR = os.path.join(WEB, "node_modules", "@seriousme", "openapi-schema-validator", "bin",
                         "validate-api-cli.js")
DEADLINE = 20.0


def read(rel):
    with open(os.path.join(ROOT, rel), encoding="utf-8") as f:
        return f.read()


def route_table():
    """(METHOD, path) of every row of the hub's route table, read from its sources: api.c's
    api_routes[] and the fragments it includes (ALERTS_API_ROUTES, WEB_API_ROUTES)."""
    rows = []
    for rel in ("src/api/api.c", "src/api/alerts_api.h", "src/api/web_api.h"):
        text = read(rel)
        rows += re.findall(r'R\("([A-Z]+)", "([^"]+)"', text)
        rows += re.findall(r'\.method = "([A-Z]+)", \.path = "([^"]+)"', text)
    return rows


def pattern(path):
    """The route table's path as OpenAPI shows it: "/events/" -> "/events/{id}"."""
    p = re.sub(r"/\*(?=/|$)", "/{id}", path)
    if len(p) > 1 and p.endswith("/"):
        p += "{id}"
    return p


def c_list(rel, name):
    """The strings of a C array `name[] = {"a", "b", ..., NULL}` in a source file."""
    text = read(rel)
    m = re.search(r"\b%s\[\] = \{(.*?)\};" % re.escape(name), text, re.S)
    assert m, "no %s[] in %s" % (name, rel)
    return re.findall(r'"([^"]+)"', m.group(1))


def raw_get(h, path, headers=None):
    """-> (status, headers, body text) without parsing the body."""
    conn = http.client.HTTPConnection("127.0.0.1", h.port, timeout=30)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read().decode()
    finally:
        conn.close()


def ensure_validator():
    """The OpenAPI validator (a devDependency of web/), installed with `npm ci` when missing;
    None when it cannot be had (the reason)."""
    if not shutil.which("node"):
        return "node is not installed"
    if not os.path.exists(VALIDATOR) and shutil.which("npm"):
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=WEB,
                       capture_output=True, timeout=600)
    if not os.path.exists(VALIDATOR):
        return "web/node_modules has no @seriousme/openapi-schema-validator (npm ci in web/)"
    return None


def ensure_promtool():
    """promtool (Debian package prometheus), installed when missing and root; None when it
    cannot be had (the reason)."""
    if shutil.which("promtool"):
        return None
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return "promtool is missing (apt-get install prometheus) and this is not root"
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "prometheus"]
    if subprocess.run(cmd, env=env, capture_output=True, timeout=900).returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, timeout=900)
        subprocess.run(cmd, env=env, capture_output=True, timeout=900)
    return None if shutil.which("promtool") else "cannot install prometheus (promtool)"


class OpenAPI(HubCase):
    @classmethod
    def setUpClass(cls):
        cls.hub = cls.class_hub()

    def document(self):
        st, headers, body = self.hub.request("GET", "/openapi.json")  # no login
        self.assertEqual(st, 200, body)
        self.assertTrue(headers["Content-Type"].startswith("application/json"))
        return body

    def validate(self, doc):
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(doc, f)
        try:
            p = subprocess.run(["node", VALIDATOR, f.name], capture_output=True, text=True,
                               timeout=120)
        finally:
            os.unlink(f.name)
        out = p.stdout + p.stderr
        m = re.search(r'"valid":\s*(true|false)', out)
        self.assertIsNotNone(m, "no verdict from the validator: %r" % out)
        return m.group(1) == "true", out

    def test_the_document_is_valid_openapi_3_1(self):
        why = ensure_validator()
        if why:
            self.skipTest(why)
        doc = self.document()
        self.assertEqual(doc["openapi"], "3.1.0")
        ok, out = self.validate(doc)
        self.assertTrue(ok, "the validator refused /openapi.json:\n%s" % out[-4000:])
        # The validator does look: the same document with a parameter "in" the body (OpenAPI
        # 2, not 3) is refused.
        broken = json.loads(json.dumps(doc))
        broken["paths"]["/events"]["get"]["parameters"][0]["in"] = "body"
        ok, out = self.validate(broken)
        self.assertFalse(ok, "the validator took a parameter in the body: %s" % out)

    def test_every_route_of_the_table_is_in_it(self):
        doc = self.document()
        rows = route_table()
        self.assertGreater(len(rows), 30, rows)
        missing = [(m, p) for m, p in rows
                   if m.lower() not in doc["paths"].get(pattern(p), {})]
        self.assertEqual(missing, [], "routes missing from /openapi.json")
        ops = sum(len(v) for v in doc["paths"].values())
        self.assertEqual(ops, len(set(rows)), "operations that are no route")
        self.assertIn("/openapi.json", doc["paths"])

    def test_every_route_is_named_in_api_md(self):
        """docs/api.md names each operation of /openapi.json as "METHOD /path": a path
        parameter by any name ({id}, {name}), "GET|PUT /x" naming each of its methods."""
        def norm(text):
            text = re.sub(r"\{[^}/]*\}", "{}", text)
            return re.sub(r"\b((?:GET|POST|PUT|DELETE)(?:\|(?:GET|POST|PUT|DELETE))+) (/[^\s`?]*)",
                          lambda m: " ".join("%s %s" % (x, m.group(2))
                                             for x in m.group(1).split("|")), text)
        text = norm(read("docs/api.md"))
        missing = []
        for path, ops in self.document()["paths"].items():
            for method in ops:
                name = "%s %s" % (method.upper(), norm(path))
                if not re.search(re.escape(name) + r"(?![\w/{}.-])", text):
                    missing.append(name)
        self.assertEqual(missing, [], "operations docs/api.md does not name")

    def test_operations_say_auth_parameters_and_errors(self):
        paths = self.document()["paths"]
        events = paths["/events"]["get"]
        self.assertEqual(events["security"], [{"jwt": []}])
        names = [p["name"] for p in events["parameters"] if p["in"] == "query"]
        # the same list events.c checks requests against
        self.assertEqual(sorted(names), sorted(c_list("src/api/events.c", "event_params")))
        types = {p["name"]: p["schema"]["type"] for p in events["parameters"]}
        self.assertEqual(types["limit"], "integer")
        self.assertEqual(types["count"], "boolean")
        for code in ("200", "400", "401"):
            self.assertIn(code, events["responses"])
        self.assertEqual(events["responses"]["400"]["content"]["application/json"]["schema"],
                         {"$ref": "#/components/schemas/Error"})
        ingest = paths["/ingest"]["post"]
        self.assertEqual(ingest["security"], [{"apiKey": []}])
        self.assertIn("application/x-ndjson", ingest["requestBody"]["content"])
        for code in ("200", "401", "413", "415"):
            self.assertIn(code, ingest["responses"])
        keys = paths["/keys"]["get"]
        self.assertIn("403", keys["responses"])  # admin only
        self.assertEqual(paths["/health"]["get"]["security"], [])
        get_event = paths["/events/{id}"]["get"]
        self.assertEqual([(p["name"], p["in"], p["required"]) for p in get_event["parameters"]],
                         [("id", "path", True)])
        self.assertIn("text/event-stream",
                      paths["/alerts/stream"]["get"]["responses"]["200"]["content"])


class Ready(HubCase):
    @classmethod
    def setUpClass(cls):
        cls.tail_dir = tempfile.mkdtemp(prefix="minisiem-e2e-tail-")
        cls.addClassCleanup(shutil.rmtree, cls.tail_dir, True)
        cls.hub = cls.class_hub(args=["--syslog-udp", "127.0.0.1:0", "--syslog-tcp",
                                      "127.0.0.1:0", "--tail-dir", cls.tail_dir])

    def test_each_component_with_its_state(self):
        h = self.hub
        with open(os.path.join(self.tail_dir, "a.jsonl"), "w") as f:
            f.write(json.dumps({"event_id": event_uuid("ready-tail"), "app": "ready",
                                "message": "tailed", "timestamp": "2024-05-01T00:00:00Z"}) + "\n")
        wait_for(lambda: h.request("GET", "/ready")[2]["components"]["tailer"]["files"] >= 1,
                 DEADLINE, "the tailer to follow a.jsonl")
        st, _, body = h.request("GET", "/ready")
        self.assertEqual(st, 200, body)
        self.assertTrue(body["ready"], body)
        c = body["components"]
        self.assertEqual(sorted(c), ["detector", "enrichment", "notifier", "syslog", "tailer",
                                     "writer"])
        for name, comp in c.items():
            self.assertTrue(comp["ready"], (name, comp))
            self.assertNotIn("reason", comp, name)
        self.assertTrue(c["writer"]["alive"])
        self.assertIn("lag_ms", c["writer"])
        self.assertTrue(c["tailer"]["running"])
        self.assertEqual(c["tailer"]["dir"], os.path.realpath(self.tail_dir))
        self.assertTrue(c["syslog"]["udp"]["bound"])
        self.assertTrue(c["syslog"]["tcp"]["bound"])
        self.assertIn("dropped", c["syslog"]["udp"])
        self.assertGreater(c["detector"]["rules"], 0)
        self.assertEqual(c["notifier"]["failing"], [])

    def test_commit_latency_is_printed_to_three_decimals(self):
        h = self.hub
        evs = [{"event_id": event_uuid("ready-lat", i), "app": "ready", "message": "m",
                "timestamp": "2024-05-01T00:00:00Z"} for i in range(20)]
        self.assertIngested(h.ingest(evs), 20)
        wait_for(lambda: "last_commit" in h.request("GET", "/ready")[2]["components"]["writer"],
                 DEADLINE, "a commit")
        st, _, text = raw_get(h, "/ready")
        self.assertEqual(st, 200, text)
        got = re.findall(r'"commit_latency_ms":(-?[0-9.eE+-]+)', text)
        self.assertEqual(len(got), 2, text)  # top level and the writer's
        for v in got:
            self.assertRegex(v, r"^\d+(\.\d{1,3})?$", text)

    def test_syslog_counts_what_it_received(self):
        h = self.hub
        port = h.request("GET", "/ready")[2]["components"]["syslog"]["tcp"]["port"]
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"<13>May  1 00:00:00 host app: ready over tcp\n")
        wait_for(lambda: h.request("GET", "/ready")[2]["components"]["syslog"]["tcp"]
                 ["received"] >= 1, DEADLINE, "the TCP listener to count a message")


class NotReady(HubCase):
    def test_a_component_that_is_not_ready_says_why_without_failing_readiness(self):
        rules = tempfile.mkdtemp(prefix="minisiem-e2e-norules-")
        self.addCleanup(shutil.rmtree, rules, True)
        h = self.own_hub(args=["--rules-dir", rules])
        st, _, body = h.request("GET", "/ready")
        det = body["components"]["detector"]
        if det["rules"] > 0:
            self.skipTest("the hub loads built-in rules from elsewhere too")
        self.assertEqual(st, 200, body)  # detection does not stop ingest
        self.assertTrue(body["ready"], body)
        self.assertFalse(det["ready"], det)
        self.assertEqual(det["reason"], "no rules are loaded")


    def test_a_failing_notification_channel_is_named(self):
        d = tempfile.mkdtemp(prefix="minisiem-e2e-notify-")
        self.addCleanup(shutil.rmtree, d, True)
        conf = os.path.join(d, "channels.conf")
        with open(conf, "w") as f:  # nothing listens there
            f.write("[hook]\ntype = webhook\nurl = http://127.0.0.1:%d/hook\n"
                    "min_level = low\nretries = 1\nbackoff = 100ms\ntimeout = 5s\n"
                    % free_port())
        h = self.own_hub(args=["--notify-config", conf])
        body = h.request("GET", "/ready")[2]
        self.assertEqual(body["components"]["notifier"]["channels"], 1, body)
        self.assertEqual(body["components"]["notifier"]["failing"], [])
        h.ingest_ok([{"event_id": event_uuid("ready-notify"), "event_type": "ACCOUNT_CREATE",
                      "source_host": "web1", "user": "mallory", "message": "useradd mallory",
                      "timestamp": int(time.time())}])

        def failing():
            st, _, b = h.request("GET", "/ready")
            return (st, b) if b["components"]["notifier"]["failing"] else None
        st, body = wait_for(failing, DEADLINE, "the channel to fail")
        self.assertEqual(st, 200, body)  # notifications do not stop ingest
        self.assertTrue(body["ready"])
        n = body["components"]["notifier"]
        self.assertEqual(n["failing"], ["hook"])
        self.assertFalse(n["ready"])
        self.assertEqual(n["reason"], "1 of 1 channels failing")


class HttpMetrics(HubCase):
    @classmethod
    def setUpClass(cls):
        cls.hub = cls.class_hub()

    def traffic(self):
        h = self.hub
        tok = h.make_token()
        self.assertEqual(h.get("/events", {"limit": 1}, token=tok)[0], 200)
        self.assertEqual(h.get("/events/not-a-uuid", token=tok)[0], 400)
        self.assertEqual(h.request("GET", "/health")[0], 200)
        self.assertEqual(h.request("POST", "/health")[0], 405)
        for i in range(20):  # unknown paths: one series, whatever the path
            self.assertEqual(h.request("GET", "/no/such/path/%d" % i)[0], 404)
        self.assertEqual(h.ingest([{"event_id": event_uuid("metrics-route"), "app": "m",
                                    "message": "m", "timestamp": "2024-05-01T00:00:00Z"}])[0], 200)

    def test_requests_per_route_method_and_code(self):
        self.traffic()
        text = metrics_text(self.hub)

        def m(series):
            return metric(text, series)
        self.assertGreaterEqual(
            m('minisiem_http_requests_total{route="/events",method="GET",code="200"}'), 1)
        self.assertGreaterEqual(
            m('minisiem_http_requests_total{route="/events/{id}",method="GET",code="400"}'), 1)
        self.assertGreaterEqual(
            m('minisiem_http_requests_total{route="/health",method="GET",code="200"}'), 1)
        self.assertGreaterEqual(
            m('minisiem_http_requests_total{route="/ingest",method="POST",code="200"}'), 1)
        self.assertGreaterEqual(
            m('minisiem_http_requests_total{route="other",method="GET",code="404"}'), 20)
        self.assertGreaterEqual(
            m('minisiem_http_requests_total{route="other",method="POST",code="405"}'), 1)
        self.assertNotIn("/no/such", text)  # the raw path is never a label
        count = m('minisiem_http_request_duration_seconds_count{route="/events",method="GET"}')
        self.assertGreaterEqual(count, 1)
        inf = m('minisiem_http_request_duration_seconds_bucket{route="/events",method="GET",'
                'le="+Inf"}')
        self.assertEqual(inf, count)
        les = re.findall(r'minisiem_http_request_duration_seconds_bucket\{route="/events",'
                         r'method="GET",le="([^"]+)"\}', text)
        self.assertEqual(les, ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1",
                               "2.5", "5", "10", "+Inf"])

    def test_promtool_accepts_the_whole_page(self):
        why = ensure_promtool()
        if why:
            self.skipTest(why)
        self.traffic()
        text = metrics_text(self.hub)
        self.assertIn("minisiem_http_request_duration_seconds_bucket", text)
        p = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(p.returncode, 0, "promtool check metrics:\n%s%s" % (p.stdout, p.stderr))
        self.assertEqual(p.stdout.strip() + p.stderr.strip(), "", "promtool's remarks")


class ClientGoesAway(HubCase):
    def test_closing_an_event_stream_logs_no_warning(self):
        h = self.own_hub()
        tok = h.make_token()
        for _ in range(3):
            s = SSE(h, tok, path="/alerts/stream?keepalive=1")
            self.assertEqual(s.status, 200)
            wait_for(lambda: metric(h, "minisiem_alerts_stream_subscribers") == 1, DEADLINE,
                     "the subscriber")
            s.conn.sock.close()  # the tab is closed: no goodbye
            s.close()
            # the next keep-alive finds the socket gone and ends the stream
            wait_for(lambda: metric(h, "minisiem_alerts_stream_subscribers") == 0, DEADLINE,
                     "the hub to notice the client went away")
        warnings = [line for line in h.stderr().splitlines()
                    if " warn " in line and "http" in line]
        self.assertEqual(warnings, [])


if __name__ == "__main__":
    unittest.main()
