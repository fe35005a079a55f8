"""`/cmo meeting add|list|cancel|skip|move`: regular client meetings, reminded of with a prep brief."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import InputBlock, Option, StaticSelectElement, TimePickerElement

from bot.blocks import Message
from bot.blocks import meetings as meeting_blocks
from bot.blocks import text as t
from bot.blocks.forms import channel_field, client_field, date_field, field, modal, text_field
from bot.blocks.ids import ActionId
from bot.commands.context import Context
from bot.commands.registry import Form, FormRequest, FormValues, HelpTopic, Subcommand
from bot.db.models import Client, Frequency, Meeting
from bot.errors import UserError
from bot.parsing import fields
from bot.parsing.dates import WEEKDAYS, DateSpec, parse_clock_time, parse_date, parse_duration, parse_timezone
from bot.parsing.grammar import joined, parse_record_id, split_options
from bot.parsing.tokens import Token, parse_channel
from bot.services import clients as client_service
from bot.services import meetings as meeting_service
from bot.services import outbox
from bot.services.recurrence import (
    WallClock,
    first_nth_weekday,
    instant,
    nth_weekday_of,
    occurrences,
)
from bot.services.roles import Rule

TOPIC = HelpTopic("meeting", "Meetings", (
    "Regular client meetings, each in its own time zone (`tz:`, else the client's, else the workspace's): "
    "10:00 Berlin stays 10:00 Berlin across daylight-saving changes.",
    "`every:` week, 2weeks, month or once. `on:` a weekday (`tue`) or a date; monthly on a weekday is that "
    "weekday of the month (`on:tue` the first Tuesday, `on:3tue` the third, `on:last-fri`), monthly on a date "
    "the same day of every month.",
    "Reminders (default 24h and 1h before, `remind:30m,2d`, or `remind:none`) go to the meeting's `channel:`, "
    "else the client's internal channel, mention the owner and bring a prep brief: contact since the last "
    "meeting and the schedule changes, told or not. After the meeting day, if no meeting notes were logged, "
    "the owner is asked for them once.",
    "*Add to calendar* sends you the meeting as an .ics file (Outlook, Google Calendar, Apple Calendar).",
    'Example: `/cmo meeting add acme "Quarterly review" every:month on:tue at:10:00 tz:Europe/Berlin`',
), aliases=("meetings",))

ADD_USAGE = ('/cmo meeting add <client> "<title>" every:<week|2weeks|month|once> on:<mon..sun|date> at:<HH:MM> '
             "[tz:<IANA zone>] [for:<duration>] [remind:<24h,1h>] [channel:#chan]")
EVERY_FORMS = {"week": Frequency.WEEK, "2weeks": Frequency.TWO_WEEKS, "month": Frequency.MONTH,
               "once": Frequency.ONCE}
MAX_DURATION = dt.timedelta(hours=12)
MAX_LEAD = dt.timedelta(days=14)
# The dates a meeting command takes: no further ahead than skip and move look (800 days), no further back than
# the first date of a series still going on needs. Beyond that is a typo, and at the edge of the calendar
# (9999-12-31 in New York, 0001-01-01 in Tokyo) a date has no instant at all.
MAX_AHEAD = dt.timedelta(days=731)
MAX_BEHIND = dt.timedelta(days=366)
MAX_REMINDERS = 5
NONE = "none"
_NTH_WEEKDAY = re.compile(r"^(1|2|3|4|1st|2nd|3rd|4th|first|second|third|fourth|last)-?([a-z]+)$")
_NTH = {"1": 1, "1st": 1, "first": 1, "2": 2, "2nd": 2, "second": 2, "3": 3, "3rd": 3, "third": 3, "4": 4,
        "4th": 4, "fourth": 4, "last": -1}


def parse_meeting_id(text: str) -> int:
    return parse_record_id(text, noun="a meeting", missing=meeting_service.MEETING_MISSING, field="meeting")


def within_reach(day: dt.date, today: dt.date, *, field: str) -> dt.date:
    """`day`, if a meeting can be on it: at most two years ahead and a year back."""
    if day > today + MAX_AHEAD:
        raise UserError(f"{day:%a} {day.isoformat()} is more than two years ahead: a meeting's dates are within "
                        "two years from today.", field=field)
    if day < today - MAX_BEHIND:
        raise UserError(f"{day:%a} {day.isoformat()} is more than a year ago: give a date within the last year, or "
                        "one ahead.", field=field)
    return day


# -- add -----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class When:
    """`on:` as typed: a date, or a weekday (with `nth` for a monthly meeting on the nth weekday)."""

    date: DateSpec | None = None
    weekday: int | None = None
    nth: int | None = None


@dataclass(frozen=True)
class MeetingAdd:
    client: str
    title: str
    every: Frequency
    on: When
    at: dt.time
    tz: str | None = None
    duration_minutes: int = meeting_service.DEFAULT_DURATION_MINUTES
    reminders: tuple[int, ...] = meeting_service.DEFAULT_REMINDER_MINUTES
    channel: str | None = None
    monthly_by_weekday: bool = False  # from the form: monthly on the weekday of the date picked


def parse_every(text: str) -> Frequency:
    every = EVERY_FORMS.get(text.strip().lower())
    if every is None:
        raise UserError(f"`every:{text}` is not a repeat I know: use `every:week`, `every:2weeks`, `every:month` or "
                        "`every:once`.", field="every")
    return every


def parse_on(text: str, every: Frequency) -> When:
    word = text.strip().lower()
    if word in WEEKDAYS:
        return When(weekday=WEEKDAYS[word], nth=1 if every is Frequency.MONTH else None)
    nth = _NTH_WEEKDAY.match(word)
    if nth and nth.group(2) in WEEKDAYS:
        if every is not Frequency.MONTH:
            raise UserError(f"`on:{text}` names a weekday of the month: that is for `every:month`. For "
                            f"`every:{every}` use the weekday alone, like `on:{nth.group(2)}`.", field="on")
        return When(weekday=WEEKDAYS[nth.group(2)], nth=_NTH[nth.group(1)])
    try:
        return When(date=parse_date(text, option="on"))
    except UserError:
        raise UserError(f"`on:{text}` is neither a weekday (mon … sun) nor a date (2026-12-08, tomorrow, +3d).",
                        field="on") from None


def parse_meeting_duration(text: str) -> int:
    try:
        duration = parse_duration(text, option="for", units="mh")
    except UserError:
        raise UserError(f"`for:{text}` is not how long a meeting takes: use minutes or hours, like `for:45m`, "
                        "`for:90m` or `for:2h`.", field="for") from None
    if duration > MAX_DURATION:
        raise UserError(f"`for:{text}` is longer than 12 hours; a meeting takes at most `for:12h`.", field="for")
    return int(duration.total_seconds() // 60)


def parse_reminders(text: str) -> tuple[int, ...]:
    """`24h,1h` as minutes, longest first; `none`: no reminders."""
    if text.strip().lower() == NONE:
        return ()
    leads = []
    for part in (p for p in text.split(",")):
        part = part.strip()
        if not part:
            continue
        if re.fullmatch(r"0+\s*[mhdw]?", part.lower()):
            raise UserError(f"`remind:{part}` would remind as the meeting starts: give a lead time before it, like "
                            "`remind:1h` or `remind:30m`.", field="remind")
        try:
            lead = parse_duration(part, option="remind", units="mhdw")
        except UserError:
            raise UserError(f"`remind:{part}` is not a lead time: use a number and a unit, like `remind:24h,1h`, "
                            "`remind:30m` or `remind:2d` (or `remind:none`).", field="remind") from None
        if lead > MAX_LEAD:
            raise UserError(f"`remind:{part}` is more than two weeks ahead; use at most `remind:14d`.", field="remind")
        leads.append(int(lead.total_seconds() // 60))
    if not leads:
        raise UserError("`remind:` needs lead times, like `remind:24h,1h`, or `remind:none`.", field="remind")
    if len(set(leads)) > MAX_REMINDERS:
        raise UserError(f"At most {MAX_REMINDERS} reminders per meeting.", field="remind")
    return tuple(sorted(set(leads), reverse=True))


def parse_add(tokens: list[Token]) -> MeetingAdd:
    words, options = split_options(tokens, ("every", "on", "at", "tz", "for", "remind", "channel"), strict=True)
    if not words:
        raise UserError("Give the client, the meeting's title in quotes, and when it is.")
    if len(words) < 2:
        raise UserError('Give the meeting a title, in quotes: "Quarterly review".', field="title")
    for required, example in (("every", "every:week"), ("on", "on:tue"), ("at", "at:10:00")):
        if required not in options:
            raise UserError(f"Say when with `{required}:`, like `{example}`.", field=required)
    every = parse_every(options["every"])
    return MeetingAdd(
        client=words[0].value,
        title=joined(words[1:]),
        every=every,
        on=parse_on(options["on"], every),
        at=parse_clock_time(options["at"]),
        tz=parse_timezone(options["tz"]) if "tz" in options else None,
        duration_minutes=parse_meeting_duration(options["for"]) if "for" in options else
        meeting_service.DEFAULT_DURATION_MINUTES,
        reminders=parse_reminders(options["remind"]) if "remind" in options else
        meeting_service.DEFAULT_REMINDER_MINUTES,
        channel=parse_channel(options["channel"], option="channel") if "channel" in options else None,
    )


def first_date(command: MeetingAdd, zone: ZoneInfo, now: dt.datetime) -> tuple[dt.date, int | None]:
    """The first occurrence's date, and the nth weekday of the month for a monthly meeting on a weekday."""
    today = now.astimezone(zone).date()
    on = command.on
    if on.date is not None:
        day = on.date.resolve(today)
        nth = nth_weekday_of(day) if command.monthly_by_weekday and command.every is Frequency.MONTH else None
        return day, nth
    assert on.weekday is not None
    if command.every is Frequency.MONTH:
        day = first_nth_weekday(today, on.weekday, on.nth or 1)
        if instant(day, command.at, zone) <= now:
            day = first_nth_weekday(day + dt.timedelta(days=1), on.weekday, on.nth or 1)
        return day, on.nth or 1
    day = today + dt.timedelta(days=(on.weekday - today.weekday()) % 7)
    if instant(day, command.at, zone) <= now:
        day += dt.timedelta(days=7)
    return day, None


