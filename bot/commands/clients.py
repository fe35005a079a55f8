"""`/cmo client add|list|set|archive`: the portfolio itself."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.blocks import Message, replies
from bot.blocks.forms import channel_field, client_field, modal, text_field, user_field
from bot.blocks.layout import context
from bot.commands.context import Context
from bot.commands.registry import Form, FormValues, HelpTopic, Subcommand
from bot.errors import UserError
from bot.parsing import fields
from bot.parsing.dates import parse_cadence, parse_country, parse_timezone
from bot.parsing.grammar import joined, optional, split_options
from bot.parsing.tokens import Token, parse_channel, parse_user
from bot.services import clients as client_service
from bot.services.roles import Rule, rule_for_client_changes

TOPIC = HelpTopic("client", "Clients", (
    "A client is named by its key, its name, or the start of either (`acme`, `\"Acme Bio\"`).",
    "The *owner* is the client's one voice: the person who tells the client about changes.",
    "*Cadence* is how often the client should hear from us (default 14d). "
    "`none` clears an owner, a channel, a time zone or a country: `/cmo client set acme shared:none`.",
    "*Country* (ISO 3166, like `DE`): Rapport posts nothing about the client on that country's public holidays.",
    "Archived clients keep their history; nothing is ever deleted.",
))
CHOOSE_CLIENT = "Choose a client."


# -- client add ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ClientAdd:
    name: str
    key: str | None = None
    owner: str | None = None
    channel: str | None = None
    cadence_days: int | None = None
    timezone: str | None = None
    country: str | None = None


def parse_client_add(tokens: list[Token]) -> ClientAdd:
    words, options = split_options(tokens, ("key", "owner", "channel", "cadence", "tz", "country"), strict=True)
    name = joined(words)
    if not name:
        raise UserError("Give the client's name.", field="name")
    return ClientAdd(
        name=name,
        key=options.get("key"),
        owner=parse_user(options["owner"], option="owner") if "owner" in options else None,
        channel=parse_channel(options["channel"], option="channel") if "channel" in options else None,
        cadence_days=parse_cadence(options["cadence"]) if "cadence" in options else None,
        timezone=parse_timezone(options["tz"]) if "tz" in options else None,
        country=parse_country(options["country"]) if "country" in options else None,
    )


def add_client(command: ClientAdd, ctx: Context) -> Message:
    ctx.require_internal(command.channel, field="channel", what="the client's internal channel")
    client = client_service.add_client(
        ctx.session, ctx.actor, command.name, key=command.key, owner_user_id=command.owner,
        internal_channel_id=command.channel, cadence_days=command.cadence_days, timezone=command.timezone,
        country=command.country,
    )
    return replies.client_added(client)


def client_add_modal(metadata: dict[str, Any]) -> dict[str, Any]:
    return modal("client add", title="Add a client", submit="Add", metadata=metadata, blocks=[
        text_field("name", "Name", optional=False, placeholder="Acme Biologics", max_length=200),
        text_field("key", "Short key", placeholder="acme", max_length=40,
                   hint="What people type in commands. Made from the name if left empty."),
        user_field("owner", "Owner", hint="The client's one voice: who tells the client about changes."),
        channel_field("channel", "Internal channel", hint="Where Rapport posts about this client. Never shared "
                      "with the client."),
        text_field("cadence", "Contact cadence", placeholder="14d or 2w", max_length=5),
        text_field("tz", "Time zone", placeholder="Europe/Berlin", max_length=64),
        text_field("country", "Country", placeholder="DE", max_length=2,
                   hint="Its public holidays: Rapport posts nothing about the client then."),
    ])


def read_client_add(values: FormValues) -> ClientAdd:
    cadence, tz, country = (fields.field_value(values, name) for name in ("cadence", "tz", "country"))
    return ClientAdd(
        name=fields.required_field(values, "name", "Give the client's name."),
        key=fields.field_value(values, "key"),
        owner=fields.user_field(values, "owner"),
        channel=fields.channel_field(values, "channel"),
        cadence_days=parse_cadence(cadence) if cadence else None,
        timezone=parse_timezone(tz) if tz else None,
        country=parse_country(country) if country else None,
    )


CLIENT_ADD = Subcommand(
    name="client add",
    usage="/cmo client add <name> [key:<short-key>] [owner:@user] [channel:#internal-channel] "
          "[cadence:<N>d|<N>w] [tz:<IANA zone>] [country:<ISO 3166 code>]",
    command=ClientAdd, parse=parse_client_add, run=add_client, topic=TOPIC.key,
    form=Form(open=lambda ctx, request: client_add_modal(request.metadata), read=read_client_add,
              title="Add a client", needs_clients=False),
)


# -- client list -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ClientList:
    pass


def list_clients(command: ClientList, ctx: Context) -> Message:
    return replies.client_list(client_service.list_clients(ctx.session, ctx.actor.team_id))


CLIENT_LIST = Subcommand(name="client list", reads_only=True, usage="/cmo client list", command=ClientList,
                         parse=lambda tokens: ClientList(), run=list_clients, topic=TOPIC.key)


# -- client set ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ClientSet:
    client: str
    # Only what was given: field name -> new value (None clears it).
    changes: dict[str, str | int | None] = field(default_factory=dict)


def parse_client_set(tokens: list[Token]) -> ClientSet:
    words, options = split_options(tokens, ("owner", "channel", "shared", "cadence", "tz", "country"), strict=True)
    client = joined(words)
    if not client:
        raise UserError("Say which client to change.", field="client")
    if not options:
        raise UserError("Say what to change: owner, channel, shared, cadence, tz or country.")
    changes: dict[str, str | int | None] = {}
    if "owner" in options:
        changes["owner_user_id"] = optional(options["owner"], lambda v: parse_user(v, option="owner"))
    if "channel" in options:
        changes["internal_channel_id"] = optional(options["channel"], lambda v: parse_channel(v, option="channel"))
    if "shared" in options:
        changes["shared_channel_id"] = optional(options["shared"], lambda v: parse_channel(v, option="shared"))
    if "cadence" in options:
        changes["cadence_days"] = parse_cadence(options["cadence"])
    if "tz" in options:
        changes["timezone"] = optional(options["tz"], parse_timezone)
    if "country" in options:
        changes["country"] = optional(options["country"], parse_country)
    return ClientSet(client=client, changes=changes)


_OPTION_OF = {"owner_user_id": "owner", "internal_channel_id": "channel", "shared_channel_id": "shared",
              "cadence_days": "cadence", "timezone": "tz", "country": "country"}


def set_client(command: ClientSet, ctx: Context) -> Message:
    client = ctx.client(command.client)
    names = ", ".join(f"`{_OPTION_OF.get(name, name)}`" for name in command.changes)
    ctx.authorize(rule_for_client_changes(command.changes), client, f"change {client.name}'s {names}")
    ctx.require_internal(command.changes.get("internal_channel_id"), field="channel",  # type: ignore[arg-type]
                         what=f"{client.name}'s internal channel")
    changed = client_service.update_client(ctx.session, ctx.actor, client, command.changes)
    return replies.client_updated(client, changed)


def client_set_modal(metadata: dict[str, Any]) -> dict[str, Any]:
    return modal("client set", title="Change a client", submit="Save", metadata=metadata, blocks=[
        client_field(),
        context("Fill in only what changes."),
        user_field("owner", "New owner"),
        channel_field("channel", "New internal channel"),
        channel_field("shared", "New shared (Slack Connect) channel"),
        text_field("cadence", "New contact cadence", placeholder="14d or 2w", max_length=5),
        text_field("tz", "New time zone", placeholder="Europe/Berlin", max_length=64),
        text_field("country", "New country", placeholder="DE", max_length=2),
    ])


def read_client_set(values: FormValues) -> ClientSet:
    changes: dict[str, str | int | None] = {}
    for block_id, name, read in (("owner", "owner_user_id", fields.user_field),
                                 ("channel", "internal_channel_id", fields.channel_field),
                                 ("shared", "shared_channel_id", fields.channel_field)):
        value = read(values, block_id)
        if value:
            changes[name] = value
    cadence, tz, country = (fields.field_value(values, name) for name in ("cadence", "tz", "country"))
    if cadence:
        changes["cadence_days"] = parse_cadence(cadence)
    if tz:
        changes["timezone"] = parse_timezone(tz)
    if country:
        changes["country"] = parse_country(country)
    if not changes:
        raise UserError("Fill in at least one thing to change.", field="owner")
    return ClientSet(client=fields.required_field(values, "client", CHOOSE_CLIENT), changes=changes)


CLIENT_SET = Subcommand(
    name="client set",
    usage="/cmo client set <client> owner:@user | channel:#chan | shared:#slack-connect-chan | cadence:14d | "
          "tz:Europe/Berlin | country:DE",
    command=ClientSet, parse=parse_client_set, run=set_client, topic=TOPIC.key,
    form=Form(open=lambda ctx, request: client_set_modal(request.metadata), read=read_client_set,
              title="Change a client"),
)


# -- client archive --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ClientArchive:
    client: str


def archive_client(command: ClientArchive, ctx: Context) -> Message:
    client = ctx.client(command.client)
    ctx.authorize(Rule.MANAGERS, client, f"archive {client.name}")
    return replies.client_archived(client_service.archive_client(ctx.session, ctx.actor, client))


def client_archive_modal(metadata: dict[str, Any]) -> dict[str, Any]:
    return modal("client archive", title="Archive a client", submit="Archive", metadata=metadata, blocks=[
        client_field(),
        context("An archived client keeps its history and can no longer be logged against."),
    ])


CLIENT_ARCHIVE = Subcommand(
    name="client archive", usage="/cmo client archive <client>", command=ClientArchive,
    parse=lambda tokens: ClientArchive(client=joined(tokens)), run=archive_client, topic=TOPIC.key,
    form=Form(open=lambda ctx, request: client_archive_modal(request.metadata),
              read=lambda values: ClientArchive(client=fields.required_field(values, "client", CHOOSE_CLIENT)),
              title="Archive a client"),
)

SUBCOMMANDS = (CLIENT_ADD, CLIENT_LIST, CLIENT_SET, CLIENT_ARCHIVE)
TOPICS = (TOPIC,)
