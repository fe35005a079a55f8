"""`/cmo`: replies are ephemeral; a subcommand without arguments opens its form."""

from __future__ import annotations

from slack_bolt import App

from bot.blocks import Message
from bot.commands import REGISTRY, FormRequest, OpenModal
from bot.parsing import payloads
from handlers.listener import SLASH_COMMAND, Call, OpenForm, listener

MAX_COMMAND_TEXT = 25_000  # Slack sends at most a few thousand characters


def register(app: App) -> None:
    app.command("/cmo")(cmo)


def _writes(body: dict) -> bool:
    text = body.get("text")
    return not (isinstance(text, str) and REGISTRY.reads_only(text))


@listener(SLASH_COMMAND, writes=_writes)
def cmo(call: Call) -> Message | OpenForm:
    parsed = REGISTRY.parse(payloads.text(call.body.get("text"), limit=MAX_COMMAND_TEXT))
    if isinstance(parsed, OpenModal):
        metadata = {"channel_id": payloads.channel_id(call.body.get("channel_id"), required=False)}
        return OpenForm(REGISTRY.open_form(parsed.name, call.ctx, FormRequest(metadata)),
                        usage=REGISTRY.usage(parsed.name))
    return REGISTRY.execute(parsed, call.ctx)
