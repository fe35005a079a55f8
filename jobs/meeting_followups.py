"""`meeting-followups`: once a meeting's day is over (in the meeting's zone) and no meeting notes are logged
for its client since that day, one prompt to the owner, with a "Log notes" button that opens the log form
filled with the meeting's title and date. In the owner's business hours; about the past week's meetings
only (after downtime, no pile of old prompts). Logging the notes withdraws a prompt not yet posted."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from bot.blocks.meetings import notes_prompt
from bot.config import Settings
from bot.db.models import InteractionKind
from bot.runtime import Runtime
from bot.services import calendars as calendar_service
from bot.services import meetings as meeting_service
from bot.services.interactions import latest_of_kind_since
from jobs.common import JobResult, Outgoing, Plan, run_planner
from jobs.owner_zones import refresh_owner_zones

NAME = "meeting-followups"
LOOKBACK = dt.timedelta(days=7)  # a meeting's day that ended longer ago than this is not asked about


def day_end(day: dt.date, zone) -> dt.datetime:
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=zone).astimezone(dt.UTC)


def plan(session: Session, settings: Settings, team_id: str, now: dt.datetime) -> Plan:
    outgoing = Plan()
    held = meeting_service.upcoming(session, team_id, after=now - LOOKBACK - dt.timedelta(days=2), before=now,
                                    per_meeting=None)
    ended = [item for item in held
             if dt.timedelta(0) <= now - day_end(item.occurrence.local_day, item.occurrence.zone) <= LOOKBACK]
    calendars = calendar_service.calendars(session, team_id, {i.client.id: i.client for i in ended}.values(), settings)
    notes = latest_of_kind_since(session, team_id, {i.client.id for i in ended}, InteractionKind.MEETING,
                                 min((i.occurrence.local_day for i in ended), default=now.date()))
    for item in ended:
        meeting, client, occurrence = item.meeting, item.client, item.occurrence
        channel = meeting_service.channel_of(meeting, client)
        if channel is None or not client.owner_user_id or not calendars[client.id].is_open(now):
            continue
        if notes.get(client.id, dt.date.min) >= occurrence.local_day:  # its notes are logged
            continue
        outgoing.append(Outgoing(team_id, meeting_service.notes_key(meeting.id, occurrence), channel,
                                 notes_prompt(meeting, client, occurrence), NAME))
    return outgoing


def meeting_followups(runtime: Runtime, now: dt.datetime | None = None, dry_run: bool = False) -> JobResult:
    return run_planner(NAME, plan, runtime, now, dry_run, prepare=refresh_owner_zones)
