"""test_settings.py — what the dashboard's Settings page drives: users (GET/POST /users,
PUT /users/{name}, POST /users/{name}/password, DELETE /users/{name}), agent keys with their
event counts, the audit log's filters; an analyst reads nothing here and changes nothing."""

import http.server
import json
import os
import shutil
import tempfile
import threading
import urllib.parse

from helpers import free_port
from hub import API_KEY, HubCase, event_uuid, wait_for


def bearer(tok):
    return {"Authorization": "Bearer " + tok}


class Users(HubCase):
    @classmethod
    def setUpClass(cls):
        cls.hub = cls.class_hub()
        cls.hub.add_user("reader", "analyst", "reader-password-123")

    def admin(self):
        return bearer(self.hub.login_token())

    def analyst(self):
        return bearer(self.hub.login("reader-password-123", "reader"))

    def users(self):
        body = self.assertStatus(self.hub.request("GET", "/users", headers=self.admin()), 200)
        return {u["name"]: u for u in body["users"]}

    def audit(self, **filters):
        q = "/audit?" + urllib.parse.urlencode(filters) if filters else "/audit"
        return self.assertStatus(self.hub.request("GET", q, headers=self.admin()), 200)["audit"]

    def test_list_has_the_builtin_admin_first(self):
        st, _, body = self.hub.request("GET", "/users", headers=self.admin())
        self.assertEqual(st, 200, body)
        first = body["users"][0]
        self.assertEqual((first["name"], first["role"], first["builtin"]), ("admin", "admin", True))
        reader = [u for u in body["users"] if u["name"] == "reader"][0]
        self.assertEqual((reader["role"], reader["builtin"]), ("analyst", False))
        self.assertNotIn("hash", reader)

    def test_add_login_role_password_remove(self):
        h = self.hub
        st, _, body = h.request("POST", "/users", {"name": "carol", "role": "analyst",
                                                   "password": "carol-password-1"},
                                headers=self.admin())
        self.assertEqual(st, 201, body)
        self.assertEqual(self.users()["carol"]["role"], "analyst")
        tok = h.login("carol-password-1", "carol")
        self.assertEqual(h.request("GET", "/events", headers=bearer(tok))[0], 200)
        # taken name
        st, _, body = h.request("POST", "/users", {"name": "carol", "role": "admin",
                                                   "password": "carol-password-2"},
                                headers=self.admin())
        self.assertEqual(st, 409, body)
        # a new role ends her tokens: she logs in again and is an admin now
        st, _, body = h.request("PUT", "/users/carol", {"role": "admin"}, headers=self.admin())
        self.assertEqual((st, body.get("role")), (200, "admin"), body)
        self.assertEqual(h.request("GET", "/events", headers=bearer(tok))[0], 401)
        tok = h.login("carol-password-1", "carol")
        self.assertEqual(h.request("GET", "/users", headers=bearer(tok))[0], 200)
        # a new password: the old one and the old tokens stop working
        st, _, body = h.request("POST", "/users/carol/password",
                                {"password": "carol-password-new"}, headers=self.admin())
        self.assertEqual(st, 200, body)
        self.assertEqual(h.request("GET", "/events", headers=bearer(tok))[0], 401)
        st, _, _ = h.request("POST", "/auth/login", {"username": "carol",
                                                     "password": "carol-password-1"})
        self.assertEqual(st, 401)
        tok = h.login("carol-password-new", "carol")
        # not herself
        self.assertEqual(h.request("DELETE", "/users/carol", headers=bearer(tok))[0], 409)
        self.assertEqual(h.request("PUT", "/users/carol", {"role": "analyst"},
                                   headers=bearer(tok))[0], 409)
        st, _, body = h.request("DELETE", "/users/carol", headers=self.admin())
        self.assertEqual(st, 200, body)
        self.assertNotIn("carol", self.users())
        self.assertEqual(h.request("GET", "/events", headers=bearer(tok))[0], 401)
        self.assertEqual(h.request("DELETE", "/users/carol", headers=self.admin())[0], 404)
        actions = [(a["action"], a["object"]) for a in self.audit() if a["object"] == "carol"]
        for want in ("user.add", "user.role", "user.passwd", "user.remove"):
            self.assertIn((want, "carol"), actions)
        entry = [a for a in self.audit() if a["action"] == "user.add" and a["object"] == "carol"]
        self.assertEqual(entry[0]["actor"], "admin")

    def test_the_builtin_admin_stays(self):
        h = self.hub
        self.assertEqual(h.request("DELETE", "/users/admin", headers=self.admin())[0], 409)
        self.assertEqual(h.request("PUT", "/users/admin", {"role": "analyst"},
                                   headers=self.admin())[0], 409)
        self.assertEqual(h.request("POST", "/users", {"name": "admin", "role": "admin",
                                                      "password": "admin-password-99"},
                                   headers=self.admin())[0], 409)
        self.assertEqual(h.request("GET", "/users", headers=self.admin())[0], 200)

    def test_invalid_input_is_422(self):
        h = self.hub
        cases = [
            {"name": "dave", "role": "analyst", "password": "short"},      # < 12 characters
            {"name": "dave", "role": "root", "password": "dave-password-1"},
            {"name": "", "role": "analyst", "password": "dave-password-1"},
            {"name": "a/b", "role": "analyst", "password": "dave-password-1"},
            {"name": "x" * 101, "role": "analyst", "password": "dave-password-1"},
            {"role": "analyst", "password": "dave-password-1"},
        ]
        for c in cases:
            with self.subTest(body=c):
                st, _, body = h.request("POST", "/users", c, headers=self.admin())
                self.assertEqual(st, 422, body)
        self.assertNotIn("dave", self.users())
        st, _, _ = h.request("POST", "/users", b"not json", headers=dict(
            self.admin(), **{"Content-Type": "application/json"}))
        self.assertEqual(st, 400)
        self.assertEqual(h.request("PUT", "/users/reader", {"role": "boss"},
                                   headers=self.admin())[0], 422)
        self.assertEqual(h.request("POST", "/users/reader/password", {"password": "x" * 11},
                                   headers=self.admin())[0], 422)
        self.assertEqual(h.request("PUT", "/users/nobody", {"role": "admin"},
                                   headers=self.admin())[0], 404)

    def test_analyst_gets_403_and_changes_nothing(self):
        h, tok = self.hub, self.analyst()
        calls = [("GET", "/users", None),
                 ("POST", "/users", {"name": "eve", "role": "admin", "password": "eve-password-12"}),
                 ("PUT", "/users/reader", {"role": "admin"}),
                 ("POST", "/users/reader/password", {"password": "eve-password-12"}),
                 ("DELETE", "/users/reader", None)]
        for method, path, body in calls:
            with self.subTest(call=method + " " + path):
                st, _, data = h.request(method, path, body, headers=tok)
                self.assertEqual(st, 403, data)
        users = self.users()
        self.assertNotIn("eve", users)
        self.assertEqual(users["reader"]["role"], "analyst")
        h.login("reader-password-123", "reader")

    def test_no_token_is_401(self):
        self.assertEqual(self.hub.request("GET", "/users")[0], 401)
        self.assertEqual(self.hub.request("DELETE", "/users/reader")[0], 401)


