"""Client meetings: added once or recurring, cancelled, one occurrence skipped or moved. What each change
means for what is queued (a reminder not posted yet for an occurrence that moved) is settled here, in the
same transaction."""

from __future__ import annotations

import datetime as dt
import functools
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import Row, Select, bindparam, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from bot.db.batches import batches
from bot.db.core import connection
from bot.db.models import Client, Frequency, Meeting, MeetingException, OutboxMessage, OutboxStatus, utcnow
from bot.errors import UserError
from bot.services import Actor, audit, outbox
from bot.services.recurrence import (
    Occurrence,
    Schedule,
    WallClock,
    instant,
    occurrence,
    occurrences,
    wall_clock,
    weekday_rule,
)

MEETING_MISSING = "There is no meeting #{}. `/cmo meeting list` shows them."
MAX_TITLE = 200
DEFAULT_DURATION_MINUTES = 60
DEFAULT_REMINDER_MINUTES = (24 * 60, 60)
AUDITED_FIELDS = ("title", "every", "rule", "starts_on", "at", "timezone", "duration_minutes", "reminder_minutes",
                  "channel_id", "cancelled_at")
SKIP, MOVE = "skip", "move"


# -- outbox keys: each reminder and each notes prompt is posted once ----------------------------------------

def occurrence_prefix(meeting_id: int, due_on: dt.date) -> str:
    return f"meeting:{meeting_id}:{due_on:%Y-%m-%d}:"


def reminder_key(meeting_id: int, occurrence: Occurrence, lead_minutes: int) -> str:
    """One per occurrence, start and lead time: an occurrence moved elsewhere is reminded of again."""
    return f"{occurrence_prefix(meeting_id, occurrence.due_on)}{occurrence.starts_at:%Y%m%dT%H%MZ}:{lead_minutes}m"


def notes_key(meeting_id: int, occurrence: Occurrence) -> str:
    return f"{occurrence_prefix(meeting_id, occurrence.due_on)}notes"


# -- reading -----------------------------------------------------------------------------------------------

def zone_of(meeting: Meeting) -> ZoneInfo:
    return ZoneInfo(meeting.timezone)


def channel_of(meeting: Meeting, client: Client) -> str | None:
    """Where its reminders go: its own channel, else the client's internal channel."""
    return meeting.channel_id or client.internal_channel_id


def schedules(session: Session, meetings: Iterable[Meeting]) -> dict[int, Schedule]:
    """Each meeting's rule with its skips and moves (one query for all of them)."""
    meetings = list(meetings)
    exceptions: dict[int, list[Row]] = defaultdict(list)
    if meetings:
        for batch in batches(m.id for m in meetings):
            for exception in connection(session).execute(_exceptions_query(), {"ids": batch}):
                exceptions[exception.meeting_id].append(exception)
    return {m.id: _schedule(m, exceptions[m.id]) for m in meetings}


@functools.cache
def _exceptions_query() -> Select:
    # Rows, not objects (read on every status and reminder; nothing is changed through them), as committed now.
    return select(MeetingException.meeting_id, MeetingException.occurrence_on, MeetingException.kind,
                  MeetingException.moved_to).where(MeetingException.meeting_id.in_(bindparam("ids", expanding=True)))


def schedule(session: Session, meeting: Meeting) -> Schedule:
    return schedules(session, [meeting])[meeting.id]


def _schedule(meeting: Meeting, exceptions: list[Row]) -> Schedule:
    return Schedule(
        rule=meeting.rule, starts_on=meeting.starts_on, at=meeting.at, zone=zone_of(meeting),
        duration=dt.timedelta(minutes=meeting.duration_minutes),
        skipped=frozenset(e.occurrence_on for e in exceptions if e.kind == SKIP),
        moved=tuple(sorted((e.occurrence_on, e.moved_to) for e in exceptions if e.kind == MOVE and e.moved_to)),
    )


def get_meeting(session: Session, team_id: str, meeting_id: int, *, for_update: bool = False) -> Meeting:
    """`for_update`: the meeting's row is locked until the transaction ends, so that two changes of one meeting
    at the same moment (two skips, a skip and a move, a cancel and a move) happen one after the other, the
    second seeing what the first did (PostgreSQL; SQLite has one writer at a time anyway)."""
    meeting = session.get(Meeting, meeting_id, with_for_update=for_update)
    if meeting is None or meeting.team_id != team_id:
        raise UserError(MEETING_MISSING.format(meeting_id), field="meeting")
    return meeting


