"""`/cmo`: replies are ephemeral; a subcommand without arguments opens its modal."""

from __future__ import annotations

from slack_bolt import App

from bot.blocks import Message
from bot.execute import execute, open_form
from bot.parsing import payloads
from bot.parsing.commands import USAGE, OpenModal, parse
from handlers.listener import SLASH_COMMAND, Call, OpenForm, listener

MAX_COMMAND_TEXT = 25_000  # Slack sends at most a few thousand characters


def register(app: App) -> None:
    app.command("/cmo")(cmo)


@listener(SLASH_COMMAND)
def cmo(call: Call) -> Message | OpenForm:
    parsed = parse(payloads.text(call.body.get("text"), limit=MAX_COMMAND_TEXT))
    if isinstance(parsed, OpenModal):
        metadata = {"channel_id": payloads.channel_id(call.body.get("channel_id"), required=False)}
        return OpenForm(open_form(parsed.name, call.ctx, metadata), usage=USAGE[parsed.name])
    return execute(parsed, call.ctx)
