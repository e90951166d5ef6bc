"""test_bad_input.py — DESIGN §7: every kind of bad request gets its exact status, never a
crash; valid events next to bad ones are kept; the hub still works afterwards."""

import gzip
import http.client
import json
import select
import socket

from helpers import raw_exchange
from hub import API_KEY, HubCase, as_stored, event_uuid

MAX_BODY = 65536
STOP = 15  # seconds a SIGTERM'd hub may take here


def ev(tag, i=0, **kw):
    e = {"event_id": event_uuid("bad", tag, i), "event_type": "bad_input_test",
         "app": "badinput", "message": "%s %d" % (tag, i)}
    e.update(kw)
    return e


class BadInput(HubCase):
    accepted = []  # event ids the hub accepted during the matrix

    @classmethod
    def setUpClass(cls):
        cls.hub = cls.class_hub(args=["--max-body", str(MAX_BODY)])

    def post(self, body, ctype="application/json", encoding=None, extra=None):
        h = {"X-API-Key": API_KEY}
        if ctype is not None:
            h["Content-Type"] = ctype
        if encoding:
            h["Content-Encoding"] = encoding
        h.update(extra or {})
        return self.hub.request("POST", "/ingest", body, h)

    def error_body(self, resp, status):
        body = self.assertStatus(resp, status)
        self.assertIsInstance(body, dict, "error answers are JSON objects")
        self.assertIsInstance(body.get("error"), str, body)
        return body

    def rejected(self, body):
        return {r["index"]: r["error"] for r in body.get("rejected") or []}

    def ok(self, resp, accepted, rejected=(), ids=()):
        body = self.assertIngested(resp, accepted, 0, rejected)
        type(self).accepted.extend(ids)
        return body

    # ---- malformed JSON ----

    def test_malformed_json_is_400_with_position(self):
        body = b'[\n  {"event_type": "a"},\n  {"event_type" "b"}\n]'
        ans = self.error_body(self.post(body), 400)
        self.assertIn("detail", ans)
        d = ans["detail"]
        if isinstance(d, dict):
            self.assertEqual(d.get("line"), 3, d)
            self.assertTrue("column" in d or "position" in d, d)
        else:
            self.assertIsInstance(d, str)
            self.assertRegex(d, r"line\D{0,3}3\b", "detail must give the line (3): %r" % d)
            self.assertRegex(d, r"(column|position)\D{0,3}\d+", d)

    def test_truncated_json_is_400(self):
        self.error_body(self.post(b'[{"event_type": "a"}, {"event_ty'), 400)

    def test_trailing_garbage_is_400(self):
        self.error_body(self.post(b'{"event_type": "a"} xyz'), 400)

    def test_empty_body_is_400(self):
        self.error_body(self.post(b""), 400)

    def test_whitespace_only_body_is_400(self):
        self.error_body(self.post(b"  \n\t "), 400)

    def test_invalid_utf8_is_400(self):
        self.error_body(self.post(b'{"event_type": "a", "message": "bad \xff\xfe here"}'), 400)

    def test_overlong_utf8_encoding_is_400(self):
        self.error_body(self.post(b'{"event_type": "a", "message": "\xc0\xaf"}'), 400)

    def test_lone_surrogate_escape_is_400(self):
        ans = self.error_body(self.post(b'{"event_type": "a", "message": "x\\ud800y"}'), 400)
        self.assertIn("invalid Unicode", ans["detail"])

    def test_deeply_nested_arrays_are_400_not_a_crash(self):
        self.error_body(self.post(b"[" * 10000 + b"]" * 10000), 400)
        self.error_body(self.post(b"[" * 10000), 400)

    def test_deeply_nested_data_is_400_not_a_crash(self):
        body = b'{"event_type": "a", "data": {"x": ' + b"[" * 10000 + b"]" * 10000 + b"}}"
        self.assertLess(len(body), MAX_BODY)
        self.error_body(self.post(body), 400)
        self.assertStatus(self.hub.request("GET", "/health"), 200)

    # ---- valid JSON, wrong shape ----

    def test_json_scalars_are_422(self):
        for body in (b"42", b'"hello"', b"true", b"null"):
            with self.subTest(body=body):
                self.error_body(self.post(body), 422)

    def test_array_of_non_objects_all_invalid_is_422(self):
        ans = self.error_body(self.post(b'[1, "two", null, [4]]'), 422)
        self.assertEqual(ans.get("accepted"), 0, ans)
        rej = self.rejected(ans)
        self.assertEqual(sorted(rej), [0, 1, 2, 3], ans)
        for i, err in rej.items():
            self.assertTrue(err.startswith("event:"), err)

    def test_array_with_non_objects_keeps_the_objects(self):
        e = ev("mixed")
        ans = self.ok(self.post(json.dumps([1, e, "x"]).encode()), 1, [0, 2], [e["event_id"]])
        self.assertEqual(self.rejected(ans)[0], "event: must be a JSON object")

    def test_event_without_type_or_message_is_422(self):
        ans = self.error_body(self.post(json.dumps({"app": "x", "user": "y"}).encode()), 422)
        self.assertTrue(self.rejected(ans)[0].startswith("event:"), ans)

    def test_wrong_content_type_is_415(self):
        self.error_body(self.post(json.dumps(ev("ctype")).encode(), ctype="text/plain"), 415)
        self.error_body(self.post(json.dumps(ev("ctype")).encode(),
                                  ctype="application/x-www-form-urlencoded"), 415)

    def test_unknown_content_encoding_is_refused(self):
        ans = self.error_body(self.post(json.dumps(ev("enc")).encode(), encoding="br"), 415)
        self.assertEqual(ans["error"], "unsupported content encoding")
        self.assertEqual(ans["detail"], "br")

    # ---- schema errors: 422 for one object, named field ----

    def schema_error(self, field, **kw):
        ans = self.error_body(self.post(json.dumps(ev("schema-" + field, **kw)).encode()), 422)
        self.assertEqual(ans.get("accepted"), 0, ans)
        rej = self.rejected(ans)
        self.assertEqual(list(rej), [0], ans)
        self.assertTrue(rej[0].startswith(field + ":"), "error should name %s: %r" % (field, rej[0]))
        return rej[0]

    def test_severity_out_of_range(self):
        self.assertEqual(self.schema_error("severity", severity=9), "severity: must be an integer 1..5")
        self.schema_error("severity", severity=0)
        self.schema_error("severity", severity="extreme")
        self.schema_error("severity", severity=2.5)

    def test_bad_timestamp(self):
        self.assertEqual(self.schema_error("timestamp", timestamp="yesterday"),
                         "timestamp: not ISO-8601 or epoch")
        self.schema_error("timestamp", timestamp="2024-02-30T10:00:00Z")
        self.schema_error("timestamp", timestamp="2024-01-01T25:00:00Z")

    def test_bad_source_ip(self):
        self.assertEqual(self.schema_error("source_ip", source_ip="999.1.1.1"),
                         "source_ip: not an IP address")
        self.schema_error("source_ip", source_ip="10.0.0.0/8")
        self.schema_error("source_ip", source_ip="2001:db8:::1")

    def test_bad_event_id(self):
        self.assertEqual(self.schema_error("event_id", event_id="not-a-uuid"), "event_id: not a UUID")
        self.schema_error("event_id", event_id=12345)

    def test_bad_http_status(self):
        self.assertEqual(self.schema_error("http_status", http_status=42),
                         "http_status: must be an integer 100..599")
        self.schema_error("http_status", http_status="abc")

    def test_batch_with_three_good_and_two_bad(self):
        good = [ev("batch", i) for i in range(3)]
        batch = [good[0], ev("batch", 10, severity=9), good[1], ev("batch", 11, source_ip="nope"),
                 good[2]]
        ans = self.ok(self.post(json.dumps(batch).encode()), 3, [1, 3], [e["event_id"] for e in good])
        rej = self.rejected(ans)
        self.assertTrue(rej[1].startswith("severity:"), rej)
        self.assertTrue(rej[3].startswith("source_ip:"), rej)
        for i in (10, 11):
            self.assertEqual(self.hub.get_event(event_uuid("bad", "batch", i))[0], 404)

    def test_ndjson_malformed_line_rejected_others_kept(self):
        good = [ev("nd", i) for i in range(3)]
        body = (json.dumps(good[0]) + "\n\n" + '{"event_type": "x",' + "\n" + json.dumps(good[1]) +
                "\n" + "[1,2]" + "\n" + json.dumps(good[2]) + "\n").encode()
        # non-empty lines: 0 good, 1 malformed, 2 good, 3 array (not an object), 4 good
        ans = self.ok(self.post(body, ctype="application/x-ndjson"), 3, [1, 3],
                      [e["event_id"] for e in good])
        self.assertTrue(self.rejected(ans)[3].startswith("event:"), ans)

    def test_ndjson_all_lines_bad_is_422(self):
        ans = self.error_body(self.post(b"{oops\nnot json\n", ctype="application/x-ndjson"), 422)
        self.assertEqual(sorted(self.rejected(ans)), [0, 1], ans)

    # ---- strings ----

    def test_nul_byte_in_string_round_trips(self):
        e = ev("nul", message="before\u0000after", user="u\u0000v")
        self.ok(self.post(json.dumps(e).encode()), 1, (), [e["event_id"]])
        status, _, got = self.hub.get_event(e["event_id"])
        self.assertEqual(status, 200, got)
        self.assertEqual(got["message"], as_stored("before\u0000after"))
        self.assertEqual(got["user"], as_stored("u\u0000v"))

    def test_unicode_round_trips(self):
        e = ev("uni", message="été ☃ 𝄞 \u2028 \"quoted\" \\ back", source_host="hôte-01")
        self.ok(self.post(json.dumps(e, ensure_ascii=False).encode()), 1, (), [e["event_id"]])
        got = self.hub.get_event(e["event_id"])[2]
        self.assertEqual(got["message"], e["message"])
        self.assertEqual(got["source_host"], e["source_host"])

    # ---- size limits ----

    def test_body_over_max_body_with_content_length_is_413(self):
        body = json.dumps([ev("big", i, message="x" * 1000) for i in range(80)]).encode()
        self.assertGreater(len(body), MAX_BODY)
        self.error_body(self.post(body), 413)

    def test_announced_huge_content_length_is_413_without_sending_it(self):
        # Only the headers are sent: the hub must answer from Content-Length alone.
        s = socket.create_connection(("127.0.0.1", self.hub.port), timeout=20)
        try:
            s.sendall(b"POST /ingest HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                      b"X-API-Key: " + API_KEY.encode() + b"\r\nContent-Length: 1000000000\r\n\r\n[")
            resp = http.client.HTTPResponse(s)
            resp.begin()
            status, data = resp.status, resp.read()
        finally:
            s.close()
        self.assertEqual(status, 413, data[:200])
        self.assertIn("error", json.loads(data))

    def test_gzip_bomb_is_413(self):
        bomb = gzip.compress(b"[" + b" " * (20 * 1024 * 1024) + b"]", 9)
        self.assertLess(len(bomb), MAX_BODY)
        self.error_body(self.post(bomb, encoding="gzip"), 413)

    def test_gzip_just_under_max_body_is_accepted(self):
        good = [ev("gzsmall", i) for i in range(3)]
        raw = json.dumps(good).encode()
        raw = raw[:-1] + b" " * (MAX_BODY - 1000 - len(raw)) + b"]"
        self.assertLess(len(raw), MAX_BODY)
        self.ok(self.post(gzip.compress(raw), encoding="gzip"), 3, (), [e["event_id"] for e in good])

    def test_corrupt_gzip_is_400(self):
        self.error_body(self.post(b"\x1f\x8b\x08\x00garbage-not-deflate-data" * 3, encoding="gzip"), 400)

    def test_truncated_gzip_is_400(self):
        z = gzip.compress(json.dumps([ev("gztrunc", i) for i in range(20)]).encode())
        self.error_body(self.post(z[: len(z) // 2], encoding="gzip"), 400)

    def test_gzip_with_bad_crc_is_400(self):
        z = bytearray(gzip.compress(json.dumps(ev("gzcrc")).encode()))
        z[-8] ^= 0xFF  # CRC32 of the trailer
        self.error_body(self.post(bytes(z), encoding="gzip"), 400)
        self.assertEqual(self.hub.get_event(event_uuid("bad", "gzcrc", 0))[0], 404)

    def test_plain_body_labelled_gzip_is_400(self):
        self.error_body(self.post(json.dumps(ev("notgz")).encode(), encoding="gzip"), 400)

    # ---- afterwards ----

    def test_zz_hub_still_healthy_and_accepted_events_queryable(self):
        # runs last (alphabetical order): the matrix above must not have hurt the hub
        self.assertEqual(self.assertStatus(self.hub.request("GET", "/health"), 200)["status"], "ok")
        self.assertTrue(self.accepted, "the matrix accepted nothing")
        stored = {e["event_id"] for e in self.hub.all_events({"app": "badinput"})}
        self.assertEqual(stored, set(self.accepted),
                         "stored events differ from the accepted ones (missing %r, extra %r)"
                         % (set(self.accepted) - stored, stored - set(self.accepted)))
        for eid in self.accepted:
            self.assertEqual(self.hub.get_event(eid)[0], 200, eid)


class BadInputMisc(HubCase):
    """Things outside /ingest's body."""

    @classmethod
    def setUpClass(cls):
        cls.hub = cls.class_hub()

    def test_unknown_path_is_404_json(self):
        status, _, body = self.hub.request("GET", "/no/such/endpoint")
        self.assertEqual(status, 404, body)
        self.assertIn("error", body)

    def test_wrong_method_on_ingest(self):
        status, _, body = self.hub.request("GET", "/ingest", headers={"X-API-Key": API_KEY})
        self.assertEqual(status, 405, body)
        self.assertEqual(body, {"error": "method not allowed", "detail": "GET"})

    def test_garbage_request_line_does_not_kill_the_hub(self):
        for junk in (b"\x00\x01\x02garbage\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n",
                     b"POST /ingest HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
                     b"GET /" + b"a" * 100000 + b" HTTP/1.1\r\n\r\n"):
            raw_exchange(self.hub.port, junk, 3)  # it may keep an unfinished request a while
        self.assertEqual(self.assertStatus(self.hub.request("GET", "/health"), 200)["status"], "ok")

    def test_health_body(self):
        self.assertEqual(self.assertStatus(self.hub.request("GET", "/health"), 200)["status"], "ok")


class Connections(HubCase):
    """Transfer-level cases, each on its own hub (a stuck connection would otherwise hold
    up the shared hub's shutdown and blame another test)."""

    def hub(self):
        h = self.own_hub(args=["--max-body", str(MAX_BODY)])
        h.stop_timeout = STOP
        return h

    def chunked(self, hub, payload, chunk=4096):
        """POST payload with chunked transfer encoding; stops sending once the hub answers."""
        s = socket.create_connection(("127.0.0.1", hub.port), timeout=20)
        try:
            s.sendall(b"POST /ingest HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                      b"X-API-Key: " + API_KEY.encode() + b"\r\nTransfer-Encoding: chunked\r\n\r\n")
            try:
                for i in range(0, len(payload), chunk):
                    if select.select([s], [], [], 0)[0]:
                        break  # an early answer is waiting
                    part = payload[i:i + chunk]
                    s.sendall(b"%x\r\n" % len(part) + part + b"\r\n")
                else:
                    s.sendall(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass  # the hub answered and closed; read its answer
            resp = http.client.HTTPResponse(s)
            try:
                resp.begin()
            except socket.timeout:
                self.fail("no answer to a chunked body within 20 s")
            return resp.status, resp.headers, json.loads(resp.read())
        finally:
            s.close()

    def test_chunked_body_over_max_body_is_413(self):
        hub = self.hub()
        payload = json.dumps([ev("chunkbig", i, message="y" * 1000) for i in range(80)]).encode()
        self.assertGreater(len(payload), MAX_BODY)
        status, _, body = self.chunked(hub, payload)
        self.assertEqual(status, 413, body)
        self.assertIn("error", body)
        hub.stop()

    def test_chunked_body_under_max_body_is_accepted(self):
        hub = self.hub()
        good = [ev("chunk", i) for i in range(5)]
        self.assertIngested(self.chunked(hub, json.dumps(good).encode(), chunk=100), 5)
        self.assertEqual(len(hub.all_events({"app": "badinput"})), 5)
        hub.stop()

    def test_client_disconnect_mid_body_then_sigterm_exits_promptly(self):
        hub = self.hub()
        e = ev("disconnect")
        body = json.dumps([e]).encode()
        s = socket.create_connection(("127.0.0.1", hub.port), timeout=10)
        s.sendall(b"POST /ingest HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"X-API-Key: " + API_KEY.encode() + b"\r\nContent-Length: %d\r\n\r\n" % len(body)
                  + body[:-5])
        s.close()
        self.assertStatus(hub.request("GET", "/health"), 200)
        self.assertEqual(hub.get_event(e["event_id"])[0], 404)
        hub.stop()  # an aborted upload must not hold up shutdown
