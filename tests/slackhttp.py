"""Driving the bot the way Slack does: signed HTTP requests into the real endpoint."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import threading
import time
from dataclasses import dataclass
from socketserver import ThreadingMixIn
from typing import Any
from urllib.parse import urlencode
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server


def signature(secret: str, timestamp: str, body: str) -> str:
    """Slack's v0 request signature, as documented (HMAC-SHA256 of `v0:<timestamp>:<body>`)."""
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


@dataclass
class Response:
    status: int
    body: str
    headers: dict[str, str]

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    @property
    def text(self) -> str:
        """The reply's fallback text and every block's text, joined: what the user reads."""
        payload = self.json or {}
        return message_text(payload)


def message_text(payload: dict[str, Any]) -> str:
    parts = [payload.get("text") or ""]
    for block in payload.get("blocks") or []:
        parts.extend(_block_texts(block))
    return "\n".join(parts)


def _block_texts(block: dict[str, Any]) -> list[str]:
    texts = []
    if isinstance(block.get("text"), dict):
        texts.append(block["text"].get("text", ""))
    for element in block.get("elements") or []:
        if isinstance(element, dict) and "text" in element:
            texts.append(element["text"] if isinstance(element["text"], str) else element["text"].get("text", ""))
    for field in block.get("fields") or []:
        texts.append(field.get("text", ""))
    if isinstance(block.get("label"), dict):
        texts.append(block["label"].get("text", ""))
    return texts


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    request_queue_size = 128  # many simultaneous requests (races) are not reset by the kernel, as with gunicorn


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args) -> None:
        pass