class Keys(HubCase):
    @classmethod
    def setUpClass(cls):
        cls.hub = cls.class_hub()
        cls.hub.add_user("keyreader", "analyst", "keyreader-password")

    def admin(self):
        return bearer(self.hub.login_token())

    def keys(self):
        return self.assertStatus(self.hub.request("GET", "/keys", headers=self.admin()), 200)

    def test_events_counted_per_key(self):
        h = self.hub
        st, _, made = h.request("POST", "/keys", {"name": "web-agent"}, headers=self.admin())
        self.assertEqual(st, 201, made)
        body = self.keys()
        mine = [k for k in body["keys"] if k["id"] == made["id"]][0]
        self.assertEqual((mine["name"], mine["events"], mine["last_event"]), ("web-agent", 0, None))
        self.assertNotIn("key", mine)
        evs = [{"event_id": event_uuid("settings", "key", str(i)), "event_type": "KEY_TEST",
                "message": "from the web agent %d" % i} for i in range(3)]
        self.assertIngested(h.ingest(evs, key=made["key"]), 3)
        self.assertIngested(h.ingest(evs[:1], key=made["key"]), 0, duplicates=1)
        self.assertIngested(h.ingest([{"event_id": event_uuid("settings", "env"),
                                       "message": "from the env key"}], key=API_KEY), 1)
        body = self.keys()
        mine = [k for k in body["keys"] if k["id"] == made["id"]][0]
        self.assertEqual(mine["events"], 3, mine)
        self.assertRegex(mine["last_event"], r"^\d{4}-\d\d-\d\dT")
        self.assertIsNotNone(mine["last_seen"])
        env = {k["name"]: k for k in body["env_keys"]}
        self.assertGreaterEqual(env["test"]["events"], 1, env)
        self.assertEqual(body["events_uncounted"], 0)
        # revoked: still listed, no more events
        self.assertEqual(h.request("DELETE", "/keys/%d" % made["id"], headers=self.admin())[0], 200)
        st, _, _ = h.ingest(evs, key=made["key"])
        self.assertEqual(st, 401)
        mine = [k for k in self.keys()["keys"] if k["id"] == made["id"]][0]
        self.assertEqual((mine["revoked"] in (1, True), mine["events"]), (True, 3), mine)

    def test_key_counts_survive_restarts(self):
        """A store key's total and last event are kept with the key: what GET /keys showed
        before a SIGKILL is there after it, and what was counted since is added at a clean
        stop."""
        h = self.own_hub()
        st, _, made = h.request("POST", "/keys", {"name": "kept-agent"}, headers=bearer(h.login_token()))
        self.assertEqual(st, 201, made)

        def mine():
            body = self.assertStatus(h.request("GET", "/keys", headers=bearer(h.login_token())), 200)
            return [k for k in body["keys"] if k["id"] == made["id"]][0]
        evs = [{"event_id": event_uuid("settings", "kept", str(i)), "event_type": "KEY_TEST",
                "message": "kept %d" % i} for i in range(5)]
        self.assertIngested(h.ingest(evs[:3], key=made["key"]), 3)
        before = mine()
        self.assertEqual(before["events"], 3, before)
        h.kill()
        h.start()
        after = mine()
        self.assertEqual((after["events"], after["last_event"]), (3, before["last_event"]), after)
        self.assertIngested(h.ingest(evs[3:], key=made["key"]), 2)
        h.stop()
        h.start()
        after = mine()
        self.assertEqual(after["events"], 5, after)
        self.assertGreaterEqual(after["last_event"], before["last_event"])

    def test_analyst_cannot_list_create_or_revoke(self):
        h = self.hub
        tok = bearer(h.login("keyreader-password", "keyreader"))
        self.assertEqual(h.request("GET", "/keys", headers=tok)[0], 403)
        self.assertEqual(h.request("POST", "/keys", {"name": "sneaky"}, headers=tok)[0], 403)
        self.assertNotIn("sneaky", [k["name"] for k in self.keys()["keys"]])
        st, _, made = h.request("POST", "/keys", {"name": "kept"}, headers=self.admin())
        self.assertEqual(h.request("DELETE", "/keys/%d" % made["id"], headers=tok)[0], 403)
        mine = [k for k in self.keys()["keys"] if k["id"] == made["id"]][0]
        self.assertIn(mine["revoked"], (0, False))


