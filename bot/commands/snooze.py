"""`/cmo snooze <client> <duration>|off`: no stale-contact nudges about a client for a while (the owner
knows: a client on holiday, a contract pause). Also the Snooze menu on a nudge."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from slack_sdk.models.blocks import Option, StaticSelectElement

from bot.blocks import Message
from bot.blocks import text as t
from bot.blocks.forms import client_field, field, modal
from bot.blocks.ids import ActionId
from bot.blocks.layout import section
from bot.commands.context import Context
from bot.commands.registry import Form, FormValues, HelpTopic, Subcommand
from bot.db.models import Client
from bot.errors import UserError
from bot.parsing import fields
from bot.parsing.dates import parse_duration
from bot.parsing.grammar import joined
from bot.parsing.tokens import Token
from bot.services import calendars as calendar_service
from bot.services import clients as client_service
from bot.services.roles import Rule

OFF = "off"
MAX_SNOOZE = dt.timedelta(weeks=13)
TOPIC = HelpTopic("snooze", "Snoozing nudges", (
    "A client not heard from for longer than its cadence is nudged in its internal channel (its owner is "
    "mentioned), in the owner's business hours, every few business days while it stays so; at twice the "
    "cadence the managers are told.",
    "`/cmo snooze acme 2w` stops the nudges about Acme for two weeks (`3d`, `1w`, ... up to 13w); `/cmo snooze "
    "acme off` ends it. The Snooze menu on a nudge does the same. Managers are still told at twice the cadence.",
))


@dataclass(frozen=True)
class Snooze:
    client: str
    days: int | None  # None: end the snooze


def parse_snooze_duration(text: str) -> int | None:
    if text.strip().lower() == OFF:
        return None
    duration = parse_duration(text, option="duration", units="dw")
    if duration > MAX_SNOOZE:
        raise UserError(f"A snooze of `{text}` is longer than a quarter; use at most 13w, or give the client a "
                        "longer cadence.", field="duration")
    return duration.days


def parse_snooze(tokens: list[Token]) -> Snooze:
    if len(tokens) < 2:
        raise UserError("Give the client and how long: `3d`, `2w`, or `off`.")
    return Snooze(client=joined(tokens[:-1]), days=parse_snooze_duration(tokens[-1].value))


def snooze_client(ctx: Context, client: Client, days: int | None) -> tuple[dt.date | None, bool]:
    """Snooze for `days` from today (the reader's), or end it; and whether anything changed. The client's
    owner or a manager only."""
    ctx.authorize(Rule.OWNER, client, f"snooze the nudges about {client.name}")
    until = None
    if days is not None:
        until = calendar_service.calendar(ctx.session, client, ctx.settings).today(ctx.now) + dt.timedelta(days=days)
    return until, client_service.snooze(ctx.session, ctx.actor, client, until)


def run_snooze(command: Snooze, ctx: Context) -> Message:
    client = ctx.client(command.client)
    until, changed = snooze_client(ctx, client, command.days)
    name = f"*{t.user_text(client.name, 200)}* (`{client.key}`)"
    if until is None:
        text = (f":bell: Nudges about {name} are on again." if changed
                else f"Nudges about {name} were not snoozed; nothing changed.")
    else:
        text = (f":zzz: No nudges about {name} until {t.day(until)}." if changed
                else f"{name} is already snoozed until {t.day(until)}; nothing changed.")
    fallback = f"{client.name}: no nudges until {until:%Y-%m-%d}" if until else f"{client.name}: nudges on"
    return Message(text=fallback, blocks=[section(text)])


def snooze_modal(metadata: dict[str, Any]) -> dict[str, Any]:
    choices = [Option(value=value, text=label) for value, label in
               (("3d", "3 days"), ("1w", "1 week"), ("2w", "2 weeks"), ("4w", "4 weeks"), (OFF, "End the snooze"))]
    return modal("snooze", title="Snooze nudges", submit="Snooze", metadata=metadata, blocks=[
        client_field(),
        field("duration", "For how long", StaticSelectElement(action_id=ActionId.VALUE, placeholder="2 weeks",
                                                              options=choices)),
    ])


def read_snooze(values: FormValues) -> Snooze:
    return Snooze(client=fields.required_field(values, "client", "Choose a client."),
                  days=parse_snooze_duration(fields.required_field(values, "duration", "Choose how long.")))


SNOOZE = Subcommand(
    name="snooze", usage="/cmo snooze <client> <duration>|off", command=Snooze, parse=parse_snooze, run=run_snooze,
    topic=TOPIC.key,
    form=Form(open=lambda ctx, request: snooze_modal(request.metadata), read=read_snooze, title="Snooze nudges"),
)
SUBCOMMANDS = (SNOOZE,)
TOPICS = (TOPIC,)