class BotServer:
    """The bot's WSGI app (the one gunicorn serves) on loopback, and a Slack-like client for it."""

    def __init__(self, application, secret: str, *, response_url: str) -> None:
        self.secret = secret
        self.response_url = response_url
        self._server = make_server("127.0.0.1", 0, application, server_class=_ThreadingWSGIServer,
                                   handler_class=_QuietHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        self._trigger = 0

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def request(self, method: str, path: str, body: str = "", headers: dict[str, str] | None = None) -> Response:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request(method, path, body=body.encode(), headers=headers or {})
            response = connection.getresponse()
            return Response(response.status, response.read().decode(), dict(response.getheaders()))
        finally:
            connection.close()

    def signed_post(self, body: str, content_type: str, *, timestamp: int | None = None,
                    secret: str | None = None, extra_headers: dict[str, str] | None = None) -> Response:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": signature(secret or self.secret, ts, body),
            **(extra_headers or {}),
        }
        return self.request("POST", "/slack/events", body, headers)

    def next_trigger_id(self) -> str:
        self._trigger += 1
        return f"{self._trigger}.1234.abcdef"

    def command(self, text: str, *, user: str = "U0ANA", team: str = "T0ACME", channel: str = "C0GENERAL",
                **signing) -> Response:
        """`/cmo <text>` as Slack posts it: form-encoded, signed."""
        body = urlencode({
            "token": "legacy-verification-token",
            "team_id": team,
            "team_domain": "acme-cmo",
            "channel_id": channel,
            "channel_name": "general",
            "user_id": user,
            "user_name": user.lower(),
            "command": "/cmo",
            "text": text,
            "api_app_id": "A0RAPPORT",
            "is_enterprise_install": "false",
            "response_url": self.response_url,
            "trigger_id": self.next_trigger_id(),
        })
        return self.signed_post(body, "application/x-www-form-urlencoded", **signing)

    def interactive(self, payload: dict[str, Any], **signing) -> Response:
        """An interactivity payload (shortcut, view submission, button) as Slack posts it."""
        body = urlencode({"payload": json.dumps(payload)})
        return self.signed_post(body, "application/x-www-form-urlencoded", **signing)

    def event(self, event: dict[str, Any], *, team: str = "T0ACME", event_id: str = "Ev0001", **signing) -> Response:
        body = json.dumps({
            "token": "legacy-verification-token", "team_id": team, "api_app_id": "A0RAPPORT",
            "event": event, "type": "event_callback", "event_id": event_id, "event_time": int(time.time()),
            "authorizations": [{"team_id": team, "user_id": "U0RAPPORT", "is_bot": True}],
        })
        return self.signed_post(body, "application/json", **signing)

    def message_shortcut(self, *, text: str, channel: str = "C0ACMEINT", message_ts: str = "1732400000.000100",
                         user: str = "U0ANA", team: str = "T0ACME", author: str = "U0CLIENT") -> Response:
        return self.interactive({
            "type": "message_action",
            "callback_id": "log_message",
            "trigger_id": self.next_trigger_id(),
            "team": {"id": team, "domain": "acme-cmo"},
            "user": {"id": user, "username": user.lower(), "team_id": team},
            "channel": {"id": channel, "name": "acme-internal"},
            "message": {"type": "message", "user": author, "ts": message_ts, "text": text},
            "message_ts": message_ts,
            "response_url": self.response_url,
            "api_app_id": "A0RAPPORT",
            "token": "legacy-verification-token",
        })

    def suggestions(self, typed: str, *, action_id: str = "client_picker", block_id: str = "client",
                    user: str = "U0ANA", team: str = "T0ACME") -> list[dict[str, Any]]:
        """What an external select offers while the user types `typed` (a `block_suggestion`, as Slack posts it)."""
        response = self.interactive({
            "type": "block_suggestion",
            "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": team},
            "team": {"id": team, "domain": "acme-cmo"},
            "api_app_id": "A0RAPPORT",
            "token": "legacy-verification-token",
            "container": {"type": "view", "view_id": "V0001"},
            "action_id": action_id,
            "block_id": block_id,
            "value": typed,
            "view": {"id": "V0001", "type": "modal", "callback_id": "cmo:log", "team_id": team},
        })
        assert response.status == 200, response.body
        return response.json["options"]

    def submit_view(self, view: dict[str, Any], values: dict[str, dict[str, Any]], *, user: str = "U0ANA",
                    team: str = "T0ACME") -> Response:
        """Submit a modal the bot opened, with `values` as {block_id: element state}."""
        state = {block_id: {"value": element} for block_id, element in values.items()}
        submitted = {**view, "id": view.get("id", "V0001"), "team_id": team, "state": {"values": state},
                     "hash": "1732400000.abcdef"}
        return self.interactive({
            "type": "view_submission",
            "team": {"id": team, "domain": "acme-cmo"},
            "user": {"id": user, "username": user.lower(), "team_id": team},
            "api_app_id": "A0RAPPORT",
            "token": "legacy-verification-token",
            "trigger_id": self.next_trigger_id(),
            "view": submitted,
            "response_urls": [],
        })


def text_input(value: str) -> dict[str, Any]:
    return {"type": "plain_text_input", "value": value}


def external_select(value: str) -> dict[str, Any]:
    return {"type": "external_select", "selected_option": {"value": value, "text": {"type": "plain_text",
                                                                                     "text": value}}}


def static_select(value: str) -> dict[str, Any]:
    return {"type": "static_select", "selected_option": {"value": value, "text": {"type": "plain_text",
                                                                                   "text": value}}}


def user_select(user_id: str) -> dict[str, Any]:
    return {"type": "users_select", "selected_user": user_id}


def conversation_select(channel_id: str) -> dict[str, Any]:
    return {"type": "conversations_select", "selected_conversation": channel_id}


def date_picker(date: str | None) -> dict[str, Any]:
    return {"type": "datepicker", "selected_date": date}


def mrkdwn_texts(node: Any) -> list[str]:
    """Every text Slack parses as mrkdwn, anywhere in blocks or a view (where a mention could ping)."""
    found: list[str] = []
    if isinstance(node, dict):
        if node.get("type") == "mrkdwn":
            found.append(node["text"])
        for value in node.values():
            found += mrkdwn_texts(value)
    elif isinstance(node, list):
        for value in node:
            found += mrkdwn_texts(value)
    return found