def active_meeting(session: Session, team_id: str, meeting_id: int, *, for_update: bool = False) -> Meeting:
    """A meeting that still takes place (a UserError for an unknown or cancelled one)."""
    meeting = get_meeting(session, team_id, meeting_id, for_update=for_update)
    if meeting.is_cancelled:
        raise UserError(f"Meeting #{meeting.id} was cancelled on {meeting.cancelled_at:%a %Y-%m-%d} by {{user}}.",
                        field="meeting", user_id=meeting.cancelled_by)
    client = session.get(Client, meeting.client_id)
    if client.is_archived:
        raise UserError(f"Meeting #{meeting.id} is with {client.name}, which is archived.", field="meeting")
    return meeting


def active_meetings(session: Session, team_id: str, *, client_id: int | None = None) -> list[Meeting]:
    """Meetings that still take place, with active clients; oldest first."""
    params = {"team_id": team_id} | ({"client_id": client_id} if client_id is not None else {})
    return list(session.scalars(_active_query(client_id is not None), params))


@functools.cache
def _active_query(of_client: bool) -> Select:
    # Built once per shape (a client's status asks on every request), bound at execution.
    query = (select(Meeting).join(Client, Client.id == Meeting.client_id)
             .where(Meeting.team_id == bindparam("team_id"), Meeting.cancelled_at.is_(None),
                    Client.archived_at.is_(None))
             .order_by(Meeting.id))
    return query.where(Meeting.client_id == bindparam("client_id")) if of_client else query


@dataclass(frozen=True)
class Upcoming:
    meeting: Meeting
    client: Client
    occurrence: Occurrence


def upcoming(session: Session, team_id: str, *, after: dt.datetime,
             before: dt.datetime | Callable[[Meeting], dt.datetime] | None = None, per_meeting: int | None = 1,
             client_id: int | None = None, meetings: list[Meeting] | None = None) -> list[Upcoming]:
    """The next occurrences of every active meeting (or of `meetings`): each meeting's next `per_meeting`, or
    all of them before `before` (a moment, or each meeting's own), soonest first."""
    if meetings is None:
        meetings = active_meetings(session, team_id, client_id=client_id)
    clients = _clients_of(session, meetings)
    by_meeting = schedules(session, meetings)
    found = [Upcoming(m, clients[m.client_id], o) for m in meetings
             for o in occurrences(by_meeting[m.id], starting_after=after, count=per_meeting,
                                  starting_before=before(m) if callable(before) else before)]
    return sorted(found, key=lambda u: (u.occurrence.starts_at, u.meeting.id))


def _clients_of(session: Session, meetings: list[Meeting]) -> dict[int, Client]:
    """The meetings' clients: those the session holds already (a client's status has its client) without a
    query, the others in one."""
    wanted = {m.client_id for m in meetings}
    clients = {i: c for i in wanted if (c := session.identity_map.get(identity_key(Client, i))) is not None}
    missing = wanted - clients.keys()
    if missing:
        clients.update((c.id, c) for c in session.scalars(select(Client).where(Client.id.in_(missing))))
    return clients


def next_by_client(session: Session, team_id: str, now: dt.datetime,
                   meetings: list[Meeting] | None = None) -> dict[int, Upcoming]:
    """Each client's next meeting (not started yet), of the active meetings (or of `meetings`)."""
    nearest: dict[int, Upcoming] = {}
    for item in upcoming(session, team_id, after=now, meetings=meetings):
        nearest.setdefault(item.client.id, item)
    return nearest


def previous_start(schedule_: Schedule, before: Occurrence) -> dt.datetime | None:
    """When the occurrence before this one started (None: this is the first)."""
    earlier = occurrences(schedule_, starting_after=before.starts_at - dt.timedelta(days=400),
                          starting_before=before.starts_at)
    return earlier[-1].starts_at if earlier else None


# -- changing ----------------------------------------------------------------------------------------------