def add_meeting(command: MeetingAdd, ctx: Context) -> Message:
    client = ctx.client(command.client)
    ctx.require_internal(command.channel, field="channel", what="a meeting's channel")
    zone_name = command.tz or client.timezone or ctx.default_zone.key
    zone = ZoneInfo(zone_name)
    starts_on, nth = first_date(command, zone, ctx.now)
    within_reach(starts_on, ctx.now.astimezone(zone).date(), field="on")
    meeting = meeting_service.add_meeting(
        ctx.session, ctx.actor, client, title=command.title, every=command.every, starts_on=starts_on, at=command.at,
        timezone=zone_name, now=ctx.now, nth=nth, duration_minutes=command.duration_minutes,
        reminder_minutes=command.reminders, channel_id=command.channel)
    schedule = meeting_service.schedule(ctx.session, meeting)
    next_year = occurrences(schedule, starting_after=ctx.now, starting_before=ctx.now + dt.timedelta(days=366))
    notes = [note for o in next_year if o.wall is not WallClock.NORMAL
             for note in [meeting_blocks.wall_clock_note(o, meeting)] if note][:2]
    upcoming = occurrences(schedule, starting_after=ctx.now, count=3)  # the next ones, however far ahead
    return meeting_blocks.meeting_added(meeting, client, upcoming, notes, meeting_service.channel_of(meeting, client))


