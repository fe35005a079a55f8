"""Buttons on what the bot posts: "Mark client told" and "Draft message to client" on a schedule change;
"Log contact" and "Snooze" on a stale-contact nudge."""

from __future__ import annotations

from typing import Any

from slack_bolt import App

from bot.blocks import Message
from bot.blocks.changes import announcement, draft_modal
from bot.blocks.ids import ActionId
from bot.blocks.nudges import SNOOZE_CHOICES, snoozed
from bot.commands import REGISTRY, FormRequest
from bot.commands.changes import change_to_tell, mark_change_told, parse_change_id
from bot.commands.snooze import parse_snooze_duration, snooze_client
from bot.errors import UserError
from bot.parsing import payloads
from bot.parsing.grammar import MAX_RECORD_ID
from bot.services import clients as client_service
from bot.services.changes import slip_history
from handlers.listener import BUTTON, Call, OpenForm, listener


def register(app: App) -> None:
    app.action(ActionId.MARK_TOLD)(mark_told)
    app.action(ActionId.DRAFT)(open_draft)
    app.action(ActionId.LOG_CONTACT)(log_contact)
    app.action(ActionId.SNOOZE)(snooze_from_nudge)


def _action(call: Call) -> dict[str, Any]:
    actions = call.body.get("actions") or [{}]
    return actions[0]


def _pressed_value(call: Call) -> str:
    value = _action(call).get("value")
    if not isinstance(value, str):
        raise payloads.InvalidPayload("a button without its value")
    return value


def _client_id(text: str) -> int:
    if not (text.isascii() and text.isdigit() and 0 < len(text) <= 10 and 0 < int(text) <= MAX_RECORD_ID):
        raise payloads.InvalidPayload("a client that is not one")
    return int(text)


@listener(BUTTON)
def mark_told(call: Call) -> Message:
    change, client = mark_change_told(call.ctx, parse_change_id(_pressed_value(call)), notify=False)
    # The message the button was on now says who told the client, and loses its buttons.
    return announcement(change, client, slip_history(call.session, client, change))


@listener(BUTTON, writes=False)
def open_draft(call: Call) -> OpenForm:
    change, client = change_to_tell(call.ctx, parse_change_id(_pressed_value(call)))
    return OpenForm(draft_modal(change, client))


@listener(BUTTON, writes=False)
def log_contact(call: Call) -> OpenForm:
    """The log form for the client the nudge is about (archived or gone: said so, nothing opens)."""
    channel = call.body.get("channel")
    channel_id = payloads.channel_id(channel.get("id") if isinstance(channel, dict) else None, required=False)
    request = FormRequest({"channel_id": channel_id}, channel_id=channel_id, client_id=_client_id(_pressed_value(call)))
    return OpenForm(REGISTRY.open_form("log", call.ctx, request), usage=REGISTRY.usage("log"))


@listener(BUTTON)
def snooze_from_nudge(call: Call) -> Message:
    """The nudge turns into "snoozed until ... by ..."; snoozing again to the same day writes nothing."""
    option = _action(call).get("selected_option")
    value = option.get("value") if isinstance(option, dict) else None
    client_text, _, duration = value.partition(":") if isinstance(value, str) else ("", "", "")
    if duration not in dict(SNOOZE_CHOICES):
        raise payloads.InvalidPayload("a snooze the menu does not offer")
    client = client_service.get_client(call.session, call.ctx.actor.team_id, _client_id(client_text))
    until, changed = snooze_client(call.ctx, client, parse_snooze_duration(duration))
    if not changed:
        raise UserError(f"{client.name} is already snoozed until {until:%a %Y-%m-%d}; nothing changed.")
    return snoozed(client, until, call.ctx.actor.user_id)
