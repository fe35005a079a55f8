"""Message shortcut "Log as client interaction": the log modal, filled with the message, its link kept."""

from __future__ import annotations

import logging

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.blocks import replies
from bot.errors import UserError
from bot.execute import open_form
from bot.manifest import MESSAGE_SHORTCUT
from bot.parsing.commands import USAGE
from bot.parsing.tokens import unescape_slack
from bot.services.requests import first_time
from handlers.context import actor, command_context, database, open_modal

LOG_MESSAGE = MESSAGE_SHORTCUT
logger = logging.getLogger(__name__)


def register(app: App) -> None:
    app.shortcut(LOG_MESSAGE)(log_message)


def log_message(ack: Ack, shortcut: dict, client: WebClient, context: BoltContext, respond) -> None:
    ack()
    channel_id = shortcut["channel"]["id"]
    message = shortcut.get("message", {})
    permalink = _permalink(client, channel_id, message.get("ts"))
    who = actor(context, shortcut, "message_shortcut")
    metadata = {"channel_id": channel_id, "permalink": permalink, "surface": "message_shortcut"}
    try:
        with database(context).transaction() as session:
            if not first_time(session, who.team_id, f"shortcut:{shortcut['trigger_id']}"):
                return  # a retry of a shortcut already answered
            view = open_form("log", command_context(session, context, who), metadata,
                             summary=unescape_slack(message.get("text") or ""), channel_id=channel_id)
    except UserError as error:
        respond(response_type="ephemeral", **replies.error(error.message, error.usage).as_kwargs())
        return
    open_modal(client, shortcut["trigger_id"], view, respond, usage=USAGE["log"])


def _permalink(client: WebClient, channel_id: str, message_ts: str | None) -> str | None:
    if not message_ts:
        return None
    try:
        return client.chat_getPermalink(channel=channel_id, message_ts=message_ts)["permalink"]
    except SlackApiError as error:
        # The interaction is still worth logging without its link.
        logger.warning("No permalink for %s/%s: %s", channel_id, message_ts, error.response.get("error"))
        return None
