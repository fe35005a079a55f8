"""Lessons learned: `/cmo lesson <client> "<lesson>" [change:#<id>]` records one, `/cmo lessons [<client>]
[<words>]` lists the latest or searches them all (full text, best matches first)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.blocks import Message
from bot.blocks import lessons as lesson_blocks
from bot.blocks.forms import client_field, modal, text_field
from bot.commands.context import Context
from bot.commands.registry import Form, FormRequest, FormValues, HelpTopic, Subcommand
from bot.db.models import Client, ScheduleChange
from bot.errors import UserError
from bot.parsing import fields
from bot.parsing.grammar import joined, parse_record_id, split_options
from bot.parsing.tokens import Token
from bot.services import changes as change_service
from bot.services import clients as client_service
from bot.services import lessons as lesson_service

TOPIC = HelpTopic("lessons", "Lessons learned", (
    "What the team learned with a client — from a schedule change or not — is recorded once and comes back "
    "when it matters: in the client's meeting prep brief, and under a new schedule change of that client "
    "(the lessons of its earlier changes, and lessons whose words match the new reason).",
    "`/cmo lessons` lists the latest; `/cmo lessons acme` the client's; `/cmo lessons filter delay` searches "
    "every lesson (all the words, in any form: \"delays\" finds \"delayed\"), best matches first; "
    "`/cmo lessons acme filter` searches the client's.",
    'Example: `/cmo lesson acme "Book the filter integrity retest a week ahead" change:#12`',
), aliases=("lesson",))
MAX_SHOWN = 15


# -- lesson ----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LessonAdd:
    client: str
    text: str
    change_id: int | None = None


def parse_change_option(text: str) -> int:
    return parse_record_id(text, noun="a change", missing=change_service.CHANGE_MISSING, field="change")


def parse_lesson(tokens: list[Token]) -> LessonAdd:
    words, options = split_options(tokens, ("change",), strict=False)
    if not words:
        raise UserError('Give the client and the lesson, in quotes: "Book the filter test a week ahead".')
    lesson = joined(words[1:]).strip()
    if not lesson:
        raise UserError('Say what was learned, in quotes: "Book the filter test a week ahead".', field="lesson")
    if len(lesson) > lesson_service.MAX_TEXT:
        raise UserError(f"The lesson is {len(lesson):,} characters; keep it under {lesson_service.MAX_TEXT:,}.",
                        field="lesson")
    change = options.get("change")
    return LessonAdd(client=words[0].value, text=lesson,
                     change_id=parse_change_option(change) if change is not None else None)


def record_lesson(command: LessonAdd, ctx: Context) -> Message:
    client = ctx.client(command.client)
    lesson = lesson_service.add_lesson(ctx.session, ctx.actor, client, command.text, change_id=command.change_id)
    change = ctx.session.get(ScheduleChange, lesson.change_id) if lesson.change_id else None
    return lesson_blocks.lesson_added(lesson, client, change)


def lesson_modal(metadata: dict[str, Any], client: Client | None, change: str | None) -> dict[str, Any]:
    return modal("lesson", title="Lesson learned", submit="Record", metadata=metadata, blocks=[
        client_field(client),
        text_field("lesson", "What was learned", optional=False, multiline=True,
                   max_length=lesson_service.MAX_TEXT, placeholder="Book the filter integrity retest a week ahead"),
        text_field("change", "From schedule change (optional)", placeholder="#12", initial=change, max_length=20,
                   hint="The id of one of the client's schedule changes, as `/cmo changes` shows it."),
    ])


def open_lesson_form(ctx: Context, request: FormRequest) -> dict[str, Any]:
    client = (client_service.get_client(ctx.session, ctx.actor.team_id, request.client_id)
              if request.client_id is not None else None)
    return lesson_modal(request.metadata, client, request.record)


def read_lesson(values: FormValues) -> LessonAdd:
    change = fields.field_value(values, "change")
    return LessonAdd(
        client=fields.required_field(values, "client", "Choose a client."),
        text=fields.required_field(values, "lesson", "Say what was learned."),
        change_id=parse_change_option(change) if change else None,
    )


LESSON = Subcommand(
    name="lesson", usage='/cmo lesson <client> "<lesson>" [change:#<id>]', command=LessonAdd, parse=parse_lesson,
    run=record_lesson, topic=TOPIC.key,
    form=Form(open=open_lesson_form, read=read_lesson, title="Lesson learned"),
)


# -- lessons ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Lessons:
    words: tuple[str, ...] = ()  # the first may be a client


def parse_lessons(tokens: list[Token]) -> Lessons:
    return Lessons(words=tuple(token.value for token in tokens))


def _client_or_none(ctx: Context, reference: str) -> Client | None:
    """The client the first word names, if it names one (archived ones too: their lessons stay)."""
    try:
        return client_service.resolve_client(ctx.session, ctx.actor.team_id, reference, allow_archived=True)
    except UserError:
        return None


def list_lessons(command: Lessons, ctx: Context) -> Message:
    words = list(command.words)
    client = _client_or_none(ctx, words[0]) if words else None
    if client is not None:
        words = words[1:]
    team_id, client_id = ctx.actor.team_id, client.id if client else None
    query = " ".join(words)
    if query.strip():
        terms = lesson_service.search_words(query)
        found = lesson_service.search(ctx.session, team_id, query, client_id=client_id, limit=MAX_SHOWN)
        total = (lesson_service.search_count(ctx.session, team_id, query, client_id=client_id)
                 if len(found) == MAX_SHOWN else len(found))
        scope = f"{client.name}'s lessons" if client else "Lessons"
        title = f"{scope} matching {' '.join(terms)}"
        empty = f"No lesson{' of ' + client.name if client else ''} matches {' '.join(terms)}."
    else:
        terms = []
        found = lesson_service.latest(ctx.session, team_id, client_id=client_id, limit=MAX_SHOWN)
        total = lesson_service.count(ctx.session, team_id, client_id=client_id)
        title = f"{client.name}: lessons learned" if client else "Lessons learned"
        empty = (f"No lesson recorded for {client.name} yet. Add one: /cmo lesson {client.key} \"<lesson>\""
                 if client else "No lesson recorded yet. Add one: /cmo lesson <client> \"<lesson>\"")
    clients = {c.id: c for c in client_service.list_clients(ctx.session, team_id, include_archived=True)}
    change_ids = {lesson.change_id for lesson in found if lesson.change_id}
    changes = {change.id: change for change in (ctx.session.get(ScheduleChange, i) for i in change_ids) if change}
    return lesson_blocks.lessons_list(found, clients, changes, title=title, total=total, terms=terms,
                                      one_client=client is not None, empty=empty)


LESSONS = Subcommand(
    name="lessons", usage="/cmo lessons [<client>] [<words>]", command=Lessons, parse=parse_lessons,
    run=list_lessons, topic=TOPIC.key, takes_no_arguments=True,
)

SUBCOMMANDS = (LESSON, LESSONS)
TOPICS = (TOPIC,)
