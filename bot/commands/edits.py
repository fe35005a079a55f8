"""`/cmo edit #<id> <field>:<value> reason:"<why>"`: correct a schedule change (`#12`, as it is shown) or an
interaction (`#i12`, as history shows it). A reason is required; the previous version is kept in the
audit trail and `/cmo history <client>` shows old and new."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slack_sdk.models.blocks import Option, StaticSelectElement

from bot.blocks import Message
from bot.blocks import text as t
from bot.blocks.forms import field, modal, text_field
from bot.blocks.ids import ActionId
from bot.blocks.layout import context, section
from bot.blocks.replies import edit_line
from bot.commands.context import Context
from bot.commands.registry import Form, FormRequest, FormValues, HelpTopic, Subcommand
from bot.db.models import Client
from bot.errors import UserError
from bot.parsing import fields
from bot.parsing.dates import parse_date
from bot.parsing.grammar import parse_record_id, split_options
from bot.parsing.tokens import Token
from bot.services import changes as change_service
from bot.services import edits as edit_service

USAGE = '/cmo edit #<id> <field>:<value> reason:"<why>"'
# option -> the record's field; dates are typed as dates, "none" clears an optional field.
CHANGE_FIELDS = {"item": "item", "project": "project", "from": "old_date", "to": "new_date", "cause": "reason"}
INTERACTION_FIELDS = {"kind": "kind", "summary": "summary", "on": "occurred_on", "with": "contact_name",
                      "next": "next_contact_on"}
DATE_OPTIONS = {"from", "to", "on", "next"}
CLEARABLE = {"project", "from", "with", "next"}

TOPIC = HelpTopic("edit", "Editing a record", (
    "Correct a schedule change (`#12`, its id as shown) or an interaction (`#i12`, its id as `/cmo history` "
    "shows it). A reason is required; the previous version is kept: `/cmo history <client>` shows old and new.",
    "Schedule change fields: `item:`, `project:`, `from:` (planned date), `to:` (new date), `cause:` (the "
    "change's own reason). Interaction fields: `kind:`, `summary:`, `on:`, `with:`, `next:`. "
    "`none` clears `project:`, `from:`, `with:` or `next:`.",
    'Example: `/cmo edit #12 to:2026-12-08 reason:"Typo: the 8th, not the 4th"` · '
    '`/cmo edit #i7 summary:"Call about the tech transfer" reason:"Wrong summary"`',
))


@dataclass(frozen=True)
class Edit:
    kind: str  # "change" or "interaction"
    record_id: int
    values: tuple[tuple[str, str], ...]  # option -> typed value
    reason: str


def parse_edit(tokens: list[Token]) -> Edit:
    options_allowed = ("reason", *CHANGE_FIELDS, *INTERACTION_FIELDS)
    words, options = split_options(tokens, options_allowed, strict=True)
    if len(words) != 1:
        raise UserError("Say which record to edit: a schedule change by its id, like `#12`, or an interaction "
                        "like `#i12`.", field="record")
    return build_edit(words[0].value, options)


def build_edit(reference: str, options: dict[str, str]) -> Edit:
    """The edit of the record `reference` (`#12`, `#i7`) with these `field: value` options and `reason`."""
    options = dict(options)
    reference = reference.strip()
    bare = reference.removeprefix("#")
    if bare[:1].lower() == "i":
        kind, allowed = "interaction", INTERACTION_FIELDS
        record_id = parse_record_id(bare[1:], noun="an interaction",
                                    missing=edit_service.INTERACTION_MISSING, field="record")
    else:
        kind, allowed = "change", CHANGE_FIELDS
        record_id = parse_record_id(reference, noun="a change", missing=change_service.CHANGE_MISSING,
                                    field="record")
    reason = options.pop("reason", "")
    if not reason.strip():
        raise UserError('A reason is required: an edit never rewrites a record unexplained. Add reason:"<why>".',
                        field="reason")
    wrong = [name for name in options if name not in allowed]
    if wrong:
        raise UserError(f"`{wrong[0]}:` is not a field of {'an interaction' if kind == 'interaction' else 'a change'}"
                        "; the fields are " + ", ".join(f"`{name}:`" for name in allowed) + ".", field=wrong[0])
    if not options:
        raise UserError("Say what to change, like `to:2026-12-08`: the fields are "
                        + ", ".join(f"`{name}:`" for name in allowed) + ".", field="field")
    for name, value in options.items():
        if name in DATE_OPTIONS and not (name in CLEARABLE and value.lower() == "none"):
            parse_date(value, option=name)  # refused here, before anything is read
    return Edit(kind=kind, record_id=record_id, values=tuple(options.items()), reason=reason)


def _values(command: Edit, ctx: Context, client: Client) -> dict[str, Any]:
    fields = CHANGE_FIELDS if command.kind == "change" else INTERACTION_FIELDS
    today = ctx.today_for(client)
    values: dict[str, Any] = {}
    for name, value in command.values:
        if name in CLEARABLE and value.lower() == "none":
            values[fields[name]] = None
        elif name in DATE_OPTIONS:
            values[fields[name]] = parse_date(value, option=name).resolve(today, past=name == "on")
        elif name == "kind":
            values[fields[name]] = value.lower()
        else:
            values[fields[name]] = value
    return values


def run_edit(command: Edit, ctx: Context) -> Message:
    if command.kind == "change":
        record = change_service.get_change(ctx.session, ctx.actor.team_id, command.record_id)
        client = ctx.session.get(Client, record.client_id)
        changed = edit_service.edit_change(ctx.session, ctx.actor, record, _values(command, ctx, client),
                                           command.reason)
        what = f"schedule change #{record.id}"
    else:
        record = edit_service.get_interaction(ctx.session, ctx.actor.team_id, command.record_id)
        client = ctx.session.get(Client, record.client_id)
        changed = edit_service.edit_interaction(ctx.session, ctx.actor, record, _values(command, ctx, client),
                                                command.reason, ctx.today_for(client))
        what = f"interaction #i{record.id}"
    line = edit_line({name: old for name, (old, _) in changed.items()},
                     {name: new for name, (_, new) in changed.items()})
    title = f"Edited {what} of {client.name}"
    return Message(text=title, blocks=[
        section(f":pencil2: Edited {what} of *{t.user_text(client.name, 200)}*: {line}\n"
                f"Reason: {t.user_text(command.reason, 500)}"),
        context(t.escape(f"The previous version is kept: /cmo history {client.key}")),
    ])


FIELD_CHOICES = (("to", "Schedule change: new date"), ("from", "Schedule change: planned date"),
                 ("item", "Schedule change: item"), ("project", "Schedule change: project"),
                 ("cause", "Schedule change: its reason"), ("summary", "Interaction: summary"),
                 ("kind", "Interaction: kind"), ("on", "Interaction: date"), ("with", "Interaction: with"),
                 ("next", "Interaction: next contact"))


def edit_modal(ctx: Context, request: FormRequest) -> dict[str, Any]:
    options = [Option(value=value, text=label) for value, label in FIELD_CHOICES]
    return modal("edit", title="Edit a record", submit="Edit", metadata=request.metadata, blocks=[
        text_field("record", "Record", optional=False, initial=request.record, max_length=20,
                   placeholder="#12 (a schedule change) or #i7 (an interaction)"),
        field("field", "What to change", StaticSelectElement(action_id=ActionId.VALUE, options=options,
                                                            placeholder="Choose")),
        text_field("value", "New value", optional=False, multiline=True, max_length=3000,
                   hint="Dates as 2026-12-08, tomorrow, fri or +3d; none clears an optional field."),
        text_field("reason", "Why (required)", optional=False, multiline=True, max_length=2000,
                   placeholder="The previous version is kept, with this reason."),
    ])


def read_edit(values: FormValues) -> Edit:
    chosen = fields.required_field(values, "field", "Choose what to change.")
    if chosen not in dict(FIELD_CHOICES):
        raise UserError("Choose what to change from the list.", field="field")
    options = {chosen: fields.required_field(values, "value", "Give the new value."),
               "reason": fields.required_field(values, "reason", "A reason is required.")}
    try:
        return build_edit(fields.required_field(values, "record", "Say which record: #12 or #i7."), options)
    except UserError as error:  # a field's error belongs under the one input that holds the value
        if error.field not in ("record", "reason"):
            raise UserError(error.message, field="field" if error.field == "field" else "value") from None
        raise


EDIT = Subcommand(name="edit", usage=USAGE, command=Edit, parse=parse_edit, run=run_edit, topic=TOPIC.key,
                  form=Form(open=edit_modal, read=read_edit, title="Edit a record", needs_clients=True))
SUBCOMMANDS = (EDIT,)
TOPICS = (TOPIC,)
