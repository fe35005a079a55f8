"""`/cmo`: replies are ephemeral; a subcommand without arguments opens its modal."""

from __future__ import annotations

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from bot.blocks import replies
from bot.errors import UserError
from bot.execute import execute, open_form
from bot.parsing.commands import OpenModal, parse
from handlers.context import actor, command_context, database


def register(app: App) -> None:
    app.command("/cmo")(cmo)


def cmo(ack: Ack, command: dict, client: WebClient, context: BoltContext) -> None:
    who = actor(context, command, "slash_command")
    try:
        parsed = parse(command.get("text", ""))
        with database(context).transaction() as session:
            ctx = command_context(session, context, who)
            if isinstance(parsed, OpenModal):
                metadata = {"channel_id": command.get("channel_id")}
                view = open_form(parsed.name, ctx, metadata)
            else:
                reply = execute(parsed, ctx)
    except UserError as error:
        ack(response_type="ephemeral", **replies.error(error.message, error.usage).as_kwargs())
        return
    if isinstance(parsed, OpenModal):
        ack()
        client.views_open(trigger_id=command["trigger_id"], view=view)
        return
    ack(response_type="ephemeral", **reply.as_kwargs())


__all__ = ["register"]
