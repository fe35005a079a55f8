"""Reading a submitted modal's fields like typed text: only strings count, cleaned of control
characters, and each kind of select gives only what it can hold (a user id, a channel id)."""

from __future__ import annotations

from typing import Any

from bot.errors import UserError
from bot.parsing.tokens import SLACK_CHANNEL_ID, SLACK_USER_ID, clean_text

MAX_FIELD = 5000  # no input of ours takes more (Slack's own maximum for a text input is 3,000)


def field_value(values: dict[str, Any], block_id: str, *, limit: int = MAX_FIELD) -> str | None:
    """The input's value, whatever its element type; None when left empty.

    Anything but a string in the state (a forged number, an object) counts as left empty."""
    block = values.get(block_id)
    states = [state for state in block.values() if isinstance(state, dict)] if isinstance(block, dict) else []
    state = states[0] if len(states) == 1 else {}
    for key in ("value", "selected_user", "selected_conversation", "selected_channel", "selected_date",
                "selected_time"):
        if isinstance(state.get(key), str):
            return _cleaned(state[key], block_id, limit)
    option = state.get("selected_option")
    if isinstance(option, dict) and isinstance(option.get("value"), str):
        return _cleaned(option["value"], block_id, limit)
    return None


def _cleaned(text: str, block_id: str, limit: int) -> str | None:
    text = clean_text(text).strip()
    if len(text) > limit:
        raise UserError(f"This field takes at most {limit:,} characters.", field=block_id)
    return text or None


def required_field(values: dict[str, Any], block_id: str, message: str) -> str:
    value = field_value(values, block_id)
    if value is None:
        raise UserError(message, field=block_id)
    return value


def user_field(values: dict[str, Any], block_id: str) -> str | None:
    """A user select's value: a user id, nothing else (a forged one can hold anything)."""
    value = field_value(values, block_id)
    if value and not SLACK_USER_ID.match(value):
        raise UserError("That is not a Slack user: choose a person from the list.", field=block_id)
    return value


def channel_field(values: dict[str, Any], block_id: str) -> str | None:
    value = field_value(values, block_id)
    if value and not SLACK_CHANNEL_ID.match(value):
        raise UserError("That is not a Slack channel: choose one from the list.", field=block_id)
    return value
