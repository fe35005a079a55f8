"""Runs a parsed `/cmo` command: calls the services, renders the reply. Shared by the slash command,
the modals and the console, so that every surface does exactly the same thing."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import singledispatch
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.blocks import Message, replies
from bot.blocks import changes as change_blocks
from bot.blocks.help import help_message
from bot.db.models import Client, ScheduleChange
from bot.errors import UserError
from bot.parsing.commands import (
    USAGE,
    Changes,
    ClientAdd,
    ClientArchive,
    ClientList,
    ClientSet,
    Command,
    Delay,
    Help,
    History,
    LogInteraction,
    NotYetAvailable,
    Status,
    Told,
)
from bot.services import Actor, audit, outbox
from bot.services import changes as change_service
from bot.services import clients as client_service
from bot.services import interactions as interaction_service
from bot.services import status as status_service


@dataclass(frozen=True)
class SourceMessage:
    channel_id: str
    message_ts: str


@dataclass(frozen=True)
class LinkWanted:
    interaction_id: int
    message: SourceMessage


class Context:
    """What every command needs besides its own arguments."""

    def __init__(self, session: Session, actor: Actor, default_zone: ZoneInfo, *,
                 now: dt.datetime | None = None, source_message: SourceMessage | None = None) -> None:
        self.session = session
        self.actor = actor
        self.default_zone = default_zone
        self.now = now or dt.datetime.now(dt.UTC)
        self.source_message = source_message  # the Slack message being logged (message shortcut)
        self.links_wanted: list[LinkWanted] = []  # interactions whose message link is fetched after the answer

    def client(self, reference: str, *, allow_archived: bool = False) -> Client:
        return client_service.resolve_client(self.session, self.actor.team_id, reference,
                                             allow_archived=allow_archived)

    def today_for(self, client: Client) -> dt.date:
        return status_service.client_today(client, self.default_zone, self.now)

    def post(self, client: Client, dedupe_key: str, message: Message, source: str) -> bool:
        """Queue a post to the client's internal channel (none set: nothing is queued)."""
        if not client.internal_channel_id:
            return False
        return outbox.enqueue(self.session, team_id=self.actor.team_id, dedupe_key=dedupe_key,
                              channel_id=client.internal_channel_id, message=message, source=source)


def execute(command: Command, ctx: Context) -> Message:
    """The reply to the command. Raises UserError (with the right form) on anything the user can fix."""
    try:
        return _run(command, ctx)
    except UserError as error:
        usage_key = USAGE_KEYS.get(type(command))
        raise (error.with_usage(USAGE[usage_key]) if usage_key else error) from None


USAGE_KEYS = {ClientAdd: "client add", ClientSet: "client set", ClientArchive: "client archive",
              LogInteraction: "log", Status: "status", History: "history", Delay: "delay", Told: "told",
              Changes: "changes"}


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
    )
    if ctx.source_message:
        ctx.session.flush()
        ctx.links_wanted.append(LinkWanted(interaction.id, ctx.source_message))
    return replies.interaction_logged(client, interaction, today)


@_run.register
def _(command: Delay, ctx: Context) -> Message:
    client = ctx.client(command.client)
    today = ctx.today_for(client)
    change = change_service.record_change(
        ctx.session, ctx.actor, client, item=command.item, new_date=command.to.resolve(today),
        old_date=command.old.resolve(today) if command.old else None, reason=command.reason,
        project=command.project, today=today)
    history = change_service.slip_history(ctx.session, client, change)
    ctx.post(client, f"change:{change.id}:announce", change_blocks.announcement(change, client, history),
             "schedule-change")
    return change_blocks.change_recorded(change, client, history)


@_run.register
def _(command: Told, ctx: Context) -> Message:
    change, client = mark_change_told(ctx, command.change_id, how=command.how)
    return change_blocks.told_recorded(change, client)


