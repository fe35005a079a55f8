"""The front door: Slack's HTTP requests checked before anything parses them, then handed to Bolt.

In this order, each step refusing what fails it without reading further:
1. only `POST`, with a Content-Length of at most MAX_BODY_BYTES (413 beyond: the body is never read);
2. Slack's signature (HMAC-SHA256 of `v0:<timestamp>:<body>`) and a timestamp within five minutes:
   401, whatever the headers hold (`''`, `abc`, `1e10`);
3. only then the body is parsed: a signed body that is not what Slack sends is a 400.
Request bodies are never logged: a refused request is logged as one line without it.

Bolt answers in the request thread (`process_before_response`); what must follow the answer (opening a
modal, a `respond()`, delivery) is collected in the request's `Afterwards` and started once the answer
has been written (the WSGI response's `close()`, which the server calls after sending it).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from http import HTTPStatus

from slack_bolt import App, BoltResponse
from slack_bolt.request import BoltRequest

from bot.afterwards import AFTERWARDS, STARTED_BY_TRANSPORT, Afterwards
from bot.parsing.payloads import payload_shape_problem

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1_000_000  # Slack's own payloads stay far below this (a full modal is ~100 kB)
MAX_CLOCK_SKEW_SECONDS = 300  # Slack's documented replay window


class Refused(Exception):
    def __init__(self, status: str, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


def signature_problem(secret: str, body: bytes, timestamp: str | None, signature: str | None,
                      now: float | None = None) -> str | None:
    """Why the request is not Slack's, or None if it is signed with `secret` and recent."""
    if not timestamp or not signature:
        return "missing signature headers"
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        return "malformed timestamp"
    if abs((time.time() if now is None else now) - int(timestamp)) > MAX_CLOCK_SKEW_SECONDS:
        return "stale timestamp"
    expected = "v0=" + hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + body,
                                hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
        return "bad signature"
    return None


class SlackEndpoint:
    """A WSGI app for `POST /slack/events`."""

    def __init__(self, app: App, signing_secret: str) -> None:
        self.app = app
        self.secret = signing_secret

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        try:
            request = self._request(environ)
        except Refused as refused:
            logger.info("Refused a request to %s: %s (%s)", environ.get("PATH_INFO"), refused.status, refused.reason)
            return _plain(start_response, refused.status, refused.reason)
        try:
            response = self.app.dispatch(request)
        except Exception:  # a defect of ours: logged with its traceback, never with the body
            logger.exception("Bolt could not dispatch a %s request", request.body.get("type") or "slash command")
            return _plain(start_response, "500 Internal Server Error", "internal error")
        return _Answer(response, start_response, request.context.get(AFTERWARDS))

    def _request(self, environ: dict) -> BoltRequest:
        if environ.get("REQUEST_METHOD") != "POST":
            raise Refused("405 Method Not Allowed", "only POST")
        length_text = environ.get("CONTENT_LENGTH") or ""
        if not length_text.isdigit():
            raise Refused("411 Length Required", "no Content-Length")
        length = int(length_text)
        if length > MAX_BODY_BYTES:
            raise Refused("413 Content Too Large", f"{length} bytes")
        body = environ["wsgi.input"].read(length) if length else b""
        problem = signature_problem(self.secret, body, environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP"),
                                    environ.get("HTTP_X_SLACK_SIGNATURE"))
        if problem:
            raise Refused("401 Unauthorized", problem)
        headers = {name[5:].replace("_", "-").lower(): value for name, value in environ.items()
                   if name.startswith("HTTP_")}
        headers["content-type"] = environ.get("CONTENT_TYPE") or ""
        try:
            text = body.decode("utf-8")
            request = BoltRequest(body=text, query=environ.get("QUERY_STRING") or None, headers=headers,
                                  context={STARTED_BY_TRANSPORT: True})
        except (UnicodeDecodeError, ValueError, TypeError, AttributeError, KeyError, IndexError) as error:
            raise Refused("400 Bad Request", f"unreadable body ({error.__class__.__name__})") from None
        problem = payload_shape_problem(request.body)
        if problem:
            raise Refused("400 Bad Request", problem)
        return request


class _Answer:
    """The response body; its close(), called once the answer is written, starts what follows it."""

    def __init__(self, response: BoltResponse, start_response: Callable, afterwards: Afterwards | None) -> None:
        body = response.body.encode() if isinstance(response.body, str) else (response.body or b"")
        headers = [(name, value) for name, values in response.headers.items() for value in values
                   if name.lower() != "content-length"]
        headers.append(("Content-Length", str(len(body))))
        start_response(f"{response.status} {_phrase(response.status)}", headers)
        self._body = body
        self._afterwards = afterwards

    def __iter__(self) -> Iterator[bytes]:
        yield self._body

    def close(self) -> None:
        if self._afterwards is not None:
            self._afterwards.start()


def _plain(start_response: Callable, status: str, text: str) -> list[bytes]:
    body = json.dumps({"error": text}).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Status"
