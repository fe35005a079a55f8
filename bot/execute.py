"""Runs a parsed `/cmo` command: calls the services, renders the reply. Shared by the slash command,
the modals and the console, so that every surface does exactly the same thing."""

from __future__ import annotations

import datetime as dt
from functools import singledispatch
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.blocks import Message, replies
from bot.blocks.help import help_message
from bot.db.models import Client
from bot.errors import UserError
from bot.parsing.commands import (
    USAGE,
    ClientAdd,
    ClientArchive,
    ClientList,
    ClientSet,
    Command,
    Help,
    History,
    LogInteraction,
    NotYetAvailable,
    Status,
)
from bot.services import Actor, audit
from bot.services import clients as client_service
from bot.services import interactions as interaction_service
from bot.services import status as status_service


class Context:
    """What every command needs besides its own arguments."""

    def __init__(self, session: Session, actor: Actor, default_zone: ZoneInfo, *,
                 now: dt.datetime | None = None, permalink: str | None = None) -> None:
        self.session = session
        self.actor = actor
        self.default_zone = default_zone
        self.now = now or dt.datetime.now(dt.UTC)
        self.permalink = permalink

    def client(self, reference: str, *, allow_archived: bool = False) -> Client:
        return client_service.resolve_client(self.session, self.actor.team_id, reference,
                                             allow_archived=allow_archived)

    def today_for(self, client: Client) -> dt.date:
        return status_service.client_today(client, self.default_zone, self.now)


def execute(command: Command, ctx: Context) -> Message:
    """The reply to the command. Raises UserError (with the right form) on anything the user can fix."""
    try:
        return _run(command, ctx)
    except UserError as error:
        usage_key = USAGE_KEYS.get(type(command))
        raise (error.with_usage(USAGE[usage_key]) if usage_key else error) from None


USAGE_KEYS = {ClientAdd: "client add", ClientSet: "client set", ClientArchive: "client archive",
              LogInteraction: "log", Status: "status", History: "history"}


@singledispatch
def _run(command: Command, ctx: Context) -> Message:
    raise TypeError(f"no executor for {type(command).__name__}")


@_run.register
def _(command: Help, ctx: Context) -> Message:
    return help_message(command.topic, command.unknown)


@_run.register
def _(command: NotYetAvailable, ctx: Context) -> Message:
    return replies.not_yet_available(command.subcommand)


@_run.register
def _(command: ClientAdd, ctx: Context) -> Message:
    client = client_service.add_client(
        ctx.session, ctx.actor, command.name, key=command.key, owner_user_id=command.owner,
        internal_channel_id=command.channel, cadence_days=command.cadence_days, timezone=command.timezone,
    )
    return replies.client_added(client)


@_run.register
def _(command: ClientList, ctx: Context) -> Message:
    return replies.client_list(client_service.list_clients(ctx.session, ctx.actor.team_id))


@_run.register
def _(command: ClientSet, ctx: Context) -> Message:
    client = ctx.client(command.client)
    changed = client_service.update_client(ctx.session, ctx.actor, client, command.changes)
    return replies.client_updated(client, changed)


@_run.register
def _(command: ClientArchive, ctx: Context) -> Message:
    client = ctx.client(command.client)
    return replies.client_archived(client_service.archive_client(ctx.session, ctx.actor, client))


@_run.register
def _(command: LogInteraction, ctx: Context) -> Message:
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
        permalink=ctx.permalink,
    )
    return replies.interaction_logged(client, interaction, today)


@_run.register
def _(command: Status, ctx: Context) -> Message:
    if command.client is not None:
        client = ctx.client(command.client)
        return replies.status(status_service.client_status(ctx.session, client, ctx.default_zone, ctx.now))
    owner = ctx.actor.user_id if command.mine else None
    rows = status_service.portfolio(ctx.session, ctx.actor.team_id, ctx.default_zone, owner_user_id=owner,
                                    now=ctx.now)
    if command.mine:
        return replies.portfolio(rows, title="My clients",
                                 empty="You own no clients. `/cmo status` shows everyone's.")
    return replies.portfolio(rows, title="Portfolio health",
                             empty="No clients yet. Add one with `/cmo client add <name>`.")


@_run.register
def _(command: History, ctx: Context) -> Message:
    client = ctx.client(command.client, allow_archived=True)
    events = audit.client_history(ctx.session, ctx.actor.team_id, client.id)
    return replies.history(client, events, status_service.client_zone(client, ctx.default_zone))



def open_form(name: str, ctx: Context, metadata: dict, *, summary: str | None = None,
              channel_id: str | None = None) -> dict:
    """The modal for a subcommand typed without arguments (or the message shortcut)."""
    from bot.blocks import modals

    if name == "client add":
        return modals.client_add_modal(metadata)
    clients = client_service.list_clients(ctx.session, ctx.actor.team_id)
    if not clients:
        raise UserError("There are no clients yet. Add one first: `/cmo client add <name>`.",
                        usage=USAGE["client add"])
    if name == "client set":
        return modals.client_set_modal(clients, metadata)
    if name == "client archive":
        return modals.client_archive_modal(clients, metadata)
    if name == "history":
        return modals.history_modal(clients, metadata)
    if name == "log":
        # A message from a client's own channel most likely concerns that client.
        selected = next((c for c in clients if channel_id and channel_id in
                         (c.internal_channel_id, c.shared_channel_id)), None)
        today = (ctx.now.astimezone(status_service.client_zone(selected, ctx.default_zone)).date() if selected
                 else ctx.now.astimezone(ctx.default_zone).date())
        return modals.log_modal(clients, metadata, today=today, summary=summary, selected=selected)
    raise ValueError(f"no form for {name!r}")
