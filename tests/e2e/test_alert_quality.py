"""test_alert_quality.py — alerts a person can act on, end to end with the built-in rule pack:
one alert per thing that happened (account creation on two hosts, sudo by two users), a
summary that says what and where, counts that mean what they say (30 failed logins → 30
events), imported history (backfill) marked and not notified, and notifications (email,
webhook, Slack) that carry the summary, the events and a link — captured by an SMTP sink
and a webhook receiver of the test's own on loopback."""

import datetime
import email
import email.policy
import json
import os
import shutil
import tempfile

from hub import HubCase, event_uuid, wait_for
from test_alerts import Receiver, SMTPSink, serve

DEADLINE = 20.0
PUBLIC_URL = "https://siem.example.net"
BRUTE_RULE = "22b465fd-75c8-42f1-9395-8d61d9daf41a"    # rules/bruteforce.yml


def iso(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def now_minus(**kw):
    return iso(datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(**kw))


class AlertQuality(HubCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="minisiem-e2e-aq-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cls.smtp = serve(SMTPSink(None))
        cls.addClassCleanup(cls.smtp.server_close)
        cls.addClassCleanup(cls.smtp.shutdown)
        cls.web = serve(Receiver())
        cls.addClassCleanup(cls.web.server_close)
        cls.addClassCleanup(cls.web.shutdown)
        conf = os.path.join(cls.tmp, "channels.conf")
        with open(conf, "w") as f:
            f.write("[mail]\ntype = email\nurl = smtp://127.0.0.1:%d\nstarttls = off\n"
                    "from = minisiem <alerts@example.com>\nto = soc@example.com\n"
                    "min_level = medium\nretries = 2\nbackoff = 100ms\n\n"
                    "[hook]\ntype = webhook\nurl = http://127.0.0.1:%d/hook\n"
                    "min_level = low\nretries = 2\nbackoff = 100ms\n\n"
                    "[slack]\ntype = slack\nurl = http://127.0.0.1:%d/slack/T0/B0/X\n"
                    "min_level = medium\nretries = 2\nbackoff = 100ms\n"
                    % (cls.smtp.port, cls.web.port, cls.web.port))
        cls.hub = cls.class_hub(args=["--notify-config", conf, "--public-url", PUBLIC_URL + "/",
                                      "--alert-cooldown", "10m"])

    # ---- helpers ----

    def alerts(self, **params):
        status, _, body = self.hub.get("/alerts", params)
        self.assertEqual(status, 200, body)
        return body["alerts"]

    def wait_alerts(self, pred, n, what, **params):
        def got():
            a = [x for x in self.alerts(**params) if pred(x)]
            return a if len(a) >= n else None
        return wait_for(got, DEADLINE, what)

    def hooks(self, path="/hook"):
        with self.web.lock:
            return [json.loads(b) for p, _, b in self.web.posts if p == path]

    def notified(self, alert_id, path="/hook"):
        return [h for h in self.hooks(path) if (h.get("alert") or {}).get("id") == alert_id]

    # ---- the tests ----

    def test_one_alert_per_account_and_host_with_summaries(self):
        evs = [{"event_id": event_uuid("aq-acct", 0), "timestamp": now_minus(minutes=5),
                "event_type": "ACCOUNT_CREATE", "severity": 4, "user": "backdoor",
                "os_type": "LINUX", "app": "useradd", "source_host": "homelab",
                "message": "new user: name=backdoor, UID=1001, GID=1001, home=/home/backdoor"},
               {"event_id": event_uuid("aq-acct", 1), "timestamp": now_minus(minutes=1),
                "event_type": "ACCOUNT_CREATE", "severity": 4, "user": "svc-backup",
                "os_type": "LINUX", "app": "useradd", "source_host": "nas",
                "message": "new user: name=svc-backup, UID=1002, GID=1002, home=/srv/backup"}]
        self.hub.ingest_ok(evs)
        got = self.wait_alerts(lambda a: a["summary"] and "created" in a["summary"].lower()
                               and ("backdoor" in a["summary"] or "svc-backup" in a["summary"]),
                               2, "two account-creation alerts")
        by_user = {("backdoor" if "backdoor" in a["summary"] else "svc-backup"): a for a in got}
        self.assertIn("homelab", by_user["backdoor"]["summary"])
        self.assertIn("nas", by_user["svc-backup"]["summary"])
        self.assertNotEqual(by_user["backdoor"]["group_key"], by_user["svc-backup"]["group_key"])
        for a in got:
            self.assertEqual(a["events_total"], 1, a)
            self.assertFalse(a["backfill"], a)
            self.assertGreaterEqual(a["severity"], 4, a)  # ACCOUNT_CREATE events are High
        # each was notified, each with its own summary, its event and a link
        for a in got:
            hook = wait_for(lambda: self.notified(a["id"]), DEADLINE, "the webhook of %d" % a["id"])
            body = hook[0]
            self.assertEqual(body["alert"]["summary"], a["summary"])
            self.assertEqual(body["alert"]["link"], "%s/ui/alerts?id=%d" % (PUBLIC_URL, a["id"]))
            msgs = [e["message"] for e in body["events"]]
            self.assertEqual(len(msgs), 1, body)
            self.assertIn("new user", msgs[0])

    def test_acknowledge_and_close_with_comments_kept_in_history(self):
        self.hub.ingest_ok([{"event_id": event_uuid("aq-hist", 0), "timestamp": now_minus(seconds=5),
                             "event_type": "ACCOUNT_CREATE", "severity": 4, "user": "histuser",
                             "source_host": "h9", "message": "new user: name=histuser"}])
        a = self.wait_alerts(lambda x: "histuser" in x["summary"], 1, "the alert")[0]
        token = self.hub.login_token()
        for what, comment in (("ack", "looking into it"), ("close", "expected: new backup job")):
            status, _, body = self.hub.request(
                "POST", "/alerts/%d/%s" % (a["id"], what),
                json.dumps({"comment": comment}).encode(),
                {"Authorization": "Bearer " + token, "Content-Type": "application/json"})
            self.assertEqual(status, 200, body)
        status, _, full = self.hub.get("/alerts/%d" % a["id"])
        self.assertEqual(status, 200, full)
        self.assertEqual([(h["action"], h["actor"], h["comment"]) for h in full["history"]],
                         [("ack", "admin", "looking into it"),
                          ("close", "admin", "expected: new backup job")])
        self.assertEqual([e["user"] for e in full["events"]], ["histuser"])

    def test_thirty_failed_logins_are_thirty_events(self):
        ip = "203.0.113.9"
        evs = [{"event_id": event_uuid("aq-bf", i), "timestamp": now_minus(seconds=120 - 3 * i),
                "event_type": "LOGIN_FAIL", "source_ip": ip, "user": ["root", "admin"][i % 2],
                "os_type": "LINUX", "app": "sshd", "source_host": "web1",
                "message": "Failed password for %s from %s port %d ssh2"
                % (["root", "admin"][i % 2], ip, 40000 + i)} for i in range(30)]
        for k in range(0, 30, 5):  # in several requests, as an agent sends them
            self.hub.ingest_ok(evs[k:k + 5])
        bf = self.wait_alerts(lambda a: a["rule_id"] == BRUTE_RULE and ip in a["group_key"]
                              and a["events_total"] >= 30, 1, "the brute force with 30 events")
        self.assertEqual(len(bf), 1, bf)
        a = bf[0]
        self.assertEqual(a["events_total"], 30, a)
        self.assertIn(ip, a["summary"])
        self.assertIn("30", a["summary"])
        self.assertGreaterEqual(a["count"], 1)
        # the email: summary in the subject, the events as lines, both parts, the link
        def mail():
            with self.smtp.lock:
                return [m for m in self.smtp.messages if ip in m["data"]]
        m = wait_for(mail, DEADLINE, "the brute-force email")[0]
        msg = email.message_from_string(m["data"].replace("\r\n", "\n"), policy=email.policy.default)
        self.assertIn(ip, str(msg["Subject"]))
        self.assertTrue(msg.is_multipart(), msg)
        text = msg.get_body(("plain",)).get_content()
        html = msg.get_body(("html",)).get_content()
        self.assertIn("Failed password for", text)
        self.assertIn("web1", text)
        self.assertIn("%s/ui/alerts?id=%d" % (PUBLIC_URL, a["id"]), text)
        self.assertIn("%s/ui/alerts?id=%d" % (PUBLIC_URL, a["id"]), html)
        self.assertIn("attack.t1110", text)
        self.assertNotIn("<script", html.lower())
        # the rules page's counts
        status, _, rules = self.hub.get("/rules")
        r = {x["id"]: x for x in rules["rules"]}[BRUTE_RULE]
        self.assertGreaterEqual(r["alerts"], 1)
        self.assertGreaterEqual(r["alerts_24h"], 1)
        self.assertGreaterEqual(r["alert_events"], 30)

    def test_imported_history_is_backfill_and_not_notified(self):
        ip = "198.51.100.77"
        evs = [{"event_id": event_uuid("aq-old", i), "timestamp": now_minus(days=2, seconds=-i),
                "event_type": "LOGIN_FAIL", "source_ip": ip, "user": "root", "os_type": "LINUX",
                "app": "sshd", "source_host": "old1",
                "message": "Failed password for root from %s port %d ssh2" % (ip, 50000 + i)}
               for i in range(8)]
        self.hub.ingest_ok(evs)
        a = self.wait_alerts(lambda x: ip in x["group_key"], 1, "the imported brute force",
                             backfill="true")[0]
        self.assertTrue(a["backfill"], a)
        self.assertNotIn(a["id"], [x["id"] for x in self.alerts(backfill="false")])
        status, _, summ = self.hub.get("/stats/summary", {"from": now_minus(hours=1)})
        self.assertGreaterEqual(summ["alerts_backfill"], 1, summ)
        # a live alert raised after it is notified; the backfill one never is
        live_ip = "198.51.100.78"
        self.hub.ingest_ok([{"event_id": event_uuid("aq-live", i), "timestamp": now_minus(seconds=30 - i),
                             "event_type": "LOGIN_FAIL", "source_ip": live_ip, "user": "root",
                             "source_host": "old1", "message": "Failed password"} for i in range(6)])
        live = self.wait_alerts(lambda x: live_ip in x["group_key"], 1, "the live brute force")[0]
        wait_for(lambda: self.notified(live["id"]), DEADLINE, "the live alert's webhook")
        self.assertEqual(self.notified(a["id"]), [])
        status, _, bad = self.hub.get("/alerts", {"backfill": "maybe"})
        self.assertEqual(status, 400, bad)
        self.assertIn("backfill", json.dumps(bad))

    def test_sudo_is_an_alert_only_when_it_says_something(self):
        def sudo(tag, i, user, host, cmd):
            return {"event_id": event_uuid("aq-sudo", tag, i), "timestamp": now_minus(seconds=60 - i),
                    "event_type": "SUDO_ESCALATION", "severity": 2, "user": user,
                    "os_type": "LINUX", "app": "sudo", "source_host": host,
                    "message": "%s : TTY=pts/0 ; PWD=/home/%s ; USER=root ; COMMAND=%s"
                    % (user, user, cmd),
                    # as the sudo decoder of an agent or syslog fills it
                    "data": {"tty": "pts/0", "target_user": "root", "command": cmd}}
        # one admin, twenty ordinary commands on one host: one "new sudo user" alert at most
        self.hub.ingest_ok([sudo("admin", i, "sqadmin", "sq1", "/usr/bin/apt update")
                            for i in range(20)])
        # another user on another host: an alert of its own; a shell: an alert
        self.hub.ingest_ok([sudo("other", 0, "sqcarol", "sq2", "/usr/bin/systemctl restart nginx"),
                            sudo("shell", 0, "sqadmin", "sq1", "/bin/bash")])

        def about(user, host):
            return [a for a in self.alerts() if "user=%s" % user in a["group_key"]
                    and "source_host=%s" % host in a["group_key"]]
        wait_for(lambda: len(about("sqcarol", "sq2")) >= 1, DEADLINE, "sqcarol's alert")
        admin = wait_for(lambda: about("sqadmin", "sq1") if len(about("sqadmin", "sq1")) >= 2
                         else None, DEADLINE, "sqadmin's two alerts (new sudo user, shell)")
        rules = {a["rule_id"] for a in admin}
        self.assertEqual(len(rules), 2, admin)  # one per rule, not one per command
        shell = [a for a in admin if "/bin/bash" in a["summary"]]
        self.assertEqual(len(shell), 1, admin)
        self.assertIn("as root on sq1", shell[0]["summary"])
        self.assertGreaterEqual(shell[0]["severity"], 4, shell)
        first = [a for a in admin if a not in shell][0]
        self.assertEqual(first["events_total"], 1, first)  # the first sudo, not all twenty
        self.assertIn("/usr/bin/apt update", first["summary"])


class DigestAndRateLimit(HubCase):
    """A low-severity digest on one webhook (every 2 s) and a rate limit of 2 an hour on
    another: the first gets one message listing the held alerts, the second the first two
    alerts and then nothing until its window ends (counted in /alerts/channels)."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="minisiem-e2e-aq-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cls.web = serve(Receiver())
        cls.addClassCleanup(cls.web.server_close)
        cls.addClassCleanup(cls.web.shutdown)
        conf = os.path.join(cls.tmp, "channels.conf")
        with open(conf, "w") as f:
            f.write("[digest]\ntype = webhook\nurl = http://127.0.0.1:%d/digest\nmin_level = low\n"
                    "digest = 2s\ndigest_max_severity = medium\n\n"
                    "[limited]\ntype = webhook\nurl = http://127.0.0.1:%d/limited\n"
                    "min_level = low\nrate_limit = 2/1h\n" % (cls.web.port, cls.web.port))
        cls.hub = cls.class_hub(args=["--notify-config", conf])

    def posts(self, path):
        with self.web.lock:
            return [json.loads(b) for p, _, b in self.web.posts if p == path]

    def test_digest_and_rate_limit(self):
        # three users' first sudo (medium): held for the digest; on the limited channel two
        # go out and the third is held back
        evs = [{"event_id": event_uuid("aq-dig", i), "timestamp": now_minus(seconds=10 - i),
                "event_type": "SUDO_ESCALATION", "user": "dig%d" % i, "source_host": "dg",
                "os_type": "LINUX", "app": "sudo",
                "message": "dig%d : TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/usr/bin/id" % i,
                "data": {"target_user": "root", "command": "/usr/bin/id"}} for i in range(3)]
        self.hub.ingest_ok(evs)
        digest = wait_for(lambda: self.posts("/digest"), DEADLINE, "the digest")
        self.assertEqual(len(digest), 1, digest)
        d = digest[0]
        self.assertEqual(d["type"], "digest", d)
        self.assertEqual(d["total"], 3, d)
        self.assertEqual(sorted(a["summary"].split()[0] for a in d["alerts"]),
                         ["dig0", "dig1", "dig2"])
        limited = wait_for(lambda: self.posts("/limited") if len(self.posts("/limited")) >= 2
                           else None, DEADLINE, "two alerts on the limited channel")

        def channel():
            status, _, body = self.hub.get("/alerts/channels")
            self.assertEqual(status, 200, body)
            ch = {c["name"]: c for c in body["channels"]}["limited"]
            return ch if ch["rate_limited"] >= 1 else None
        ch = wait_for(channel, DEADLINE, "the third alert counted as rate limited")
        self.assertEqual(ch["rate_limited"], 1, ch)
        self.assertEqual(len(self.posts("/limited")), 2, limited)
        self.assertTrue(all(p["type"] == "alert" for p in limited), limited)


ROUTED_RULE = """title: E2E routed rule
id: 0e2e0000-0000-4000-8000-00000000r001
level: high
logsource:
    product: minisiem
detection:
    selection:
        event_type: E2E_ROUTED
    condition: selection
minisiem:
    channels: [only]
"""


class Routing(HubCase):
    """Per-rule routing: a channel with rule_tags or rules takes only those rules' alerts; a
    rule that names its channels goes only to them."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="minisiem-e2e-aq-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cls.web = serve(Receiver())
        cls.addClassCleanup(cls.web.server_close)
        cls.addClassCleanup(cls.web.shutdown)
        conf = os.path.join(cls.tmp, "channels.conf")
        with open(conf, "w") as f:
            f.write("[auth]\ntype = webhook\nurl = http://127.0.0.1:%d/auth\nmin_level = low\n"
                    "rule_tags = ATTACK.T1110.001, attack.t1110.003\n\n"
                    "[accounts]\ntype = webhook\nurl = http://127.0.0.1:%d/accounts\n"
                    "min_level = low\nrules = 4e8c8fff-38fb-4c45-b629-05bfb04e5614\n\n"
                    "[all]\ntype = webhook\nurl = http://127.0.0.1:%d/all\nmin_level = low\n\n"
                    "[only]\ntype = webhook\nurl = http://127.0.0.1:%d/only\nmin_level = low\n"
                    % ((cls.web.port,) * 4))
        cls.hub = cls.class_hub(args=["--notify-config", conf])

    def posts(self, path):
        with self.web.lock:
            return [json.loads(b)["alert"]["rule_id"] for p, _, b in self.web.posts if p == path]

    def test_routes(self):
        status, _, body = self.hub.request(
            "POST", "/rules", ROUTED_RULE.encode(),
            {"Authorization": "Bearer " + self.hub.login_token(),
             "Content-Type": "application/yaml"})
        self.assertEqual(status, 201, body)
        self.hub.ingest_ok(
            [{"event_id": event_uuid("aq-route", i), "timestamp": now_minus(seconds=20 - i),
              "event_type": "LOGIN_FAIL", "source_ip": "203.0.113.50", "user": "root",
              "source_host": "r1", "message": "Failed password"} for i in range(5)] +
            [{"event_id": event_uuid("aq-route", 10), "timestamp": now_minus(seconds=5),
              "event_type": "ACCOUNT_CREATE", "user": "routed", "source_host": "r1",
              "message": "new user: name=routed"},
             {"event_id": event_uuid("aq-route", 11), "timestamp": now_minus(seconds=4),
              "event_type": "E2E_ROUTED", "source_host": "r1", "message": "routed"}])
        want_all = {BRUTE_RULE, "4e8c8fff-38fb-4c45-b629-05bfb04e5614"}
        wait_for(lambda: want_all <= set(self.posts("/all")) and want_all <= set(self.posts("/only"))
                 and "0e2e0000-0000-4000-8000-00000000r001" in self.posts("/only")
                 and self.posts("/auth") and self.posts("/accounts"), DEADLINE,
                 "every channel's alerts")
        self.assertEqual(set(self.posts("/auth")), {BRUTE_RULE})
        self.assertEqual(set(self.posts("/accounts")), {"4e8c8fff-38fb-4c45-b629-05bfb04e5614"})
        self.assertIn("0e2e0000-0000-4000-8000-00000000r001", self.posts("/only"))
        self.assertNotIn("0e2e0000-0000-4000-8000-00000000r001", self.posts("/all"))
        self.assertNotIn("0e2e0000-0000-4000-8000-00000000r001", self.posts("/accounts"))
        self.assertNotIn("0e2e0000-0000-4000-8000-00000000r001", self.posts("/auth"))
