"""A submitted modal's values to the same command object the typed command gives."""

from __future__ import annotations

from typing import Any

from bot.errors import UserError
from bot.parsing.commands import (
    ClientAdd,
    ClientArchive,
    ClientSet,
    Command,
    Delay,
    History,
    LogInteraction,
    Told,
    parse_change_id,
)
from bot.parsing.dates import parse_cadence, parse_date, parse_timezone
from bot.parsing.tokens import SLACK_CHANNEL_ID, SLACK_USER_ID, clean_text

MAX_FIELD = 5000  # no input of ours takes more (Slack's own maximum for a text input is 3,000)


def field_value(values: dict[str, Any], block_id: str, *, limit: int = MAX_FIELD) -> str | None:
    """The input's value, whatever its element type; None when left empty.

    Read like typed text: only strings count, cleaned of control characters; anything else in the
    state (a forged number, an object) counts as left empty."""
    block = values.get(block_id)
    states = [state for state in block.values() if isinstance(state, dict)] if isinstance(block, dict) else []
    state = states[0] if len(states) == 1 else {}
    for key in ("value", "selected_user", "selected_conversation", "selected_channel", "selected_date"):
        if isinstance(state.get(key), str):
            return _cleaned(state[key], block_id, limit)
    option = state.get("selected_option")
    if isinstance(option, dict) and isinstance(option.get("value"), str):
        return _cleaned(option["value"], block_id, limit)
    return None


_value = field_value


def _cleaned(text: str, block_id: str, limit: int) -> str | None:
    text = clean_text(text).strip()
    if len(text) > limit:
        raise UserError(f"This field takes at most {limit:,} characters.", field=block_id)
    return text or None


def _user(values: dict[str, Any], block_id: str) -> str | None:
    """A user select's value: a user id, nothing else (a forged one can hold anything)."""
    value = _value(values, block_id)
    if value and not SLACK_USER_ID.match(value):
        raise UserError("That is not a Slack user: choose a person from the list.", field=block_id)
    return value


def _channel(values: dict[str, Any], block_id: str) -> str | None:
    value = _value(values, block_id)
    if value and not SLACK_CHANNEL_ID.match(value):
        raise UserError("That is not a Slack channel: choose one from the list.", field=block_id)
    return value


def _required(values: dict[str, Any], block_id: str, message: str) -> str:
    value = _value(values, block_id)
    if value is None:
        raise UserError(message, field=block_id)
    return value


def command_from_form(name: str, values: dict[str, Any]) -> Command:
    """`name` is the modal's command (`client add`, `log`, ...); raises UserError naming the field."""
    get = lambda block_id: _value(values, block_id)  # noqa: E731
    if name == "client add":
        cadence, tz = get("cadence"), get("tz")
        return ClientAdd(
            name=_required(values, "name", "Give the client's name."),
            key=get("key"),
            owner=_user(values, "owner"),
            channel=_channel(values, "channel"),
            cadence_days=parse_cadence(cadence) if cadence else None,
            timezone=parse_timezone(tz) if tz else None,
        )
    if name == "client set":
        changes: dict[str, str | int | None] = {}
        for block_id, field, read in (("owner", "owner_user_id", _user), ("channel", "internal_channel_id", _channel),
                                      ("shared", "shared_channel_id", _channel)):
            value = read(values, block_id)
            if value:
                changes[field] = value
        if get("cadence"):
            changes["cadence_days"] = parse_cadence(get("cadence"))
        if get("tz"):
            changes["timezone"] = parse_timezone(get("tz"))
        if not changes:
            raise UserError("Fill in at least one thing to change.", field="owner")
        return ClientSet(client=_required(values, "client", "Choose a client."), changes=changes)
    if name == "client archive":
        return ClientArchive(client=_required(values, "client", "Choose a client."))
    if name == "history":
        return History(client=_required(values, "client", "Choose a client."))
    if name == "log":
        next_date = get("next")
        return LogInteraction(
            client=_required(values, "client", "Choose a client."),
            kind=_required(values, "kind", "Choose the kind of interaction."),
            summary=_required(values, "summary", "Add a summary: what was said or agreed."),
            on=parse_date(_required(values, "on", "Pick the date."), option="on"),
            contact=get("with"),
            next=parse_date(next_date, option="next") if next_date else None,
        )
    if name == "delay":
        old = get("from")
        return Delay(
            client=_required(values, "client", "Choose a client."),
            item=_required(values, "item", "Say what moves: a batch, a lot or a milestone."),
            to=parse_date(_required(values, "to", "Pick the new date."), option="to"),
            old=parse_date(old, option="from") if old else None,
            reason=_required(values, "reason", "A reason is required: a schedule change is never logged "
                                               "unexplained."),
            project=get("project"),
        )
    if name == "told":
        return Told(change_id=parse_change_id(_required(values, "change", "Choose the change.")), how=get("how"))
    raise ValueError(f"no form for {name!r}")
