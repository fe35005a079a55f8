"""One voice: `/cmo voice`, and the owner told quietly when someone else logs contact."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.blocks import Message
from bot.blocks import voice as voice_blocks
from bot.blocks.forms import client_field, modal, text_field
from bot.commands.context import Context
from bot.commands.registry import Form, FormValues, HelpTopic, Subcommand
from bot.db.models import CONTACT_KINDS, Client, Interaction
from bot.errors import UserError
from bot.parsing import fields
from bot.parsing.tokens import Token
from bot.services import outbox
from bot.services import voice as voice_service
from bot.services.calendars import client_zone
from bot.services.roles import Rule

OFF = "off"
OWNER_TOLD = "owner-told"  # the outbox source of the owner's direct message
USAGE = '/cmo voice <client> [<topic>: "<the agreed line>" | <topic> off]'
TOPIC = HelpTopic("voice", "One voice", (
    "Everyone who talks to a client says the same thing: the line agreed on each topic (pricing, capacity, "
    "a deviation...) is recorded once, with who agreed it and when, and shown in `/cmo status` and in every "
    "meeting brief.",
    "A new line on a topic replaces the current one (the old one is kept in `/cmo history`); `off` retires "
    "a topic. The client's owner or a manager sets and retires lines; everyone can list them.",
    "When someone other than the owner logs contact with the client, the owner is told in a direct message, "
    "with the agreed lines, so the owner stays the one voice.",
    'Example: `/cmo voice acme pricing: "List prices hold through Q2; volume rebates from 10 lots"`',
), aliases=("one voice",))
_QUOTES = "\"\u201c\u201d\u201e"


@dataclass(frozen=True)
class Voice:
    client: str
    topic: str | None = None  # None: list the current lines
    line: str | None = None  # None with a topic: retire it
    retire: bool = False


def _colon_at(raw: str) -> int:
    """Where the first `:` outside quotes is in a word as typed; -1 if none."""
    in_quotes = False
    for position, char in enumerate(raw):
        if char in _QUOTES:
            in_quotes = not in_quotes
        elif char == ":" and not in_quotes:
            return position
    return -1


def _unquoted(text: str) -> str:
    """A line typed in quotes, as a whole: the words inside; anything else as typed."""
    text = text.strip()
    if len(text) >= 2 and text[0] in _QUOTES and text[-1] in _QUOTES and not any(c in _QUOTES for c in text[1:-1]):
        return text[1:-1]
    return text


def parse_voice(tokens: list[Token]) -> Voice:
    if not tokens:
        raise UserError("Give the client.")
    client, rest = tokens[0].value, tokens[1:]
    if not rest:
        return Voice(client=client)
    for index, token in enumerate(rest):
        colon = _colon_at(token.raw)
        if colon < 0:
            continue
        topic = " ".join([word.value for word in rest[:index]] + [_unquoted(token.raw[:colon])])
        line = _unquoted(" ".join(part for part in [token.raw[colon + 1:], *(word.raw for word in rest[index + 1:])]
                                  if part))
        topic = voice_service.clean_topic(topic)
        if not line.strip():
            raise UserError(f"Give the agreed line after `{topic}:`, in quotes: what everyone tells the client.",
                            field="line")
        if line.strip().lower() == OFF and not rest[-1].quoted:
            raise UserError(f"To retire the line on “{topic}”, type `{topic} off` (no colon); to record the "
                            "line “off”, put it in quotes.", field="line")
        return Voice(client=client, topic=topic, line=voice_service.clean_line(line))
    if rest[-1].value.lower() == OFF and not rest[-1].quoted:
        if len(rest) == 1:
            raise UserError("Say which topic to retire, like `pricing off`.", field="topic")
        return Voice(client=client, topic=voice_service.clean_topic(" ".join(w.value for w in rest[:-1])),
                     retire=True)
    topic = " ".join(word.value for word in rest)
    raise UserError(f"A topic without a line: give the agreed line after a colon, like `{topic[:80]}: \"<the agreed "
                    f"line>\"`, or retire the topic with `{topic[:80]} off`.", field="line")


def run_voice(command: Voice, ctx: Context) -> Message:
    if command.topic is None:
        client = ctx.client(command.client, allow_archived=True)
        return voice_blocks.lines_list(client, voice_service.current_lines(ctx.session, client),
                                       voice_service.replaced_counts(ctx.session, client), _zone(ctx, client))
    client = ctx.client(command.client)
    zone = _zone(ctx, client)
    if command.retire:
        ctx.authorize(Rule.OWNER, client, f"retire what {client.name} is told about “{command.topic}”")
        line = voice_service.retire_line(ctx.session, ctx.actor, client, topic=command.topic)
        return voice_blocks.line_retired(line, client, zone)
    ctx.authorize(Rule.OWNER, client, f"set what {client.name} is told about “{command.topic}”")
    result = voice_service.set_line(ctx.session, ctx.actor, client, topic=command.topic, line=command.line or "")
    if not result.changed:
        return voice_blocks.line_unchanged(result.line, client, zone)
    return voice_blocks.line_recorded(result.line, result.replaced, client, zone)


def _zone(ctx: Context, client: Client):
    return client_zone(client, ctx.default_zone)


def voice_modal(metadata: dict[str, Any]) -> dict[str, Any]:
    return modal("voice", title="Agreed line", submit="Record", metadata=metadata, blocks=[
        client_field(),
        text_field("topic", "Topic", optional=False, placeholder="pricing", max_length=voice_service.TOPIC_MAX),
        text_field("line", "The agreed line", optional=False, multiline=True, max_length=voice_service.LINE_MAX,
                   placeholder="What everyone tells the client on this topic",
                   hint="It replaces the topic's current line, which stays in the client's history."),
    ])


def read_voice(values: FormValues) -> Voice:
    return Voice(
        client=fields.required_field(values, "client", "Choose a client."),
        topic=voice_service.clean_topic(fields.required_field(values, "topic", "Name the topic, like pricing.")),
        line=voice_service.clean_line(fields.required_field(values, "line", "Write the agreed line.")),
    )


VOICE = Subcommand(
    name="voice", usage=USAGE, command=Voice, parse=parse_voice, run=run_voice, topic=TOPIC.key,
    form=Form(open=lambda ctx, request: voice_modal(request.metadata), read=read_voice, title="Agreed line"),
)
SUBCOMMANDS = (VOICE,)
TOPICS = (TOPIC,)


def tell_owner(ctx: Context, client: Client, interaction: Interaction) -> None:
    """Someone other than the owner logged contact with the client: the owner is told in a direct message."""
    owner = client.owner_user_id
    if not owner or owner == interaction.logged_by or interaction.kind not in CONTACT_KINDS:
        return
    ctx.session.flush()  # the interaction's id, for the dedupe key
    lines = voice_service.current_lines(ctx.session, client)
    message = voice_blocks.owner_told(client, interaction, lines, _zone(ctx, client))
    # A user id as the channel: Slack posts it in the app's direct messages with that user.
    outbox.enqueue(ctx.session, team_id=ctx.actor.team_id, dedupe_key=f"interaction:{interaction.id}:owner-told",
                   channel_id=owner, message=message, source=OWNER_TOLD)