class Audit(HubCase):
    @classmethod
    def setUpClass(cls):
        cls.hub = cls.class_hub()
        cls.hub.add_user("auditor", "analyst", "auditor-password")

    def test_filters_by_actor_and_action(self):
        h = self.hub
        admin = bearer(h.login_token())
        h.request("POST", "/keys", {"name": "audited"}, headers=admin)
        h.request("POST", "/users", {"name": "frank", "role": "analyst",
                                     "password": "frank-password-1"}, headers=admin)
        h.request("DELETE", "/users/frank", headers=admin)

        def audit(**q):
            st, _, body = h.request("GET", "/audit?" + urllib.parse.urlencode(q), headers=admin)
            self.assertEqual(st, 200, body)
            return body["audit"]
        every = audit()
        self.assertGreaterEqual(len(every), 3)
        users = audit(action="user")
        self.assertEqual([(a["action"], a["object"]) for a in users],
                         [("user.remove", "frank"), ("user.add", "frank"), ("user.add", "auditor")])
        self.assertEqual([a["object"] for a in audit(action="user.add")], ["frank", "auditor"])
        self.assertEqual(audit(action="use"), [])
        self.assertEqual({a["actor"] for a in audit(actor="admin")}, {"admin"})
        self.assertEqual(len(audit(actor="admin", action="key.create")), 1)
        self.assertEqual(audit(actor="nobody"), [])
        # the cli added the analyst: actor "cli"
        self.assertEqual([a["object"] for a in audit(actor="cli", action="user.add")], ["auditor"])
        self.assertEqual(audit(actor="", action=""), every)

    def test_analyst_gets_403(self):
        tok = bearer(self.hub.login("auditor-password", "auditor"))
        self.assertEqual(self.hub.request("GET", "/audit", headers=tok)[0], 403)


class Hook(http.server.BaseHTTPRequestHandler):
    """200 for /ok, 403 for anything else; keeps what it received."""
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with self.server.lock:
            self.server.posts.append((self.path, body))
        self.send_response(200 if self.path == "/ok" else 403)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


