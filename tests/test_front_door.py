"""The front door (issue 7, item 6): the signature and the size are checked before anything parses a
body; unsigned junk costs a 401 (or a 413) and one log line without the body; a malformed signed body is
a 400, never a 500; the answer does not wait for the Slack calls that follow it."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import logging
import time
from urllib.parse import urlencode

import pytest

from bot.frontdoor import MAX_BODY_BYTES, signature_problem
from tests.conftest import SIGNING_SECRET
from tests.slackhttp import signature

FORM = "application/x-www-form-urlencoded"
SECRET_WORD = "s3cr3t-b0dy-w0rd"  # appears in the bodies sent, and must never appear in the log


def post(bot, body: str, headers: dict[str, str]):
    return bot.request("POST", "/slack/events", body, headers)


def signed_headers(body: str, *, content_type: str = FORM, timestamp: str | None = None) -> dict[str, str]:
    ts = timestamp or str(int(time.time()))
    return {"Content-Type": content_type, "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": signature(SIGNING_SECRET, ts, body)}


@pytest.fixture
def log(caplog):
    caplog.set_level(logging.DEBUG)
    return caplog


def logged(caplog) -> str:
    return "\n".join(f"{record.name} {record.getMessage()} {record.exc_text or ''}" for record in caplog.records)


def announce_big_body(bot, length: int, headers: dict[str, str], first_bytes: bytes) -> int:
    """Send the headers of a `length`-byte request and its first bytes only, then read the answer: a front
    door that read (or waited for) the whole body would never answer."""
    connection = http.client.HTTPConnection("127.0.0.1", bot.port, timeout=10)
    try:
        connection.putrequest("POST", "/slack/events")
        for name, value in {**headers, "Content-Length": str(length)}.items():
            connection.putheader(name, value)
        connection.endheaders()
        connection.send(first_bytes)
        return connection.getresponse().status
    finally:
        connection.close()


def test_big_unsigned_requests_are_refused_unread_and_not_logged(bot, database, log):
    for _ in range(10):
        status = announce_big_body(bot, 5 * 1024 * 1024, {"Content-Type": FORM}, f"text={SECRET_WORD}".encode())
        assert status == 413
    text = logged(log)
    assert SECRET_WORD not in text
    assert len(text) < 5_000, "ten refused requests should be ten short lines"
    assert "Traceback" not in text


def test_a_big_signed_request_is_refused_too(bot):
    body = "text=" + "x" * (MAX_BODY_BYTES + 1)
    assert announce_big_body(bot, len(body), signed_headers(body), body[:100].encode()) == 413


def test_an_unsigned_request_is_refused_without_its_body_in_the_log(bot, database, log):
    body = urlencode({"command": "/cmo", "text": f"client add {SECRET_WORD}", "team_id": "T0ACME",
                      "user_id": "U0ANA", "trigger_id": "1.2.3"})
    response = post(bot, body, {"Content-Type": FORM})
    assert response.status == 401
    assert SECRET_WORD not in logged(log)
    assert "bad signature" in logged(log) or "missing signature" in logged(log)


@pytest.mark.parametrize("timestamp", ["", "abc", "1e10", " 1700000000", "-5", "1" * 40, "0x6553f100"])
def test_a_malformed_timestamp_is_401_not_500(bot, timestamp, log):
    body = "command=%2Fcmo&text=help"
    headers = {"Content-Type": FORM, "X-Slack-Request-Timestamp": timestamp,
               "X-Slack-Signature": signature(SIGNING_SECRET, timestamp, body)}
    response = post(bot, body, headers)
    assert response.status == 401
    assert "Traceback" not in logged(log)


def test_an_old_timestamp_is_refused_even_when_signed(bot):
    body = "command=%2Fcmo&text=help"
    old = str(int(time.time()) - 301)
    assert post(bot, body, signed_headers(body, timestamp=old)).status == 401


MALFORMED = [
    ("payload=notjson", FORM),
    ("payload=%7B", FORM),
    ("payload=%5B1%2C2%5D", FORM),
    ("payload=null", FORM),
    ("payload=%22text%22", FORM),
    ("{", "application/json"),
    ("[1, 2]", "application/json"),
    ("null", "application/json"),
    ('"a string"', "application/json"),
    ('{"type": "event_callback", "event": []}', "application/json"),
    ('{"type": "event_callback", "event": {"type": 5}}', "application/json"),
    ('{"type": "event_callback", "team_id": ["T0ACME"], "event": {"type": "app_home_opened"}}', "application/json"),
    ("payload=" + json.dumps({"type": "block_actions", "actions": "x"}), FORM),
    ("payload=" + json.dumps({"type": "block_actions", "actions": [1, 2]}), FORM),
    ("payload=" + json.dumps({"type": "block_actions", "user": 5, "actions": []}), FORM),
    ("payload=" + json.dumps({"type": "view_submission", "view": "a view"}), FORM),
    ("payload=" + json.dumps({"type": "view_submission", "view": {"callback_id": 7}}), FORM),
    ("payload=" + json.dumps({"type": "shortcut", "team": [1]}), FORM),
    ("payload=" + json.dumps({"type": "message_action", "channel": 3, "callback_id": "log_message"}), FORM),
    ("payload=" + json.dumps({"type": "block_suggestion", "action_id": ["client_picker"]}), FORM),
    ("payload=" + json.dumps({"type": "block_actions", "authorizations": "all"}), FORM),
    ("payload=" + json.dumps({"type": "block_actions", "team": {"id": "T0ACME"}, "user": {"id": "U0ANA"},
                              "actions": []}), FORM),
]


@pytest.mark.parametrize(("body", "content_type"), MALFORMED)
def test_a_malformed_signed_body_is_400_not_500(bot, database, body, content_type, log):
    response = post(bot, body, signed_headers(body, content_type=content_type))
    assert response.status == 400, response.body
    text = logged(log)
    assert "Traceback" not in text
    assert body not in text


def test_a_body_that_is_not_utf8_is_400(bot):
    raw = b"command=%2Fcmo&text=\xff\xfe"
    ts = str(int(time.time()))
    digest = hmac.new(SIGNING_SECRET.encode(), b"v0:" + ts.encode() + b":" + raw, hashlib.sha256).hexdigest()
    connection_headers = {"Content-Type": FORM, "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": "v0=" + digest}
    connection = http.client.HTTPConnection("127.0.0.1", bot.port, timeout=10)
    try:
        connection.request("POST", "/slack/events", body=raw, headers=connection_headers)
        assert connection.getresponse().status == 400
    finally:
        connection.close()


def test_only_post_is_taken(bot):
    assert bot.request("GET", "/slack/events").status == 405
    assert bot.request("PUT", "/slack/events", "x", {"Content-Type": FORM}).status == 405
    assert bot.request("GET", "/elsewhere").status == 404


def test_a_signed_command_is_still_answered(bot):
    response = bot.command("help")
    assert response.status == 200
    assert "/cmo client add" in response.text


def test_the_answer_does_not_wait_for_the_slack_calls_after_it(bot, slack):
    """A form opens after the answer: with views.open held back by Slack, the command is answered anyway."""
    held = slack.hold("views.open")
    try:
        response = bot.command("client add")
        assert (response.status, response.body) == (200, "")
        assert held.wait_arrived(), "the form was not opened after the answer"
    finally:
        held.release()
    [call] = slack.wait_for("views.open")
    assert call.args["view"]["callback_id"] == "cmo:client add"


def test_signature_problem_names_each_fault():
    now = 1_700_000_000
    body = b"a=b"
    good = "v0=" + hmac.new(b"k", b"v0:1700000000:a=b", "sha256").hexdigest()
    assert signature_problem("k", body, str(now), good, now=now) is None
    assert signature_problem("k", body, None, good, now=now) == "missing signature headers"
    assert signature_problem("k", body, "1e10", good, now=now) == "malformed timestamp"
    assert signature_problem("k", body, str(now - 301), good, now=now) == "stale timestamp"
    assert signature_problem("other", body, str(now), good, now=now) == "bad signature"
    assert signature_problem("k", b"a=c", str(now), good, now=now) == "bad signature"
    assert signature_problem("k", body, str(now), "v0=é", now=now) == "bad signature"