def add_meeting(session: Session, actor: Actor, client: Client, *, title: str, every: Frequency,
                starts_on: dt.date, at: dt.time, timezone: str, now: dt.datetime, nth: int | None = None,
                duration_minutes: int = DEFAULT_DURATION_MINUTES,
                reminder_minutes: Iterable[int] = DEFAULT_REMINDER_MINUTES,
                channel_id: str | None = None) -> Meeting:
    if client.is_archived:
        raise UserError(f"{client.name} is archived; no meeting can be planned with it.", field="client")
    title = " ".join(title.split())
    if not any(unicodedata.category(char)[0] in "LNPS" for char in title):  # only zero-width or format marks
        raise UserError('Give the meeting a title, in quotes: "Quarterly review".', field="title")
    if len(title) > MAX_TITLE:
        raise UserError(f"The title can be at most {MAX_TITLE} characters.", field="title")
    _refuse_shared_channel(session, actor.team_id, channel_id)
    zone = ZoneInfo(timezone)
    if every is Frequency.ONCE and instant(starts_on, at, zone) <= now:
        local = now.astimezone(zone)
        raise UserError(f"{starts_on:%a %Y-%m-%d} {at:%H:%M} {timezone} is in the past (it is {local:%a %Y-%m-%d %H:%M}"
                        " there): a meeting that happens once must be ahead.", field="on")
    meeting = Meeting(team_id=actor.team_id, client_id=client.id, title=title, every=every,
                      rule=weekday_rule(every, starts_on, nth=nth), starts_on=starts_on, at=at, timezone=timezone,
                      duration_minutes=duration_minutes, reminder_minutes=sorted(set(reminder_minutes), reverse=True),
                      channel_id=channel_id, created_by=actor.user_id, surface=actor.surface)
    session.add(meeting)
    audit.record(session, actor, "meeting.add", meeting, client_id=client.id, before=None,
                 after=audit.snapshot(meeting, AUDITED_FIELDS))
    return meeting


def _refuse_shared_channel(session: Session, team_id: str, channel_id: str | None) -> None:
    if channel_id is None:
        return
    shared = session.scalar(select(Client).where(Client.team_id == team_id, Client.shared_channel_id == channel_id)
                            .limit(1))
    if shared is not None:
        raise UserError(f"That channel is shared with {shared.name}: a meeting's reminders and prep brief are "
                        "internal, and never go there. Choose an internal channel.", field="channel")


def cancel_meeting(session: Session, actor: Actor, meeting: Meeting) -> int:
    """Cancelled for good; what was queued about it and not posted yet is withdrawn (how many)."""
    before = audit.snapshot(meeting, AUDITED_FIELDS)
    meeting.cancelled_at, meeting.cancelled_by = utcnow(), actor.user_id
    audit.record(session, actor, "meeting.cancel", meeting, client_id=meeting.client_id, before=before,
                 after=audit.snapshot(meeting, AUDITED_FIELDS))
    return outbox.cancel_pending_prefixed(session, actor.team_id, f"meeting:{meeting.id}:")


def find_occurrence(schedule_: Schedule, day: dt.date, now: dt.datetime, *, what: str) -> Occurrence:
    """The occurrence on `day` (the day it is due on, or the day it was moved to) that has not started yet."""
    ahead = occurrences(schedule_, starting_after=now, starting_before=now + dt.timedelta(days=800))
    for candidate in ahead:
        if candidate.local_day == day:
            return candidate
    for candidate in ahead:
        if candidate.due_on == day:
            return candidate
    due = occurrence(schedule_, day)
    if due is not None and due.starts_at <= now:
        raise UserError(f"The meeting of {day:%a %Y-%m-%d} has already started or taken place; it can't be {what}.",
                        field="date")
    if day in schedule_.skipped:
        raise UserError(f"The meeting of {day:%a %Y-%m-%d} is already skipped.", field="date")
    dates = ", ".join(f"{o.local_day:%a %Y-%m-%d}" for o in ahead[:4]) or "none: it has no more"
    raise UserError(f"The meeting is not on {day:%a %Y-%m-%d}. Its next dates: {dates}.", field="date")


def skip_occurrence(session: Session, actor: Actor, meeting: Meeting, day: dt.date, now: dt.datetime) -> Occurrence:
    skipped = find_occurrence(schedule(session, meeting), day, now, what="skipped")
    _set_exception(session, actor, meeting, skipped.due_on, SKIP, None)
    audit.record(session, actor, "meeting.skip", meeting, client_id=meeting.client_id, before=None,
                 after={"occurrence_on": skipped.due_on.isoformat(), "starts_at": skipped.starts_at.isoformat()})
    outbox.cancel_pending_prefixed(session, actor.team_id, occurrence_prefix(meeting.id, skipped.due_on))
    return skipped