FORM_EVERY = (("week", "Every week"), ("2weeks", "Every 2 weeks"), ("month", "Every month, same date"),
              ("month-weekday", "Every month, same weekday (e.g. 1st Tue)"), ("once", "Once"))
FORM_DURATIONS = (("30m", "30 minutes"), ("45m", "45 minutes"), ("1h", "1 hour"), ("90m", "1 h 30 min"),
                  ("2h", "2 hours"), ("3h", "3 hours"))


def _select(block_id: str, label: str, choices: tuple[tuple[str, str], ...], *, initial: str | None = None,
            optional: bool = False) -> InputBlock:
    options = [Option(value=value, text=text) for value, text in choices]
    chosen = next((o for o in options if o.value == initial), None)
    return field(block_id, label, StaticSelectElement(action_id=ActionId.VALUE, options=options,
                                                      initial_option=chosen, placeholder="Choose"),
                 optional=optional)


def _time_field(block_id: str, label: str, initial: str | None = None) -> InputBlock:
    return field(block_id, label, TimePickerElement(action_id=ActionId.VALUE, initial_time=initial,
                                                    placeholder="10:00"))


def add_modal(ctx: Context, request: FormRequest) -> dict[str, Any]:
    selected = (client_service.get_client(ctx.session, ctx.actor.team_id, request.client_id)
                if request.client_id is not None else None)
    return modal("meeting add", title="Plan a meeting", submit="Add", metadata=request.metadata, blocks=[
        client_field(selected),
        text_field("title", "Title", optional=False, placeholder="Quarterly review", max_length=200),
        _select("every", "Repeats", FORM_EVERY, initial="week"),
        date_field("on", "First date", optional=False, hint="Monthly on a weekday: the same weekday of the month "
                                                             "as this date (a 5th one: the last)."),
        _time_field("at", "Time", "10:00"),
        text_field("tz", "Time zone", placeholder="Europe/Berlin", max_length=64,
                   hint="Leave empty for the client's zone (else the workspace's)."),
        _select("for", "Duration", FORM_DURATIONS, initial="1h"),
        text_field("remind", "Reminders before it", initial="24h,1h", max_length=100,
                   hint="Lead times like 24h,1h or 30m (empty: 24h,1h); none for no reminders."),
        channel_field("channel", "Channel for reminders", hint="Leave empty for the client's internal channel. "
                                                               "Never a channel shared with the client."),
    ])


