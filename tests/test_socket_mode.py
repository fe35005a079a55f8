"""Socket Mode answers in the request thread too: the envelope's acknowledgement (with the reply) goes back as
soon as the listener has made it, and what must follow it (opening a modal) never holds it. Driven through
Bolt's own SocketModeHandler, with a Socket Mode client that records what it sends back instead of a
WebSocket."""

from __future__ import annotations

import itertools
import logging
import threading
import time
from typing import Any

import pytest
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from bot.afterwards import BackgroundRunner
from bot.app import ImmediateDelivery, create_app
from tests.commands_support import unescape
from tests.slackhttp import message_text

_ids = itertools.count(1)


class RecordingSocketClient:
    """What Bolt's handler needs of a Socket Mode client: `send_socket_mode_response` and a logger."""

    def __init__(self) -> None:
        self.logger = logging.getLogger("test.socket_mode")
        self.responses: list[SocketModeResponse] = []
        self.sent = threading.Event()

    def send_socket_mode_response(self, response: SocketModeResponse) -> None:
        self.responses.append(response)
        self.sent.set()


@pytest.fixture
def socket_app(settings, database, slack):
    runner = BackgroundRunner()
    deliveries = ImmediateDelivery(settings, database)
    app = create_app(settings, database=database, runner=runner, deliveries=deliveries)
    handler = SocketModeHandler(app, app_token="xapp-1-A0RAPPORT-1-test")  # never connects here
    yield handler
    runner.close()
    deliveries.close()


def envelope(text: str, *, user: str = "U0ANA") -> SocketModeRequest:
    n = next(_ids)
    return SocketModeRequest(type="slash_commands", envelope_id=f"env-{n}", payload={
        "team_id": "T0ACME", "team_domain": "acme-cmo", "channel_id": "C0GENERAL", "channel_name": "general",
        "user_id": user, "user_name": user.lower(), "command": "/cmo", "text": text, "api_app_id": "A0RAPPORT",
        "is_enterprise_install": "false", "response_url": "https://hooks.slack.invalid/commands/1",
        "trigger_id": f"{n}.trigger",
    })


def dispatch(handler: SocketModeHandler, request: SocketModeRequest) -> RecordingSocketClient:
    client = RecordingSocketClient()
    handler.handle(client, request)
    return client


def reply_text(client: RecordingSocketClient) -> str:
    [response] = client.responses
    payload: dict[str, Any] = response.payload or {}
    return unescape(message_text(payload))


def test_a_command_is_answered_in_its_envelope_with_the_reply(socket_app, database):
    client = dispatch(socket_app, envelope('client add "Acme Biologics" key:acme'))
    [response] = client.responses
    assert response.envelope_id.startswith("env-")
    assert response.payload["response_type"] == "ephemeral"
    assert "Added *Acme Biologics* (`acme`)" in reply_text(client)
    assert "Clients (1)" in reply_text(dispatch(socket_app, envelope("client list")))


def test_a_form_opens_after_the_acknowledgement_and_a_slow_slack_does_not_hold_it(socket_app, slack):
    held = slack.hold("views.open")  # Slack takes its time opening the modal
    try:
        started = time.monotonic()
        client = dispatch(socket_app, envelope("client add"))
        acknowledged = time.monotonic() - started
        assert client.sent.is_set() and acknowledged < 2.0, acknowledged
        [response] = client.responses
        assert not response.payload  # an empty acknowledgement: the form is the answer
        assert held.wait_arrived(), "the form was not opened after the acknowledgement"
    finally:
        held.release()
    [call] = slack.wait_for("views.open")
    assert call.args["view"]["callback_id"] == "cmo:client add"


def test_bad_input_is_answered_with_the_right_form_in_the_envelope(socket_app, database):
    text = reply_text(dispatch(socket_app, envelope("log nosuchclient call Hello")))
    assert ":warning: No client matches `nosuchclient`" in text and "Right form" in text