def change_to_tell(ctx: Context, change_id: int) -> tuple[ScheduleChange, Client]:
    """An open change and its client (a UserError if unknown or already told)."""
    change = change_service.get_change(ctx.session, ctx.actor.team_id, change_id)
    change_service.check_open(change)
    return change, ctx.session.get(Client, change.client_id)


def mark_change_told(ctx: Context, change_id: int, *, how: str | None = None, text: str | None = None,
                     notify: bool = True) -> tuple[ScheduleChange, Client]:
    """Mark told and close the loop in the internal channel (shared by /cmo told, the button, the draft).

    `notify=False` when the announcement itself is updated in place instead (the button)."""
    change, client = change_to_tell(ctx, change_id)
    change_service.mark_told(ctx.session, ctx.actor, change, how=how, text=text)
    # A follow-up queued but not posted yet no longer applies.
    outbox.cancel_pending(ctx.session, ctx.actor.team_id, list(change_service.followup_keys(change.id)))
    if notify:
        ctx.post(client, f"change:{change.id}:told", change_blocks.told_notice(change, client), "schedule-change")
    return change, client


def send_to_client(ctx: Context, change_id: int, text: str) -> tuple[ScheduleChange, Client]:
    """The owner's message to the client: marked told with exactly this text, and queued for the client's
    shared channel in the same transaction (the outbox posts it once, even if Slack is slow or down).
    Without a shared channel the text is recorded, to be sent some other way."""
    change, client = change_to_tell(ctx, change_id)
    if not client.shared_channel_id:
        mark_change_told(ctx, change.id, how="drafted in Rapport; to be sent outside Slack", text=text)
        return change, client
    mark_change_told(ctx, change.id, how="message sent to the client's shared channel", text=text)
    outbox.enqueue(ctx.session, team_id=ctx.actor.team_id, dedupe_key=change_service.client_message_key(change),
                   channel_id=client.shared_channel_id, message=Message(text=text), source=outbox.CLIENT_MESSAGE)
    return change, client


@_run.register
def _(command: Changes, ctx: Context) -> Message:
    client = ctx.client(command.client, allow_archived=True) if command.client else None
    changes = change_service.list_changes(ctx.session, ctx.actor.team_id, client=client,
                                          open_only=command.open_only)
    clients = {c.id: c for c in client_service.list_clients(ctx.session, ctx.actor.team_id,
                                                             include_archived=True)}
    scope = client.name if client else "All clients"
    title = f"{scope}: {'open ' if command.open_only else ''}schedule changes"
    return change_blocks.changes_list(changes, clients, title=title, one_client=client is not None)


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
    if not client_service.has_clients(ctx.session, ctx.actor.team_id):
        raise UserError("There are no clients yet. Add one first: `/cmo client add <name>`.",
                        usage=USAGE["client add"])
    if name == "client set":
        return modals.client_set_modal(metadata)
    if name == "client archive":
        return modals.client_archive_modal(metadata)
    if name == "history":
        return modals.history_modal(metadata)
    if name == "delay":
        return modals.delay_modal(metadata)
    if name == "told":
        untold = [c for changes in change_service.open_changes_by_client(ctx.session, ctx.actor.team_id).values()
                  for c in changes]
        if not untold:
            raise UserError("Every schedule change has been told to its client: nothing is open.",
                            usage=USAGE["told"])
        everyone = client_service.list_clients(ctx.session, ctx.actor.team_id, include_archived=True)
        return modals.told_modal(sorted(untold, key=lambda c: c.id), {c.id: c for c in everyone}, metadata)
    if name == "log":
        # A message from a client's own channel most likely concerns that client.
        selected = client_service.client_of_channel(ctx.session, ctx.actor.team_id, channel_id) if channel_id else None
        today = ctx.today_for(selected) if selected else ctx.now.astimezone(ctx.default_zone).date()
        return modals.log_modal(metadata, today=today, summary=summary, selected=selected)
    raise ValueError(f"no form for {name!r}")