def read_add(values: FormValues) -> MeetingAdd:
    every_value = fields.required_field(values, "every", "Choose how it repeats.")
    by_weekday = every_value == "month-weekday"
    every = parse_every("month" if by_weekday else every_value)
    zone = fields.field_value(values, "tz")
    remind = fields.field_value(values, "remind")
    return MeetingAdd(
        client=fields.required_field(values, "client", "Choose a client."),
        title=fields.required_field(values, "title", "Give the meeting a title."),
        every=every,
        on=When(date=parse_date(fields.required_field(values, "on", "Pick the first date."), option="on")),
        at=parse_clock_time(fields.required_field(values, "at", "Pick the time."), option="at"),
        tz=parse_timezone(zone) if zone else None,
        duration_minutes=parse_meeting_duration(fields.field_value(values, "for") or "1h"),
        reminders=parse_reminders(remind) if remind else meeting_service.DEFAULT_REMINDER_MINUTES,
        channel=fields.channel_field(values, "channel"),
        monthly_by_weekday=by_weekday,
    )


ADD = Subcommand(name="meeting add", usage=ADD_USAGE, command=MeetingAdd, parse=parse_add, run=add_meeting,
                 topic=TOPIC.key, form=Form(open=add_modal, read=read_add, title="Plan a meeting"))


# -- list ----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class MeetingList:
    client: str | None = None


def list_meetings(command: MeetingList, ctx: Context) -> Message:
    """Meetings still ahead, soonest first (a one-off that has taken place, or was skipped, is done)."""
    client = ctx.client(command.client) if command.client else None
    ahead = meeting_service.upcoming(ctx.session, ctx.actor.team_id, after=ctx.now,
                                     client_id=client.id if client else None)
    return meeting_blocks.meeting_list([(u.meeting, u.client, u.occurrence) for u in ahead],
                                       scope=client.name if client else "All clients")


LIST = Subcommand(name="meeting list", reads_only=True, usage="/cmo meeting list [<client>]", command=MeetingList,
                  parse=lambda tokens: MeetingList(joined(tokens) or None), run=list_meetings, topic=TOPIC.key,
                  takes_no_arguments=True)


# -- cancel, skip, move: one meeting, by its id ------------------------------------------------------------