class Channels(HubCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="minisiem-e2e-settings-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cls.web = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
        cls.web.daemon_threads = True
        cls.web.lock, cls.web.posts = threading.Lock(), []
        threading.Thread(target=cls.web.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        cls.addClassCleanup(cls.web.server_close)
        cls.addClassCleanup(cls.web.shutdown)
        closed = free_port()
        conf = os.path.join(cls.tmp, "channels.conf")
        with open(conf, "w") as f:
            f.write("[good]\ntype = webhook\nurl = http://hookuser:hookpass@127.0.0.1:%d/ok\n"
                    "min_level = high\n\n"
                    "[refused]\ntype = webhook\nurl = http://127.0.0.1:%d/fail\n\n"
                    "[down]\ntype = webhook\nurl = http://127.0.0.1:%d/x\ntimeout = 5s\n"
                    % (cls.web.server_address[1],
                       cls.web.server_address[1], closed))
        cls.hub = cls.class_hub(args=["--notify-config", conf])
        cls.hub.add_user("chanreader", "analyst", "chanreader-password")

    def admin(self):
        return bearer(self.hub.login_token())

    def channels(self):
        st, _, body = self.hub.request("GET", "/alerts/channels", headers=self.admin())
        self.assertEqual(st, 200, body)
        return {c["name"]: c for c in body["channels"]}

    def test_list_hides_credentials(self):
        ch = self.channels()
        self.assertEqual(set(ch), {"good", "refused", "down"})
        self.assertNotIn("hookpass", json.dumps(ch))
        self.assertEqual((ch["good"]["type"], ch["good"]["min_level"]), ("webhook", "high"))

    def test_a_test_message_is_delivered_now(self):
        with self.web.lock:
            before = len(self.web.posts)
        st, _, body = self.hub.request("POST", "/alerts/channels/good/test", headers=self.admin())
        self.assertEqual(st, 200, body)
        self.assertEqual(body, {"channel": "good", "delivered": True})
        with self.web.lock:  # delivered before the answer, not queued
            posts = self.web.posts[before:]
        self.assertEqual(len(posts), 1)
        self.assertEqual(posts[0][0], "/ok")
        self.assertIn("Test message from minisiem", posts[0][1].decode())
        ch = self.channels()["good"]
        self.assertIsNotNone(ch["last_sent_at"])
        self.assertEqual((ch["sent"], ch["failed"]), (0, 0))  # alert counters do not move
        audit = self.hub.request("GET", "/audit?action=channel.test", headers=self.admin())[2]
        self.assertIn(("good", "delivered"),
                      [(a["object"], a["detail"]) for a in audit["audit"]])

    def test_a_failed_test_is_502_with_the_reason(self):
        for name, reason in (("refused", "403"), ("down", "")):
            with self.subTest(channel=name):
                st, _, body = self.hub.request("POST", "/alerts/channels/%s/test" % name,
                                               headers=self.admin())
                self.assertEqual(st, 502, body)
                self.assertEqual(body["error"], "not delivered")
                self.assertIn(reason, body["detail"])
                ch = self.channels()[name]
                self.assertIn(body["detail"], ch["last_error"])
                self.assertIsNotNone(ch["last_error_at"])

    def test_unknown_channel_is_404_and_analyst_403(self):
        h = self.hub
        self.assertEqual(h.request("POST", "/alerts/channels/nope/test",
                                   headers=self.admin())[0], 404)
        tok = bearer(h.login("chanreader-password", "chanreader"))
        with self.web.lock:
            before = len(self.web.posts)
        self.assertEqual(h.request("POST", "/alerts/channels/good/test", headers=tok)[0], 403)
        with self.web.lock:
            self.assertEqual(len(self.web.posts), before)


class Config(HubCase):
    @classmethod
    def setUpClass(cls):
        cls.hub = cls.class_hub(env={"SIEM_PUBLIC_URL": "https://ops:urlpass-42@siem.example/x",
                                     "SIEM_RETENTION_DAYS": "12"},
                                args=["--alert-cooldown", "7m"])
        cls.hub.add_user("cfgreader", "analyst", "cfgreader-password")

    def test_running_options_with_secrets_masked(self):
        h = self.hub
        st, _, body = h.request("GET", "/config", headers=bearer(h.login_token()))
        self.assertEqual(st, 200, body)
        opts = {o["name"] or o["env"]: o for o in body["options"]}
        text = json.dumps(body)
        # every secret the hub was given is absent, whatever the option
        for secret in (h.env["SIEM_JWT_SECRET"], API_KEY, "urlpass-42"):
            self.assertNotIn(secret, text)
        self.assertEqual(opts["SIEM_JWT_SECRET"]["value"], "********")
        self.assertTrue(opts["SIEM_JWT_SECRET"]["secret"])
        self.assertEqual(opts["SIEM_API_KEYS"]["value"], "********")
        self.assertEqual(opts["public-url"]["value"], "https://ops:********@siem.example/x")
        # what was set, from the environment or the command line, and the defaults
        self.assertEqual(opts["retention-days"]["value"], "12")
        self.assertEqual(opts["retention-days"]["env"], "SIEM_RETENTION_DAYS")
        self.assertEqual(opts["alert-cooldown"]["value"], "7m")
        self.assertEqual(opts["jwt-ttl"]["value"], "7d")
        self.assertEqual(opts["jwt-ttl"]["default"], "7d")
        self.assertIn(opts["rdns"]["value"], (False,))
        self.assertIsNone(opts["SIEM_ADMIN_PASSWORD_HASH"]["default"])
        # a number about passwords is no secret
        self.assertEqual(opts["max-password-checks"]["value"], "2")
        self.assertFalse(opts["max-password-checks"]["secret"])

    def test_analyst_gets_403(self):
        tok = bearer(self.hub.login("cfgreader-password", "cfgreader"))
        self.assertEqual(self.hub.request("GET", "/config", headers=tok)[0], 403)
        self.assertEqual(self.hub.request("GET", "/config")[0], 401)


class Sources(HubCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="minisiem-e2e-sources-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cls.logs = os.path.join(cls.tmp, "logs")
        os.makedirs(cls.logs)
        cls.hub = cls.class_hub(args=["--tail-dir", cls.logs, "--syslog-udp", "127.0.0.1:0",
                                      "--syslog-tcp", "127.0.0.1:0"])
        cls.hub.add_user("srcreader", "analyst", "srcreader-password")

    def sources(self, tok=None):
        st, _, body = self.hub.request("GET", "/sources", headers=tok or bearer(self.hub.login_token()))
        self.assertEqual(st, 200, body)
        return body

    def test_tailer_files_and_offsets(self):
        path = os.path.join(self.logs, "app.jsonl")
        lines = b"".join(json.dumps({"event_id": event_uuid("sources", str(i)), "app": "srcs",
                                     "message": "tail %d" % i}).encode() + b"\n"
                         for i in range(3))
        with open(path, "wb") as f:
            f.write(lines)

        def caught_up():
            files = {f["path"]: f for f in (self.sources()["tail"] or {}).get("files", [])}
            f = files.get(os.path.realpath(path)) or files.get(path)
            return f if f and f["offset"] == len(lines) else None
        f = wait_for(caught_up, 30, "the tailer to commit app.jsonl's offset")
        self.assertEqual((f["size"], f["behind"]), (len(lines), 0))
        self.assertEqual(self.sources()["tail"]["dir"], self.logs)
        # a line more, not read yet or read: behind is size - offset either way
        body = self.sources()
        f2 = [x for x in body["tail"]["files"] if x["path"] == f["path"]][0]
        self.assertEqual(f2["behind"], f2["size"] - f2["offset"])

    def test_syslog_listeners_count_what_they_receive(self):
        import socket
        sys = {s["protocol"]: s for s in self.sources()["syslog"]}
        self.assertEqual(set(sys), {"udp", "tcp"})
        host, port = sys["udp"]["address"].rsplit(":", 1)
        before, acc_before = sys["udp"]["received"], sys["udp"]["accepted"]
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for i in range(3):
                s.sendto(b"<38>Mar 15 12:34:56 web1 sshd[77]: sources test %d" % i,
                         (host, int(port)))

        def counted():
            u = {x["protocol"]: x for x in self.sources()["syslog"]}["udp"]
            return u if u["accepted"] >= acc_before + 3 else None  # stored: counted after
        u = wait_for(counted, 30, "the UDP listener to count 3 messages stored")
        self.assertGreaterEqual(u["received"], before + 3)
        self.assertEqual(u["dropped"], 0)

    def test_agents_seen_per_key_and_analysts_may_read(self):
        self.assertIngested(self.hub.ingest([{"event_id": event_uuid("sources", "agent"),
                                              "message": "from an agent"}]), 1)
        tok = bearer(self.hub.login("srcreader-password", "srcreader"))
        agents = {a["name"]: a for a in self.sources(tok)["agents"]}
        self.assertGreaterEqual(agents["test"]["events"], 1)
        self.assertIsNone(agents["test"]["id"])
        self.assertEqual(self.hub.request("GET", "/sources")[0], 401)
