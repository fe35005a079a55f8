"""`promise-reminders`: an open promise is reminded of in the client's internal channel on the last business day
before it is due ("due tomorrow", with a **Done** button); once its due day has ended, its owner is nudged there
(with the button); more than 2 business days overdue, it is escalated once to the managers channel. Done: nothing
more. Posts only in business hours of the client's calendar (bot/services/calendars.py), like the other jobs.

Each message is posted once per due date (the dedupe keys carry it): a moved promise starts afresh."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from bot.blocks.promises import escalation, overdue_nudge, reminder
from bot.config import Settings
from bot.runtime import Runtime
from bot.services import calendars as calendar_service
from bot.services.business_time import BusinessCalendar
from bot.services.clients import clients_by_id
from bot.services.promises import open_by_client, reminder_keys
from jobs.common import JobResult, Outgoing, run_planner
from jobs.owner_zones import refresh_owner_zones

NAME = "promise-reminders"
ESCALATE_AFTER_DAYS = 2  # business days overdue


def reminder_day(calendar: BusinessCalendar, due_on: dt.date) -> dt.date:
    """The last working day before the due date ("due tomorrow", or on Friday for a Monday)."""
    day = due_on - dt.timedelta(days=1)
    for _ in range(30):
        if calendar.is_working_day(day):
            return day
        day -= dt.timedelta(days=1)
    return due_on - dt.timedelta(days=1)


def plan(session: Session, settings: Settings, team_id: str, now: dt.datetime) -> list[Outgoing]:
    outgoing: list[Outgoing] = []
    by_client = open_by_client(session, team_id)
    clients = [c for c in clients_by_id(session, team_id, by_client).values() if not c.is_archived]
    calendars = calendar_service.calendars(session, team_id, clients, settings)
    for client in clients:
        calendar = calendars[client.id]
        if not calendar.is_open(now):
            continue
        zone = calendar_service.client_zone(client, settings.zone)
        today = now.astimezone(zone).date()  # the client's: due dates are in its zone
        for promise in by_client[client.id]:
            due_key, overdue_key, escalate_key = reminder_keys(promise.id, promise.due_on)
            if today < promise.due_on:
                if calendar.today(now) >= reminder_day(calendar, promise.due_on) and client.internal_channel_id:
                    outgoing.append(Outgoing(team_id, due_key, client.internal_channel_id,
                                             reminder(promise, client), NAME))
                continue
            if today == promise.due_on:
                continue  # due today is not overdue yet
            due_day_ended = dt.datetime.combine(promise.due_on + dt.timedelta(days=1), dt.time(), tzinfo=zone)
            if client.internal_channel_id:
                outgoing.append(Outgoing(team_id, overdue_key, client.internal_channel_id,
                                         overdue_nudge(promise, client, today), NAME))
            hours = calendar.hours_between(due_day_ended, now)
            if hours > ESCALATE_AFTER_DAYS * calendar.day_hours and settings.managers_channel:
                outgoing.append(Outgoing(team_id, escalate_key, settings.managers_channel,
                                         escalation(promise, client, hours / calendar.day_hours), NAME))
    return outgoing


def promise_reminders(runtime: Runtime, now: dt.datetime | None = None, dry_run: bool = False) -> JobResult:
    return run_planner(NAME, plan, runtime, now, dry_run, prepare=refresh_owner_zones)
