"""Modal submissions: the same command as typed, then the reply shown in the modal itself."""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.blocks import Message
from bot.blocks import text as t
from bot.blocks.changes import DRAFT_INPUT_LIMIT
from bot.blocks.forms import result_view
from bot.blocks.ids import CallbackId
from bot.blocks.layout import section
from bot.commands import REGISTRY, LinkWanted, SourceMessage
from bot.commands.changes import parse_change_id, send_to_client
from bot.db import Database
from bot.errors import UserError
from bot.parsing import payloads
from bot.parsing.fields import field_value
from bot.services import Actor, Surface
from bot.services.interactions import attach_permalink
from handlers.listener import MODAL, Call, listener

logger = logging.getLogger(__name__)


def register(app: App) -> None:
    app.view(re.compile("^" + re.escape(CallbackId.FORM_PREFIX)))(submit)
    app.view(CallbackId.DRAFT)(submit_draft)


@listener(MODAL)
def submit(call: Call) -> dict[str, Any]:
    view = call.body["view"]
    name = view["callback_id"].removeprefix(CallbackId.FORM_PREFIX)
    form = REGISTRY.form(name)
    if form is None:
        raise payloads.InvalidPayload("a form Rapport does not have")
    metadata = payloads.view_metadata(view)
    command = form.read(payloads.view_values(view))
    channel_id = payloads.channel_id(metadata.get("channel_id"), required=False)
    message_ts = payloads.message_ts(metadata.get("message_ts"))
    if channel_id and message_ts:
        call.ctx.source_message = SourceMessage(channel_id, message_ts)
    reply = REGISTRY.execute(command, call.ctx)
    for wanted in call.ctx.links_wanted:
        call.later(_link_fetcher(call.ctx.actor, wanted, call.client, call.database))
    return {"response_action": "update", "view": result_view(form.title, reply)}


def _link_fetcher(actor: Actor, wanted: LinkWanted, client: WebClient, database: Database):
    def fetch_message_link() -> None:
        try:
            response = client.chat_getPermalink(channel=wanted.message.channel_id,
                                                message_ts=wanted.message.message_ts)
        except SlackApiError as error:
            # The interaction is still worth having without its link.
            logger.warning("No link for the message of interaction #%s: %s", wanted.interaction_id,
                           error.response.get("error"))
            return
        with database.transaction() as session:
            attach_permalink(session, actor, wanted.interaction_id, str(response.get("permalink") or ""))

    return fetch_message_link


@listener(MODAL, audit_as=Surface.DRAFT_TO_CLIENT)
def submit_draft(call: Call) -> dict[str, Any]:
    """The owner's edited message to the client: queued for the shared channel by this explicit action
    only, and the change marked told with exactly that text, in one transaction. The modal is answered at
    once; the outbox posts the message after the answer, exactly once."""
    view = call.body["view"]
    change_id = parse_change_id(str(payloads.view_metadata(view).get("change_id", "")))
    text = field_value(payloads.view_values(view), "draft", limit=DRAFT_INPUT_LIMIT)
    if not text:
        raise UserError("Write the message to the client.", field="draft")
    change, client = send_to_client(call.ctx, change_id, text)
    done = (f"Sending it to {t.channel(client.shared_channel_id)} now, and #{change.id} is marked as told. "
            "If Slack refuses it, the change opens again and you are told in the internal channel."
            if client.shared_channel_id else
            f"Marked #{change.id} as told with this text: send it to the client yourself.")
    return {"response_action": "update",
            "view": result_view("Message to client", Message(text=done, blocks=[section(done)]))}