def meeting_choice(ctx: Context, request: FormRequest) -> InputBlock:
    """A select of the meetings still ahead, soonest first (the first 100)."""
    ahead = meeting_service.upcoming(ctx.session, ctx.actor.team_id, after=ctx.now)
    if not ahead:
        raise UserError('No meetings are planned. Add one: `/cmo meeting add <client> "<title>" every:week on:tue '
                        "at:10:00`")
    options = [Option(value=str(u.meeting.id), text=t.plain(f"#{u.meeting.id} {u.client.name}: {u.meeting.title}", 75))
               for u in ahead[:100]]
    return field("meeting", "Meeting", StaticSelectElement(action_id=ActionId.VALUE, options=options,
                                                          placeholder="Choose a meeting"))


def _meeting_and_client(ctx: Context, meeting_id: int) -> tuple[Meeting, Client]:
    meeting = meeting_service.active_meeting(ctx.session, ctx.actor.team_id, meeting_id, for_update=True)
    return meeting, ctx.session.get(Client, meeting.client_id)


def _today_of(meeting: Meeting, ctx: Context) -> dt.date:
    return ctx.now.astimezone(meeting_service.zone_of(meeting)).date()


def _tell_reminded(ctx: Context, meeting: Meeting, client: Client, before, after) -> None:
    """Those reminded of an occurrence hear that it is skipped or moved (the reminder is in their channel)."""
    channel = meeting_service.channel_of(meeting, client)
    if channel is None or not meeting_service.was_reminded(ctx.session, ctx.actor.team_id, meeting.id, before.due_on):
        return
    change = "skipped" if after is None else f"moved:{after.starts_at:%Y%m%dT%H%MZ}"
    try:
        outbox.enqueue(ctx.session, team_id=ctx.actor.team_id, channel_id=channel, source="meeting-change",
                       dedupe_key=f"meeting-change:{meeting.id}:{before.due_on:%Y-%m-%d}:{change}",
                       message=meeting_blocks.occurrence_changed(meeting, client, before, after, ctx.actor.user_id))
    except outbox.SharedChannelRefused:  # the channel has been shared with a client since: never told there
        return


def _one_id(words: list[Token], what: str) -> int:
    if not words:
        raise UserError(f"Say which meeting {what}, by its id, like `#4` (`/cmo meeting list` shows them).",
                        field="meeting")
    return parse_meeting_id(words[0].value)


@dataclass(frozen=True)
class MeetingCancel:
    meeting_id: int


def parse_cancel(tokens: list[Token]) -> MeetingCancel:
    if len(tokens) != 1:
        raise UserError("Give only the meeting's id, like `#4`.", field="meeting")
    return MeetingCancel(_one_id(tokens, "to cancel"))


def cancel(command: MeetingCancel, ctx: Context) -> Message:
    meeting, client = _meeting_and_client(ctx, command.meeting_id)
    ctx.authorize(Rule.OWNER, client, f"cancel {client.name}'s meetings")
    withdrawn = meeting_service.cancel_meeting(ctx.session, ctx.actor, meeting)
    return meeting_blocks.meeting_cancelled(meeting, client, withdrawn)


CANCEL = Subcommand(
    name="meeting cancel", usage="/cmo meeting cancel #<id>", command=MeetingCancel, parse=parse_cancel, run=cancel,
    topic=TOPIC.key,
    form=Form(open=lambda ctx, request: modal("meeting cancel", title="Cancel a meeting", submit="Cancel it",
                                              metadata=request.metadata, blocks=[meeting_choice(ctx, request)]),
              read=lambda values: MeetingCancel(parse_meeting_id(
                  fields.required_field(values, "meeting", "Choose the meeting."))),
              title="Cancel a meeting"),
)


@dataclass(frozen=True)
class MeetingSkip:
    meeting_id: int
    date: DateSpec


def parse_skip(tokens: list[Token]) -> MeetingSkip:
    if len(tokens) != 2:
        raise UserError("Give the meeting's id and the date to skip, like `#4 2026-12-08`.",
                        field="date" if len(tokens) == 1 else "meeting")
    return MeetingSkip(_one_id(tokens, "to skip"), parse_date(tokens[1].value, option="date"))


