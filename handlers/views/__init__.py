"""Modal submissions: the same command as typed, then the reply shown in the modal itself."""

from __future__ import annotations

import json
import re

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.blocks import Message
from bot.blocks.changes import DRAFT_CALLBACK
from bot.blocks.layout import section
from bot.blocks.modals import CALLBACK_PREFIX, MODAL_TITLES, result_view
from bot.blocks.text import channel, escape
from bot.errors import UserError
from bot.execute import change_to_tell, execute, mark_change_told
from bot.parsing.forms import command_from_form
from bot.services.requests import first_time
from handlers.context import actor, command_context, database

ALREADY_DONE = Message(text="This form was already submitted; it was done once.")


def register(app: App) -> None:
    app.view(re.compile("^" + re.escape(CALLBACK_PREFIX)))(submit)
    app.view(DRAFT_CALLBACK)(submit_draft)


def submit(ack: Ack, body: dict, view: dict, context: BoltContext) -> None:
    name = view["callback_id"].removeprefix(CALLBACK_PREFIX)
    metadata = json.loads(view.get("private_metadata") or "{}")
    who = actor(context, body, metadata.get("surface", "modal"))
    try:
        command = command_from_form(name, view["state"]["values"])
        with database(context).transaction() as session:
            # The same form state submitted twice (a double click, a retry) is done once.
            if not first_time(session, who.team_id, f"view:{view['id']}:{view.get('hash', '')}"):
                ack(response_action="update", view=result_view(MODAL_TITLES.get(name, "Rapport"), ALREADY_DONE))
                return
            ctx = command_context(session, context, who, permalink=metadata.get("permalink"))
            reply = execute(command, ctx)
        if ctx.queued:
            context["deliver_soon"]()
    except UserError as error:
        ack(response_action="errors", errors={_error_block(view, error.field): _plain(error.message)})
        return
    ack(response_action="update", view=result_view(MODAL_TITLES.get(name, "Rapport"), reply))


def _error_block(view: dict, field: str | None) -> str:
    """The input the error belongs to, else the first input (Slack shows errors under an input)."""
    inputs = [block["block_id"] for block in view.get("blocks", []) if block.get("type") == "input"]
    return field if field in inputs else inputs[0]


def _plain(message: str) -> str:
    # Modal errors are plain text: code marks would show as literal backticks.
    return message.replace("`", "")[:2000]


def submit_draft(ack: Ack, body: dict, view: dict, client: WebClient, context: BoltContext) -> None:
    """The owner's edited message to the client: posted to the shared channel by this explicit action
    only, then the change is marked told with exactly that text."""
    who = actor(context, body, "draft_to_client")
    change_id = json.loads(view.get("private_metadata") or "{}")["change_id"]
    text = ((view["state"]["values"].get("draft") or {}).get("value") or {}).get("value") or ""
    if not text.strip():
        ack(response_action="errors", errors={"draft": "Write the message to the client."})
        return
    try:
        with database(context).transaction() as session:
            if not first_time(session, who.team_id, f"view:{view['id']}:{view.get('hash', '')}"):
                ack(response_action="update", view=result_view("Message to client", ALREADY_DONE))
                return
            ctx = command_context(session, context, who)
            change, target = change_to_tell(ctx, change_id)
            how = ("message posted in the client's shared channel" if target.shared_channel_id else
                   "drafted in Rapport; to be sent outside Slack")
            # Marked first (it fails if someone told the client meanwhile, even at this very moment), then
            # posted: a failed post raises and rolls the mark back, so the client gets the message once.
            mark_change_told(ctx, change.id, how=how, text=text.strip())
            if target.shared_channel_id:
                # No automatic retries on this call: the modal must be answered within Slack's 3 seconds.
                once = WebClient(token=client.token, base_url=client.base_url, timeout=2, retry_handlers=[])
                once.chat_postMessage(channel=target.shared_channel_id, text=escape(text.strip()),
                                      unfurl_links=False, unfurl_media=False)
        if ctx.queued:
            context["deliver_soon"]()
    except UserError as error:
        ack(response_action="errors", errors={"draft": _plain(error.message)})
        return
    except SlackApiError as error:
        # Nothing was posted, so nothing is marked: the owner can try again or send it another way.
        ack(response_action="errors", errors={"draft": f"Slack did not post it ({error.response.get('error')}); "
                                                       "the change is not marked told. Try again."})
        return
    done = (f"Posted to {channel(target.shared_channel_id)} and marked #{change.id} as told."
            if target.shared_channel_id else
            f"Marked #{change.id} as told with this text: send it to the client yourself.")
    ack(response_action="update", view=result_view("Message to client", Message(text=done, blocks=[section(done)])))
