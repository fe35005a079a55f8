"""Schedule changes: `/cmo delay`, `/cmo told`, `/cmo changes`, and what the buttons on an announcement
and the message to the client do with a change."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slack_sdk.models.blocks import InputBlock, Option, StaticSelectElement

from bot.blocks import Message
from bot.blocks import changes as change_blocks
from bot.blocks import text as t
from bot.blocks.forms import client_field, date_field, modal, text_field
from bot.blocks.ids import ActionId
from bot.commands.context import Context
from bot.commands.registry import Form, FormRequest, FormValues, HelpTopic, Subcommand
from bot.db.models import Client, ScheduleChange
from bot.errors import UserError
from bot.parsing import fields
from bot.parsing.dates import DateSpec, parse_date
from bot.parsing.grammar import joined, parse_record_id, split_options
from bot.parsing.tokens import Token
from bot.services import changes as change_service
from bot.services import clients as client_service
from bot.services import lessons as lesson_service
from bot.services import outbox

TOPIC = HelpTopic("delay", "Schedule changes", (
    "Every change of date for a batch, a lot or a milestone — later or earlier — is logged with its reason "
    "and announced at once in the client's internal channel, with the slip and the item's earlier slips.",
    "It stays open until someone records that the client was told: `/cmo told #12`, or the buttons on the "
    "announcement. *Draft message to client* writes a client-facing text (item, new date, reason) that the "
    "owner edits; sending it posts it to the client's shared channel and marks the change told.",
    "Not told within the disclosure window (RAPPORT_DISCLOSURE_HOURS business hours, default 4): the "
    "owner is nudged; after one business day the managers are told.",
    "Example: `/cmo delay acme Lot 42 fill to:2026-12-04 from:2026-12-01 reason:\"Filter integrity test "
    "failed\"`",
), aliases=("change",))


def parse_change_id(text: str) -> int:
    return parse_record_id(text, noun="a change", missing=change_service.CHANGE_MISSING, field="change")


# -- delay -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Delay:
    client: str
    item: str
    to: DateSpec
    reason: str
    old: DateSpec | None = None
    project: str | None = None


def parse_delay(tokens: list[Token]) -> Delay:
    words, options = split_options(tokens, ("to", "from", "reason", "project"), strict=False)
    if not words:
        raise UserError("Give the client, the item that moves and its new date.")
    client, item_words = words[0], words[1:]
    if not item_words:
        raise UserError("Say what moves: a batch, a lot or a milestone, like `Lot 42 fill`.", field="item")
    if "to" not in options:
        raise UserError("Give the new date with `to:`.", field="to")
    reason = options.get("reason", "").strip()
    if not reason:
        raise UserError('A reason is required: a schedule change is never logged unexplained. Add reason:"<why>".',
                        field="reason")
    item = " ".join(word.value for word in item_words)
    if len(item) > 300:
        raise UserError("The item can be at most 300 characters.", field="item")
    return Delay(
        client=client.value,
        item=item,
        to=parse_date(options["to"], option="to"),
        old=parse_date(options["from"], option="from") if "from" in options else None,
        reason=reason,
        project=options.get("project"),
    )


def record_delay(command: Delay, ctx: Context) -> Message:
    client = ctx.client(command.client)
    today = ctx.today_for(client)
    change = change_service.record_change(
        ctx.session, ctx.actor, client, item=command.item, new_date=command.to.resolve(today),
        old_date=command.old.resolve(today) if command.old else None, reason=command.reason,
        project=command.project, today=today)
    history = change_service.slip_history(ctx.session, client, change)
    ctx.post(client, f"change:{change.id}:announce", change_blocks.announcement(change, client, history),
             "schedule-change")
    # Only the person logging it sees what was learned before (the announcement stays as it is).
    before = lesson_service.lessons_before(ctx.session, client, change)
    return change_blocks.change_recorded(change, client, history, before)


def delay_modal(metadata: dict[str, Any]) -> dict[str, Any]:
    return modal("delay", title="Schedule change", submit="Record", metadata=metadata, blocks=[
        client_field(),
        text_field("item", "What moves", optional=False, placeholder="Lot 42 fill", max_length=300),
        text_field("project", "Project", placeholder="optional", max_length=200),
        date_field("from", "Planned date", placeholder="The planned date",
                   hint="Leave empty to use the item's last recorded date."),
        date_field("to", "New date", optional=False, placeholder="The new date"),
        text_field("reason", "Reason (required)", optional=False, multiline=True, max_length=2000,
                   placeholder="Why it moves: the client will ask."),
    ])


def read_delay(values: FormValues) -> Delay:
    old = fields.field_value(values, "from")
    return Delay(
        client=fields.required_field(values, "client", "Choose a client."),
        item=fields.required_field(values, "item", "Say what moves: a batch, a lot or a milestone."),
        to=parse_date(fields.required_field(values, "to", "Pick the new date."), option="to"),
        old=parse_date(old, option="from") if old else None,
        reason=fields.required_field(values, "reason", "A reason is required: a schedule change is never logged "
                                                       "unexplained."),
        project=fields.field_value(values, "project"),
    )


DELAY = Subcommand(
    name="delay", usage='/cmo delay <client> <item ...> to:<date> [from:<date>] reason:"<why>" [project:<name>]',
    command=Delay, parse=parse_delay, run=record_delay, topic=TOPIC.key,
    form=Form(open=lambda ctx, request: delay_modal(request.metadata), read=read_delay, title="Schedule change"),
)


# -- told ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Told:
    change_id: int
    how: str | None = None


def parse_told(tokens: list[Token]) -> Told:
    words, options = split_options(tokens, ("how",), strict=True)
    if len(words) != 1:
        raise UserError("Say which change the client was told about, by its id, like `#12`.", field="change")
    return Told(change_id=parse_change_id(words[0].value), how=options.get("how"))


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


def record_told(command: Told, ctx: Context) -> Message:
    change, client = mark_change_told(ctx, command.change_id, how=command.how)
    return change_blocks.told_recorded(change, client)


def told_modal(changes: list[ScheduleChange], clients: dict[int, Client], metadata: dict[str, Any]) -> dict[str, Any]:
    options = [Option(value=str(c.id), text=t.plain(
        f"#{c.id} {clients[c.client_id].name}: {c.item} → {c.new_date:%Y-%m-%d}", 75)) for c in changes[:100]]
    return modal("told", title="Client told", submit="Mark told", metadata=metadata, blocks=[
        InputBlock(block_id="change", label="Which change", element=StaticSelectElement(
            action_id=ActionId.VALUE, placeholder="An open schedule change", options=options)),
        text_field("how", "How the client was told", placeholder="Call with Dr. Roe", max_length=500),
    ])


def open_told_form(ctx: Context, request: FormRequest) -> dict[str, Any]:
    untold = [c for changes in change_service.open_changes_by_client(ctx.session, ctx.actor.team_id).values()
              for c in changes]
    if not untold:
        raise UserError("Every schedule change has been told to its client: nothing is open.")
    everyone = client_service.list_clients(ctx.session, ctx.actor.team_id, include_archived=True)
    return told_modal(sorted(untold, key=lambda c: c.id), {c.id: c for c in everyone}, request.metadata)


def read_told(values: FormValues) -> Told:
    return Told(change_id=parse_change_id(fields.required_field(values, "change", "Choose the change.")),
                how=fields.field_value(values, "how"))


TOLD = Subcommand(
    name="told", usage='/cmo told #<id> [how:"<how the client was told>"]',
    command=Told, parse=parse_told, run=record_told, topic=TOPIC.key,
    form=Form(open=open_told_form, read=read_told, title="Client told"),
)


# -- changes ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Changes:
    client: str | None = None
    open_only: bool = False


def parse_changes(tokens: list[Token]) -> Changes:
    open_only = bool(tokens) and tokens[-1].value.lower() == "open" and not tokens[-1].quoted
    words = tokens[:-1] if open_only else tokens
    return Changes(client=joined(words) or None, open_only=open_only)


def list_changes(command: Changes, ctx: Context) -> Message:
    client = ctx.client(command.client, allow_archived=True) if command.client else None
    changes = change_service.list_changes(ctx.session, ctx.actor.team_id, client=client,
                                          open_only=command.open_only)
    clients = {c.id: c for c in client_service.list_clients(ctx.session, ctx.actor.team_id,
                                                             include_archived=True)}
    scope = client.name if client else "All clients"
    title = f"{scope}: {'open ' if command.open_only else ''}schedule changes"
    return change_blocks.changes_list(changes, clients, title=title, one_client=client is not None)


CHANGES = Subcommand(name="changes", reads_only=True, usage="/cmo changes [<client>] [open]", command=Changes,
                     parse=parse_changes, run=list_changes, topic=TOPIC.key)

SUBCOMMANDS = (DELAY, TOLD, CHANGES)
TOPICS = (TOPIC,)