def move_occurrence(session: Session, actor: Actor, meeting: Meeting, *, to_day: dt.date, at: dt.time,
                    now: dt.datetime, from_day: dt.date | None = None) -> tuple[Occurrence, Occurrence]:
    """Move one occurrence: the one on `from_day`; else the one on `to_day` (a new time the same day); else
    the next one. Returns it before and after."""
    schedule_ = schedule(session, meeting)
    if from_day is not None:
        moving = find_occurrence(schedule_, from_day, now, what="moved")
    else:
        ahead = occurrences(schedule_, starting_after=now, count=1)
        same_day = [o for o in occurrences(schedule_, starting_after=now, starting_before=now + dt.timedelta(days=800))
                    if o.local_day == to_day or o.due_on == to_day]
        if not same_day and not ahead:
            raise UserError(f"Meeting #{meeting.id} has no occurrence ahead to move.", field="date")
        moving = same_day[0] if same_day else ahead[0]
    zone = zone_of(meeting)
    if wall_clock(to_day, at, zone) is WallClock.GAP:
        raise UserError(f"{at:%H:%M} does not exist on {to_day:%a %Y-%m-%d} in {meeting.timezone}: the clocks go "
                        "forward then. Choose another time.", field="at")
    new_start = instant(to_day, at, zone)
    if new_start <= now:
        raise UserError(f"{to_day:%a %Y-%m-%d} {at:%H:%M} {meeting.timezone} is in the past: move it ahead.",
                        field="date")
    if new_start == moving.starts_at:
        raise UserError(f"The meeting of {moving.local_day:%a %Y-%m-%d} is already at {at:%H:%M}: nothing moves.",
                        field="at")
    _set_exception(session, actor, meeting, moving.due_on, MOVE, new_start)
    moved = Occurrence(moving.due_on, new_start, new_start + (moving.ends_at - moving.starts_at), zone, moved=True,
                       wall=wall_clock(to_day, at, zone))
    audit.record(session, actor, "meeting.move", meeting, client_id=meeting.client_id,
                 before={"occurrence_on": moving.due_on.isoformat(), "starts_at": moving.starts_at.isoformat()},
                 after={"occurrence_on": moving.due_on.isoformat(), "starts_at": new_start.isoformat()})
    outbox.cancel_pending_prefixed(session, actor.team_id, occurrence_prefix(meeting.id, moving.due_on))
    return moving, moved


def _set_exception(session: Session, actor: Actor, meeting: Meeting, due_on: dt.date, kind: str,
                   moved_to: dt.datetime | None) -> None:
    row = session.scalar(select(MeetingException).where(MeetingException.meeting_id == meeting.id,
                                                        MeetingException.occurrence_on == due_on))
    if row is None:
        row = MeetingException(team_id=actor.team_id, meeting_id=meeting.id, occurrence_on=due_on,
                               created_by=actor.user_id)
        session.add(row)
    row.kind, row.moved_to, row.created_by, row.created_at = kind, moved_to, actor.user_id, utcnow()
    session.flush()


def still_due(session: Session, meeting_id: int, planned: Occurrence) -> bool:
    """Whether an occurrence planned from an earlier read still stands as planned (not skipped, moved or
    cancelled meanwhile). Called after queuing its reminder: on PostgreSQL the meeting's row is then held in
    share mode, so a skip, move or cancel (which lock it for update) either committed before this read and is
    seen, or waits for this transaction and then withdraws what it queued; on SQLite the queuing already holds
    the one write lock, with the same effect."""
    meeting = session.scalar(select(Meeting).where(Meeting.id == meeting_id).with_for_update(read=True)
                             .execution_options(populate_existing=True))
    if meeting is None or meeting.is_cancelled:
        return False
    now_planned = occurrence(schedule(session, meeting), planned.due_on)
    return now_planned is not None and now_planned.starts_at == planned.starts_at


def was_reminded(session: Session, team_id: str, meeting_id: int, due_on: dt.date) -> bool:
    """Whether a reminder of this occurrence has been posted (people may be planning around it)."""
    prefix = occurrence_prefix(meeting_id, due_on)
    return session.scalar(select(OutboxMessage.id).where(
        OutboxMessage.team_id == team_id, OutboxMessage.status == OutboxStatus.SENT,
        OutboxMessage.dedupe_key.like(f"{prefix}%m")).limit(1)) is not None


def withdraw_notes_prompts(session: Session, client: Client) -> int:
    """Meeting notes were logged: the prompts to log them, still waiting to be posted, no longer apply."""
    return withdraw_queued(session, client, suffix="notes")


def withdraw_queued(session: Session, client: Client, *, suffix: str = "") -> int:
    """What was queued about the client's meetings (ending in `suffix`) and not posted yet: withdrawn."""
    ids = list(session.scalars(select(Meeting.id).where(Meeting.team_id == client.team_id,
                                                        Meeting.client_id == client.id)))
    return sum(outbox.cancel_pending_prefixed(session, client.team_id, f"meeting:{meeting_id}:", suffix=suffix)
               for meeting_id in ids)
