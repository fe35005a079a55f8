"""`/cmo log`: a call, meeting, email or visit with the client, or the team's own note. Also the form the
message shortcut opens, filled with the message."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from slack_sdk.models.blocks import Option, StaticSelectElement

from bot.blocks import Message, replies
from bot.blocks import contacts as contact_blocks
from bot.blocks import text as t
from bot.blocks.forms import client_field, date_field, field, modal, text_field
from bot.blocks.ids import ActionId
from bot.blocks.layout import context
from bot.commands.context import Context, LinkWanted
from bot.commands.registry import Form, FormRequest, FormValues, HelpTopic, Subcommand
from bot.commands.voice import tell_owner
from bot.db.models import INTERACTION_KINDS, Client
from bot.errors import UserError
from bot.parsing import fields
from bot.parsing.dates import DateSpec, parse_date
from bot.parsing.grammar import split_options
from bot.parsing.tokens import Token
from bot.services import clients as client_service
from bot.services import contacts as contact_service
from bot.services import interactions as interaction_service

SUMMARY_INPUT_LIMIT = 3000  # Slack's maximum for a plain_text_input
TOPIC = HelpTopic("log", "Logging interactions", (
    "Kinds: call, meeting, email, visit — contact with the client — and note, for the team's own record "
    "(a note does not count as contact).",
    "`on:` when it happened (default today; `fri` means the latest Friday). `next:` when the next "
    "contact is planned. `with:` the client's contact person.",
    "Example: `/cmo log acme call Agreed Q1 fill slots with:\"Dr. Jane Roe\" next:+2w`",
    "Any Slack message can be logged too: its ⋯ menu › *Log client interaction*.",
))


@dataclass(frozen=True)
class LogInteraction:
    client: str
    kind: str
    summary: str
    on: DateSpec | None = None
    contact: str | None = None
    next: DateSpec | None = None


def parse_log(tokens: list[Token]) -> LogInteraction:
    words, options = split_options(tokens, ("on", "with", "next"), strict=False)
    if len(words) < 2:
        raise UserError("Give the client, the kind of interaction and a summary.")
    client, kind_token, summary_words = words[0], words[1], words[2:]
    kind = kind_token.value.lower()
    if kind not in INTERACTION_KINDS:
        raise UserError(f"`{kind_token.value}` is not a kind of interaction: use "
                        + ", ".join(INTERACTION_KINDS) + ".", field="kind")
    if not summary_words:
        raise UserError("Add a summary: what was said or agreed.", field="summary")
    if len(summary_words) == 1 and summary_words[0].quoted:
        summary = summary_words[0].value
    else:
        summary = " ".join(word.raw for word in summary_words)
    return LogInteraction(
        client=client.value,
        kind=kind,
        summary=summary,
        on=parse_date(options["on"], option="on") if "on" in options else None,
        contact=options.get("with"),
        next=parse_date(options["next"], option="next") if "next" in options else None,
    )


def log_interaction(command: LogInteraction, ctx: Context) -> Message:
    client = ctx.client(command.client)
    today = ctx.today_for(client)
    interaction = interaction_service.log_interaction(
        ctx.session, ctx.actor, client,
        kind=command.kind,
        summary=command.summary,
        occurred_on=command.on.resolve(today, past=True) if command.on else today,
        today=today,
        contact_name=command.contact,
        next_contact_on=command.next.resolve(today) if command.next else None,
    )
    tell_owner(ctx, client, interaction)
    if ctx.source_message:
        ctx.session.flush()
        ctx.links_wanted.append(LinkWanted(interaction.id, ctx.source_message))
    return replies.interaction_logged(client, interaction, today, hints=_contact_hints(ctx, client, interaction))


def _contact_hints(ctx: Context, client: Client, interaction: Any) -> list[str]:
    """`with:` a name that is not one of the client's contacts: kept as typed; say so, and what was meant."""
    if not interaction.contact_name or interaction.contact_id is not None:
        return []
    close = contact_service.close_matches(contact_service.active_contacts(ctx.session, client),
                                         interaction.contact_name)
    ctx.session.flush()  # the interaction's id, for the edit the hint suggests
    return [contact_blocks.unknown_contact_hint(client, interaction, close)]


def log_modal(metadata: dict[str, Any], *, today: dt.date, summary: str | None = None,
              selected: Client | None = None, kind: str | None = None, on: dt.date | None = None) -> dict[str, Any]:
    kinds = [Option(value=kind, text=kind) for kind in INTERACTION_KINDS]
    blocks = [
        client_field(selected),
        field("kind", "Kind", StaticSelectElement(action_id=ActionId.VALUE, placeholder="call, meeting, …",
                                                  options=kinds,
                                                  initial_option=next((o for o in kinds if o.value == kind), None))),
        text_field("summary", "Summary", optional=False, multiline=True, max_length=SUMMARY_INPUT_LIMIT,
                   initial=t.clip(summary, SUMMARY_INPUT_LIMIT) if summary else None,
                   placeholder="What was said or agreed"),
        date_field("on", "When", initial=min(on, today) if on else today, optional=False),
        text_field("with", "With (client contact)", placeholder="Dr. Jane Roe", max_length=200),
        date_field("next", "Next contact planned"),
    ]
    if metadata.get("message_ts"):
        blocks.append(context("The message's link is kept with the interaction."))
    return modal("log", title="Log an interaction", submit="Log", metadata=metadata, blocks=blocks)


def open_log_form(ctx: Context, request: FormRequest) -> dict[str, Any]:
    if request.client_id is not None:
        selected = client_service.get_client(ctx.session, ctx.actor.team_id, request.client_id)
    elif request.channel_id:
        # A message from a client's own channel most likely concerns that client.
        selected = client_service.client_of_channel(ctx.session, ctx.actor.team_id, request.channel_id)
    else:
        selected = None
    return log_modal(request.metadata, today=ctx.today_for(selected), summary=request.summary, selected=selected,
                     kind=request.kind, on=request.on)


def read_log(values: FormValues) -> LogInteraction:
    next_date = fields.field_value(values, "next")
    return LogInteraction(
        client=fields.required_field(values, "client", "Choose a client."),
        kind=fields.required_field(values, "kind", "Choose the kind of interaction."),
        summary=fields.required_field(values, "summary", "Add a summary: what was said or agreed."),
        on=parse_date(fields.required_field(values, "on", "Pick the date."), option="on"),
        contact=fields.field_value(values, "with"),
        next=parse_date(next_date, option="next") if next_date else None,
    )


LOG = Subcommand(
    name="log",
    usage='/cmo log <client> <call|meeting|email|visit|note> <summary ...> [on:<date>] [with:"<contact>"] '
          "[next:<date>]",
    command=LogInteraction, parse=parse_log, run=log_interaction, topic=TOPIC.key,
    form=Form(open=open_log_form, read=read_log, title="Log an interaction"),
)
SUBCOMMANDS = (LOG,)
TOPICS = (TOPIC,)
