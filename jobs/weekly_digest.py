"""`weekly-digest`: every Monday from 09:00 (workspace zone), each workspace's portfolio health, its overdue
promises and the week's meetings to the managers channel. It runs every few minutes and decides itself whether
this week's digest is due, so a digest missed while Rapport was down is posted when it is back, and never twice
(its dedupe key is the ISO week)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from bot.blocks import Message
from bot.blocks.layout import MAX_BLOCKS
from bot.blocks.meetings import week_meetings
from bot.blocks.promises import overdue_section
from bot.blocks.replies import portfolio
from bot.config import Settings
from bot.runtime import Runtime
from bot.services.calendars import client_today
from bot.services.meetings import active_meetings, upcoming
from bot.services.promises import overdue_by_client
from bot.services.status import portfolio as portfolio_rows
from jobs.common import JobResult, Outgoing, run_planner

NAME = "weekly-digest"
DUE_AT = dt.time(9, 0)


def plan(session: Session, settings: Settings, team_id: str, now: dt.datetime) -> list[Outgoing]:
    if not settings.managers_channel:
        return []
    local = now.astimezone(settings.zone)
    monday = local.date() - dt.timedelta(days=local.weekday())
    if local < dt.datetime.combine(monday, DUE_AT, tzinfo=settings.zone):
        return []
    year, week, _ = monday.isocalendar()
    active = active_meetings(session, team_id)  # read once: for each client's next meeting and for the week's
    rows = portfolio_rows(session, team_id, settings, now=now, meetings=active)
    health = portfolio(rows, title=f"Weekly portfolio health — week {week}, {monday:%d %b %Y}", empty="")
    week_start = dt.datetime.combine(monday, dt.time.min, tzinfo=settings.zone)
    meetings = week_meetings(upcoming(session, team_id, after=week_start, before=week_start + dt.timedelta(days=7),
                                      per_meeting=None, meetings=active))
    todays = {row.client.id: client_today(row.client, settings.zone, now) for row in rows}
    promises = overdue_section(overdue_by_client(session, team_id, todays), {row.client.id: row.client for row in rows},
                               todays)
    blocks = health.blocks[:MAX_BLOCKS - 1 - len(meetings) - len(promises)] + promises + meetings
    message = Message(text=health.text, blocks=blocks)
    return [Outgoing(team_id, f"{NAME}:{year}-W{week:02d}", settings.managers_channel, message, NAME)]


def weekly_digest(runtime: Runtime, now: dt.datetime | None = None, dry_run: bool = False) -> JobResult:
    return run_planner(NAME, plan, runtime, now, dry_run)
