"""What Slack sends, checked like typed commands are: a signed payload is still input.

Slack's own payloads vary, and anyone holding the signing secret can send any JSON. Nothing a handler
reads is trusted because it arrived signed: the ids must look like Slack's, numbers must be numbers,
the form's state must be there, and text is cleaned of control characters.
"""

from __future__ import annotations

import json
import re
from typing import Any

from bot.errors import UserError
from bot.parsing.tokens import clean_text

_TEAM = re.compile(r"^[TE][A-Z0-9]{1,31}$")
_USER = re.compile(r"^[UWB][A-Z0-9]{1,31}$")
_CHANNEL = re.compile(r"^[CGD][A-Z0-9]{1,31}$")
_TS = re.compile(r"^\d{1,12}\.\d{1,9}$")
# Objects Bolt itself reads to route a request: they must have the right shape before Bolt sees them.
_OBJECTS = ("container", "view", "event", "message", "item")
_OBJECTS_OR_IDS = ("team", "enterprise", "user", "channel")  # an object, or its id alone
_STRINGS = ("type", "command", "text", "callback_id", "action_id", "block_id", "trigger_id", "response_url",
            "team_id", "user_id", "channel_id", "value")
MAX_METADATA = 3000  # Slack's limit for a view's private_metadata


class InvalidPayload(UserError):
    """A signed request whose content is not what Slack sends for this surface."""

    def __init__(self, what: str, *, field: str | None = None) -> None:
        super().__init__(f"Slack sent a request Rapport could not read ({what}). Nothing was changed; "
                         "please try again.", field=field)


def payload_shape_problem(body: Any) -> str | None:
    """Why Bolt could not even route this body, or None. (The front door answers 400 then.)"""
    if not isinstance(body, dict):
        return "the payload is not an object"
    for key in _OBJECTS:
        if body.get(key) is not None and not isinstance(body[key], dict):
            return f"`{key}` is not an object"
    for key in _OBJECTS_OR_IDS:
        if body.get(key) is not None and not isinstance(body[key], dict | str):
            return f"`{key}` is neither an object nor an id"
    for key in _STRINGS:
        if body.get(key) is not None and not isinstance(body[key], str):
            return f"`{key}` is not a string"
    actions = body.get("actions")
    if actions is not None and not (isinstance(actions, list) and all(isinstance(a, dict) for a in actions)):
        return "`actions` is not a list of objects"
    if body.get("type") == "block_actions" and not actions:
        return "a block_actions payload without actions"
    authorizations = body.get("authorizations")
    if authorizations is not None and not (isinstance(authorizations, list)
                                           and all(isinstance(a, dict) for a in authorizations)):
        return "`authorizations` is not a list of objects"
    view = body.get("view")
    if isinstance(view, dict):
        for key in ("callback_id", "id", "hash", "private_metadata"):
            if view.get(key) is not None and not isinstance(view[key], str):
                return f"`view.{key}` is not a string"
    event = body.get("event")
    if isinstance(event, dict) and event.get("type") is not None and not isinstance(event["type"], str):
        return "`event.type` is not a string"
    return None


def team_id(value: Any) -> str:
    if not isinstance(value, str) or not _TEAM.match(value):
        raise InvalidPayload("no workspace")
    return value


def user_id(value: Any) -> str:
    if not isinstance(value, str) or not _USER.match(value):
        raise InvalidPayload("no user")
    return value


def channel_id(value: Any, *, required: bool = True) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not _CHANNEL.match(value):
        raise InvalidPayload("no channel")
    return value


def message_ts(value: Any) -> str | None:
    return value if isinstance(value, str) and _TS.match(value) else None


def text(value: Any, *, limit: int) -> str:
    """Free text from a payload (a message, a form field): cleaned, and refused when too long."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidPayload("a text that is not text")
    cleaned = clean_text(value)
    if len(cleaned) > limit:
        raise UserError(f"The text is {len(cleaned):,} characters; keep it under {limit:,}.")
    return cleaned


def view_metadata(view: dict[str, Any]) -> dict[str, Any]:
    """A modal's private_metadata: the JSON object the bot put there when it opened the modal."""
    raw = view.get("private_metadata") or "{}"
    if not isinstance(raw, str) or len(raw) > MAX_METADATA:
        raise InvalidPayload("the form's metadata")
    try:
        metadata = json.loads(raw)
    except ValueError:
        raise InvalidPayload("the form's metadata") from None
    if not isinstance(metadata, dict):
        raise InvalidPayload("the form's metadata")
    return metadata


def view_values(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The submitted form's values, {block_id: {action_id: element state}}."""
    state = view.get("state")
    values = state.get("values") if isinstance(state, dict) else None
    if not isinstance(values, dict) or not all(isinstance(block, dict) for block in values.values()):
        raise InvalidPayload("the form's values are missing")
    return values
