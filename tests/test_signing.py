"""Slack's request signing: the documented example, and the endpoint refusing what isn't signed."""

import time

from slack_sdk.signature import SignatureVerifier

from tests.conftest import SIGNING_SECRET
from tests.slackhttp import signature

# The example in Slack's "Verifying requests from Slack" documentation.
DOC_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
DOC_TIMESTAMP = "1531420618"
DOC_BODY = (
    "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
    "&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
    "&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
    "&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
DOC_SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"


def test_documented_example_signs_as_slack_says():
    assert signature(DOC_SECRET, DOC_TIMESTAMP, DOC_BODY) == DOC_SIGNATURE
    assert SignatureVerifier(DOC_SECRET).generate_signature(timestamp=DOC_TIMESTAMP, body=DOC_BODY) == DOC_SIGNATURE


def test_documented_request_is_refused_because_it_is_old(bot):
    # Correctly signed, but from 2018: a replay, which Slack's rules say to refuse.
    assert SIGNING_SECRET == DOC_SECRET
    response = bot.request("POST", "/slack/events", DOC_BODY, {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": DOC_TIMESTAMP,
        "X-Slack-Signature": DOC_SIGNATURE,
    })
    assert response.status == 401


def test_signed_command_is_answered(bot):
    response = bot.command("help")
    assert response.status == 200
    assert "/cmo client add" in response.text


def test_wrong_secret_is_refused_and_writes_nothing(bot, database):
    response = bot.command('client add "Evil Corp"', secret="not-the-secret")
    assert response.status == 401
    assert "Evil" not in bot.command("client list").text


def test_stale_timestamp_is_refused(bot):
    assert bot.command("help", timestamp=int(time.time()) - 10 * 60).status == 401


def test_unsigned_request_is_refused(bot):
    response = bot.request("POST", "/slack/events", "command=%2Fcmo&text=help",
                           {"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status == 401


def test_healthz(bot):
    response = bot.request("GET", "/healthz")
    assert response.status == 200
    # This process runs no scheduler; nothing is due in the outbox.
    assert response.json == {"status": "ok", "database": "ok", "scheduler": "off",
                             "oldest_due_outbox_age_seconds": None}
