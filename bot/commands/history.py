"""`/cmo history <client>`: the client's audit trail, newest first."""

from __future__ import annotations

from dataclasses import dataclass

from bot.blocks import Message, replies
from bot.blocks.forms import client_field, modal
from bot.commands.context import Context
from bot.commands.registry import Form, HelpTopic, Subcommand
from bot.parsing import fields
from bot.parsing.grammar import joined
from bot.services import audit
from bot.services.calendars import client_zone

TOPIC = HelpTopic("history", "History", (
    "Every add, change, archive and logged interaction, with who, when (UTC, shown in the client's "
    "zone) and through which surface. The trail is append-only.",
))


@dataclass(frozen=True)
class History:
    client: str


def show_history(command: History, ctx: Context) -> Message:
    client = ctx.client(command.client, allow_archived=True)
    events = audit.client_history(ctx.session, ctx.actor.team_id, client.id)
    return replies.history(client, events, client_zone(client, ctx.default_zone))


def history_modal(metadata: dict) -> dict:
    return modal("history", title="Client history", submit="Show", metadata=metadata, blocks=[client_field()])


HISTORY = Subcommand(
    name="history", usage="/cmo history <client>", command=History,
    parse=lambda tokens: History(client=joined(tokens)), run=show_history, topic=TOPIC.key,
    form=Form(open=lambda ctx, request: history_modal(request.metadata),
              read=lambda values: History(client=fields.required_field(values, "client", "Choose a client.")),
              title="Client history"),
)
SUBCOMMANDS = (HISTORY,)
TOPICS = (TOPIC,)
