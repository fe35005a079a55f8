"""Message shortcut "Log client interaction": the log form, filled with the message, opened at once; the
message's link is fetched after the form is submitted and kept with the interaction."""

from __future__ import annotations

from slack_bolt import App

from bot.blocks.ids import CallbackId
from bot.commands import REGISTRY, FormRequest
from bot.parsing import payloads
from bot.parsing.tokens import unescape_slack
from handlers.listener import MESSAGE_SHORTCUT, Call, OpenForm, listener

MAX_MESSAGE_TEXT = 40_000  # Slack's limit for a message's text


def register(app: App) -> None:
    app.shortcut(CallbackId.MESSAGE_SHORTCUT)(log_message)


@listener(MESSAGE_SHORTCUT)
def log_message(call: Call) -> OpenForm:
    channel = call.body.get("channel")
    channel_id = payloads.channel_id(channel.get("id") if isinstance(channel, dict) else None)
    message = call.body.get("message") if isinstance(call.body.get("message"), dict) else {}
    summary = unescape_slack(payloads.text(message.get("text"), limit=MAX_MESSAGE_TEXT))
    metadata = {"channel_id": channel_id, "message_ts": payloads.message_ts(message.get("ts")),
                "surface": MESSAGE_SHORTCUT.name}
    request = FormRequest(metadata, channel_id=channel_id, summary=summary)
    return OpenForm(REGISTRY.open_form("log", call.ctx, request), usage=REGISTRY.usage("log"))