def skip(command: MeetingSkip, ctx: Context) -> Message:
    meeting, client = _meeting_and_client(ctx, command.meeting_id)
    today = _today_of(meeting, ctx)
    skipped = meeting_service.skip_occurrence(ctx.session, ctx.actor, meeting, within_reach(
        command.date.resolve(today), today, field="date"), ctx.now)
    _tell_reminded(ctx, meeting, client, skipped, None)
    ahead = occurrences(meeting_service.schedule(ctx.session, meeting), starting_after=ctx.now, count=1)
    return meeting_blocks.occurrence_skipped(meeting, client, skipped, ahead[0] if ahead else None)


SKIP = Subcommand(
    name="meeting skip", usage="/cmo meeting skip #<id> <date>", command=MeetingSkip, parse=parse_skip, run=skip,
    topic=TOPIC.key,
    form=Form(open=lambda ctx, request: modal("meeting skip", title="Skip a meeting", submit="Skip",
                                              metadata=request.metadata,
                                              blocks=[meeting_choice(ctx, request),
                                                      date_field("date", "The date to skip", optional=False)]),
              read=lambda values: MeetingSkip(
                  parse_meeting_id(fields.required_field(values, "meeting", "Choose the meeting.")),
                  parse_date(fields.required_field(values, "date", "Pick the date to skip."), option="date")),
              title="Skip a meeting"),
)


@dataclass(frozen=True)
class MeetingMove:
    meeting_id: int
    to: DateSpec
    at: dt.time
    source: DateSpec | None = None  # which occurrence; None: the one on `to`, else the next


def parse_move(tokens: list[Token]) -> MeetingMove:
    words, options = split_options(tokens, ("at", "from"), strict=True)
    if len(words) != 2:
        raise UserError("Give the meeting's id, the new date and `at:` the new time, like `#4 2026-12-09 at:14:00`.",
                        field="date" if len(words) == 1 else "meeting")
    if "at" not in options:
        raise UserError("Give the new time with `at:`, like `at:14:00`.", field="at")
    return MeetingMove(_one_id(words, "to move"), parse_date(words[1].value, option="date"),
                       parse_clock_time(options["at"]),
                       parse_date(options["from"], option="from") if "from" in options else None)


def move(command: MeetingMove, ctx: Context) -> Message:
    meeting, client = _meeting_and_client(ctx, command.meeting_id)
    today = _today_of(meeting, ctx)
    before, after = meeting_service.move_occurrence(
        ctx.session, ctx.actor, meeting, to_day=within_reach(command.to.resolve(today), today, field="date"),
        at=command.at, now=ctx.now,
        from_day=within_reach(command.source.resolve(today), today, field="from") if command.source else None)
    _tell_reminded(ctx, meeting, client, before, after)
    return meeting_blocks.occurrence_moved(meeting, client, before, after)


def move_modal(ctx: Context, request: FormRequest) -> dict[str, Any]:
    return modal("meeting move", title="Move a meeting", submit="Move", metadata=request.metadata, blocks=[
        meeting_choice(ctx, request),
        date_field("from", "The meeting of (date)", hint="Leave empty for the next one."),
        date_field("date", "New date", optional=False),
        _time_field("at", "New time"),
    ])


def read_move(values: FormValues) -> MeetingMove:
    source = fields.field_value(values, "from")
    return MeetingMove(
        parse_meeting_id(fields.required_field(values, "meeting", "Choose the meeting.")),
        parse_date(fields.required_field(values, "date", "Pick the new date."), option="date"),
        parse_clock_time(fields.required_field(values, "at", "Pick the new time."), option="at"),
        parse_date(source, option="from") if source else None)


MOVE = Subcommand(
    name="meeting move", usage="/cmo meeting move #<id> <date> at:<HH:MM> [from:<date>]", command=MeetingMove,
    parse=parse_move, run=move, topic=TOPIC.key, form=Form(open=move_modal, read=read_move, title="Move a meeting"),
)

SUBCOMMANDS = (ADD, LIST, CANCEL, SKIP, MOVE)
TOPICS = (TOPIC,)
