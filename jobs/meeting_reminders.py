"""`meeting-reminders`: before each occurrence of a meeting, at each of its lead times (default 24 h and
1 h), a reminder with the prep brief in the meeting's channel (else the client's internal channel),
mentioning the owner.

Runs every minute and decides for itself what is due as of now: for each occurrence that has not started
yet, the shortest lead time already reached. So after downtime only the latest reminder of a meeting still
ahead is sent — never one for a meeting that has started, never a pile of old ones — and a longer one still
waiting to be posted is withdrawn. Each reminder's outbox row expires when its meeting starts. Skips,
moves and cancellations withdraw what was queued (bot/services/meetings.py)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from bot.blocks.meetings import reminder
from bot.brief import Scope, prepare
from bot.config import Settings
from bot.runtime import Runtime
from bot.services import meetings as meeting_service
from bot.services import outbox
from bot.services.calendars import client_zone
from jobs.common import JobResult, Outgoing, Plan, run_planner

NAME = "meeting-reminders"


def plan(session: Session, settings: Settings, team_id: str, now: dt.datetime) -> Plan:
    outgoing = Plan()
    meetings = [m for m in meeting_service.active_meetings(session, team_id) if m.reminder_minutes]
    if not meetings:
        return outgoing

    def horizon(meeting) -> dt.datetime:  # exclusive: a meeting exactly its longest lead away is due now
        return now + dt.timedelta(minutes=max(meeting.reminder_minutes), seconds=1)

    ahead = meeting_service.upcoming(session, team_id, after=now, before=horizon, per_meeting=None, meetings=meetings)
    due_now = []
    for item in ahead:
        reached = [lead for lead in item.meeting.reminder_minutes
                   if item.occurrence.starts_at - dt.timedelta(minutes=lead) <= now]
        if reached:  # the latest reminder reached; the earlier ones are past
            due_now.append((item, reached, meeting_service.reminder_key(item.meeting.id, item.occurrence,
                                                                        min(reached))))
    # Queued by an earlier run (they run every minute): no brief is built again for those.
    queued = outbox.queued_keys(session, team_id, [key for _, _, key in due_now])
    due_now = [(item, due, key) for item, due, key in due_now if key not in queued]
    schedules = meeting_service.schedules(session, {item.meeting.id: item.meeting for item, _, _ in due_now}.values())
    unplaced: list[str] = []
    for item, due, key in due_now:
        meeting, client, occurrence = item.meeting, item.client, item.occurrence
        lead = min(due)
        channel = meeting_service.channel_of(meeting, client)
        if channel is None:
            unplaced.append(f"#{meeting.id}")
            continue
        scope = Scope(client=client, since=meeting_service.previous_start(schedules[meeting.id], occurrence), now=now,
                      zone=client_zone(client, settings.zone))
        message = reminder(meeting, client, occurrence, now, prepare(session, scope))
        superseded = [meeting_service.reminder_key(meeting.id, occurrence, longer) for longer in due if longer != lead]
        outgoing.append(Outgoing(team_id, key, channel, message, NAME, expires_at=occurrence.starts_at,
                                 record=confirm(team_id, meeting.id, occurrence, key, superseded)))
    if unplaced:
        outgoing.notes.append(f"{team_id}: reminders of meeting(s) {', '.join(unplaced)} have no channel to go to "
                              "(give the meeting channel:#..., or its client an internal channel)")
    return outgoing


def confirm(team_id: str, meeting_id: int, occurrence, key: str, superseded: list[str]):
    """Once queued: withdrawn again if the occurrence was skipped, moved or cancelled while this run planned
    (see meeting_service.still_due); else the longer-lead reminders still waiting are withdrawn."""

    def record(session: Session) -> None:
        if meeting_service.still_due(session, meeting_id, occurrence):
            outbox.cancel_pending(session, team_id, superseded)
        else:
            outbox.cancel_pending(session, team_id, [key])

    return record


def meeting_reminders(runtime: Runtime, now: dt.datetime | None = None, dry_run: bool = False) -> JobResult:
    return run_planner(NAME, plan, runtime, now, dry_run)
