"""Buttons on what the bot posts: "Mark client told", "Draft message to client"."""

from __future__ import annotations

from slack_bolt import App

from bot.blocks import Message
from bot.blocks.changes import announcement, draft_modal
from bot.blocks.ids import ActionId
from bot.commands.changes import change_to_tell, mark_change_told, parse_change_id
from bot.parsing import payloads
from bot.services.changes import slip_history
from handlers.listener import BUTTON, Call, OpenForm, listener


def register(app: App) -> None:
    app.action(ActionId.MARK_TOLD)(mark_told)
    app.action(ActionId.DRAFT)(open_draft)


def _pressed_value(call: Call) -> str:
    actions = call.body.get("actions") or [{}]
    value = actions[0].get("value")
    if not isinstance(value, str):
        raise payloads.InvalidPayload("a button without its value")
    return value


@listener(BUTTON)
def mark_told(call: Call) -> Message:
    change, client = mark_change_told(call.ctx, parse_change_id(_pressed_value(call)), notify=False)
    # The message the button was on now says who told the client, and loses its buttons.
    return announcement(change, client, slip_history(call.session, client, change))


@listener(BUTTON)
def open_draft(call: Call) -> OpenForm:
    change, client = change_to_tell(call.ctx, parse_change_id(_pressed_value(call)))
    return OpenForm(draft_modal(change, client))
