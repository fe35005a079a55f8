"""Buttons on what the bot posts: "Mark client told", "Draft message to client"."""

from __future__ import annotations

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.blocks import replies
from bot.blocks.changes import DRAFT, MARK_TOLD, announcement, draft_modal
from bot.errors import UserError
from bot.execute import change_to_tell, mark_change_told
from bot.services.changes import slip_history
from handlers.context import actor, command_context, database, open_modal


def register(app: App) -> None:
    app.action(MARK_TOLD)(mark_told)
    app.action(DRAFT)(open_draft)


def mark_told(ack: Ack, body: dict, action: dict, context: BoltContext, respond: Respond) -> None:
    ack()
    who = actor(context, body, "button")
    try:
        with database(context).transaction() as session:
            ctx = command_context(session, context, who)
            change, client = mark_change_told(ctx, int(action["value"]), notify=False)
            updated = announcement(change, client, slip_history(session, client, change))
    except UserError as error:
        respond(response_type="ephemeral", replace_original=False, **replies.error(error.message).as_kwargs())
        return
    # The message the button was on now says who told the client, and loses its buttons.
    respond(replace_original=True, **updated.as_kwargs())


def open_draft(ack: Ack, body: dict, action: dict, client: WebClient, context: BoltContext, respond: Respond) -> None:
    ack()
    who = actor(context, body, "button")
    try:
        with database(context).transaction() as session:
            change, target = change_to_tell(command_context(session, context, who), int(action["value"]))
            view = draft_modal(change, target)
    except UserError as error:
        respond(response_type="ephemeral", replace_original=False, **replies.error(error.message).as_kwargs())
        return
    open_modal(client, body["trigger_id"], view, respond, usage=None)
