"""`/cmo`: replies are ephemeral; a subcommand without arguments opens its modal."""

from __future__ import annotations

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.blocks import replies
from bot.errors import UserError
from bot.execute import execute, open_form
from bot.parsing.commands import USAGE, OpenModal, parse
from handlers.context import actor, command_context, database, open_modal


def register(app: App) -> None:
    app.command("/cmo")(cmo)


def cmo(ack: Ack, command: dict, client: WebClient, context: BoltContext, respond: Respond) -> None:
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
        if ctx.queued:
            context["deliver_soon"]()
    except UserError as error:
        ack(response_type="ephemeral", **replies.error(error.message, error.usage).as_kwargs())
        return
    if isinstance(parsed, OpenModal):
        ack()
        open_modal(client, command["trigger_id"], view, respond, usage=USAGE[parsed.name])
        return
    ack(response_type="ephemeral", **reply.as_kwargs())


__all__ = ["register"]
