"""Promises: `/cmo promise`, `/cmo promise move`, `/cmo promises`, `/cmo done`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slack_sdk.models.blocks import InputBlock, Option, StaticSelectElement

from bot.blocks import Message
from bot.blocks import promises as promise_blocks
from bot.blocks import text as t
from bot.blocks.forms import client_field, date_field, modal, text_field, user_field
from bot.blocks.ids import ActionId
from bot.commands.context import Context
from bot.commands.registry import Form, FormRequest, FormValues, HelpTopic, Subcommand
from bot.db.models import Client, Promise
from bot.errors import UserError
from bot.parsing import fields
from bot.parsing.dates import DateSpec, parse_date
from bot.parsing.grammar import joined, parse_record_id, split_options
from bot.parsing.tokens import Token, parse_user
from bot.services import clients as client_service
from bot.services import promises as promise_service

TOPIC = HelpTopic("promise", "Promises", (
    "What we committed to the client, by a date, and who keeps it (`owner:`, else whoever records it). "
    "It stays open until someone marks it done: `/cmo done #12`, or the *Done* button on its reminders.",
    "The owner is reminded in the client's internal channel the business day before it is due, nudged once "
    "it is overdue, and after more than 2 business days overdue the managers are told. An overdue promise "
    "makes the client amber (red after a week).",
    "A due date that moves is recorded with its reason, like a schedule change: "
    '`/cmo promise move #12 to:fri reason:"QC release slipped"`.',
    "`/cmo promises` lists the open ones, overdue first; `mine` (you own them), `overdue` (all clients) or a "
    "client narrows it.",
    'Example: `/cmo promise acme "Send the CoA for lot 42" due:fri owner:@ana`',
), aliases=("promises", "done"))

ADD_USAGE = '/cmo promise <client> "<what was promised>" due:<date> [owner:@user]'


def parse_promise_id(text: str) -> int:
    return parse_record_id(text, noun="a promise", missing=promise_service.PROMISE_MISSING, field="promise")


def _today_for_client_of(ctx: Context, promise: Promise) -> tuple[Client, Any]:
    client = ctx.session.get(Client, promise.client_id)
    return client, ctx.today_for(client)


# -- promise (add) ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class AddPromise:
    client: str
    what: str
    due: DateSpec
    owner: str | None = None


def parse_add(tokens: list[Token]) -> AddPromise:
    words, options = split_options(tokens, ("due", "owner"), strict=True)
    if not words:
        raise UserError("Give the client, what was promised (in quotes) and `due:`.")
    what = joined(words[1:])
    if not what:
        raise UserError('Say what was promised, in quotes: "Send the CoA for lot 42".', field="what")
    if len(what) > promise_service.MAX_WHAT:
        raise UserError(f"What was promised is {len(what):,} characters; keep it under {promise_service.MAX_WHAT}.",
                        field="what")
    if "due" not in options:
        raise UserError("Say by when with `due:`, like `due:fri` or `due:2026-12-18`.", field="due")
    return AddPromise(client=words[0].value, what=what, due=parse_date(options["due"], option="due"),
                      owner=parse_user(options["owner"], option="owner") if "owner" in options else None)


def record_promise(command: AddPromise, ctx: Context) -> Message:
    client = ctx.client(command.client)
    promise = promise_service.add_promise(ctx.session, ctx.actor, client, what=command.what,
                                          due_on=command.due.resolve(ctx.today_for(client)),
                                          today=ctx.today_for(client), owner_user_id=command.owner)
    return promise_blocks.promise_recorded(promise, client)


def promise_modal(metadata: dict[str, Any], client: Client | None) -> dict[str, Any]:
    return modal("promise", title="Promise", submit="Record", metadata=metadata, blocks=[
        client_field(client),
        text_field("what", "What was promised", optional=False, multiline=True,
                   max_length=promise_service.MAX_WHAT, placeholder="Send the CoA for lot 42"),
        date_field("due", "Due", optional=False, placeholder="The date it is due"),
        user_field("owner", "Owner", hint="Who keeps it; leave empty for yourself."),
    ])


def open_promise_form(ctx: Context, request: FormRequest) -> dict[str, Any]:
    client = (client_service.get_client(ctx.session, ctx.actor.team_id, request.client_id)
              if request.client_id is not None else None)
    return promise_modal(request.metadata, client)


def read_promise(values: FormValues) -> AddPromise:
    return AddPromise(
        client=fields.required_field(values, "client", "Choose a client."),
        what=fields.required_field(values, "what", "Say what was promised."),
        due=parse_date(fields.required_field(values, "due", "Pick the date it is due."), option="due"),
        owner=fields.user_field(values, "owner"),
    )


PROMISE = Subcommand(
    name="promise", usage=ADD_USAGE, command=AddPromise, parse=parse_add, run=record_promise, topic=TOPIC.key,
    form=Form(open=open_promise_form, read=read_promise, title="Promise"),
)


# -- promise move ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class MovePromise:
    promise_id: int
    to: DateSpec
    reason: str


def parse_move(tokens: list[Token]) -> MovePromise:
    words, options = split_options(tokens, ("to", "reason"), strict=True)
    if len(words) != 1:
        raise UserError("Say which promise moves, by its id, like `#12`.", field="promise")
    promise_id = parse_promise_id(words[0].value)
    if "to" not in options:
        raise UserError("Give the new due date with `to:`.", field="to")
    if not options.get("reason", "").strip():
        raise UserError('A reason is required: a promise never moves unexplained. Add reason:"<why>".',
                        field="reason")
    return MovePromise(promise_id=promise_id, to=parse_date(options["to"], option="to"), reason=options["reason"])


def move_promise(command: MovePromise, ctx: Context) -> Message:
    promise = promise_service.get_promise(ctx.session, ctx.actor.team_id, command.promise_id)
    client, today = _today_for_client_of(ctx, promise)
    move = promise_service.move_promise(ctx.session, ctx.actor, promise, new_due_on=command.to.resolve(today),
                                        reason=command.reason, today=today)
    moves = promise_service.moves_of(ctx.session, [promise.id]).get(promise.id, [])
    return promise_blocks.moved_recorded(promise, client, move, moves)


PROMISE_MOVE = Subcommand(
    name="promise move", usage='/cmo promise move #<id> to:<date> reason:"<why>"', command=MovePromise,
    parse=parse_move, run=move_promise, topic=TOPIC.key,
)


# -- done ------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DonePromise:
    promise_id: int
    note: str | None = None


def parse_done(tokens: list[Token]) -> DonePromise:
    words, options = split_options(tokens, ("note",), strict=True)
    if len(words) != 1:
        raise UserError("Say which promise is done, by its id, like `#12`.", field="promise")
    return DonePromise(promise_id=parse_promise_id(words[0].value), note=options.get("note"))


def mark_promise_done(ctx: Context, promise_id: int, note: str | None = None) -> tuple[Promise, Client]:
    """Mark done (its queued reminders are withdrawn); shared by /cmo done, its form and the Done button."""
    promise = promise_service.get_promise(ctx.session, ctx.actor.team_id, promise_id)
    promise_service.mark_done(ctx.session, ctx.actor, promise, note=note)
    return promise, ctx.session.get(Client, promise.client_id)


def record_done(command: DonePromise, ctx: Context) -> Message:
    promise, client = mark_promise_done(ctx, command.promise_id, command.note)
    return promise_blocks.done_recorded(promise, client)


def open_done_form(ctx: Context, request: FormRequest) -> dict[str, Any]:
    open_promises = promise_service.list_promises(ctx.session, ctx.actor.team_id)
    if not open_promises:
        raise UserError("No promise is open: nothing to mark done.")
    clients = {c.id: c for c in client_service.list_clients(ctx.session, ctx.actor.team_id, include_archived=True)}
    options = [Option(value=str(p.id), text=t.plain(
        f"#{p.id} {clients[p.client_id].name}: {p.what} (due {p.due_on:%Y-%m-%d})", 75)) for p in open_promises[:100]]
    return modal("done", title="Promise kept", submit="Mark done", metadata=request.metadata, blocks=[
        InputBlock(block_id="promise", label="Which promise", element=StaticSelectElement(
            action_id=ActionId.VALUE, placeholder="An open promise", options=options)),
        text_field("note", "Note", placeholder="Sent by email to Dr. Roe", max_length=promise_service.MAX_NOTE),
    ])


def read_done(values: FormValues) -> DonePromise:
    return DonePromise(promise_id=parse_promise_id(fields.required_field(values, "promise", "Choose the promise.")),
                       note=fields.field_value(values, "note"))


DONE = Subcommand(
    name="done", usage='/cmo done #<id> [note:"<note>"]', command=DonePromise, parse=parse_done, run=record_done,
    topic=TOPIC.key, form=Form(open=open_done_form, read=read_done, title="Promise kept"),
)


# -- promises --------------------------------------------------------------------------------------------------

MINE, OVERDUE = "mine", "overdue"


@dataclass(frozen=True)
class ListPromises:
    client: str | None = None
    mine: bool = False
    overdue: bool = False


def parse_list(tokens: list[Token]) -> ListPromises:
    if len(tokens) == 1 and not tokens[0].quoted and tokens[0].value.lower() in (MINE, OVERDUE):
        word = tokens[0].value.lower()
        return ListPromises(mine=word == MINE, overdue=word == OVERDUE)
    return ListPromises(client=joined(tokens) or None)


def list_promises(command: ListPromises, ctx: Context) -> Message:
    client = ctx.client(command.client, allow_archived=True) if command.client else None
    clients = {c.id: c for c in client_service.list_clients(ctx.session, ctx.actor.team_id, include_archived=True)}
    todays = {c.id: ctx.today_for(c) for c in clients.values()}
    # Overdue: due before the latest "today" of any zone in the database; each client's own today below.
    promises = promise_service.list_promises(
        ctx.session, ctx.actor.team_id, client_id=client.id if client else None,
        owner_user_id=ctx.actor.user_id if command.mine else None,
        due_before=max(todays.values()) if command.overdue and todays else None)
    if command.overdue:
        promises = [p for p in promises if p.due_on < todays[p.client_id]]
    which = "overdue" if command.overdue else "open"
    title = (f"{client.name}: {which} promises" if client else f"My {which} promises" if command.mine
             else f"All clients: {which} promises")
    moves = promise_service.moves_of(ctx.session, [p.id for p in promises])
    return promise_blocks.promises_list(promises, clients, todays, moves, title=title, one_client=client is not None)


PROMISES = Subcommand(name="promises", usage="/cmo promises [<client>|mine|overdue]",
                      reads_only=True, command=ListPromises,
                      parse=parse_list, run=list_promises, topic=TOPIC.key, takes_no_arguments=True)

SUBCOMMANDS = (PROMISE, PROMISE_MOVE, PROMISES, DONE)
TOPICS = (TOPIC,)
