"""`delay-followups`: a schedule change not told to the client within the disclosure window (default
4 business hours) nudges the owner in the internal channel; after one business day it is escalated once
to the managers channel. Told: nothing more. Posts only in business hours. Business hours are the
client's calendar (bot/services/calendars.py): the owner's zone, the client's country's holidays."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from bot.blocks.changes import followup_escalation, followup_nudge
from bot.config import Settings
from bot.runtime import Runtime
from bot.services import calendars as calendar_service
from bot.services.changes import followup_keys, open_changes_by_client
from bot.services.clients import clients_by_id
from jobs.common import JobResult, Outgoing, run_planner
from jobs.owner_zones import refresh_owner_zones

NAME = "delay-followups"


def plan(session: Session, settings: Settings, team_id: str, now: dt.datetime) -> list[Outgoing]:
    outgoing: list[Outgoing] = []
    by_client = open_changes_by_client(session, team_id)
    clients = list(clients_by_id(session, team_id, by_client).values())
    calendars = calendar_service.calendars(session, team_id, clients, settings)
    for client in clients:
        calendar = calendars[client.id]
        if client.is_archived or not calendar.is_open(now):
            continue
        for change in by_client[client.id]:
            hours = calendar.hours_between(change.logged_at, now)
            nudge_key, escalate_key = followup_keys(change.id)
            if hours >= settings.disclosure_hours and client.internal_channel_id:
                outgoing.append(Outgoing(team_id, nudge_key, client.internal_channel_id,
                                         followup_nudge(change, client, hours), NAME))
            if hours >= calendar.day_hours and settings.managers_channel:
                outgoing.append(Outgoing(team_id, escalate_key, settings.managers_channel,
                                         followup_escalation(change, client, hours), NAME))
    return outgoing


def delay_followups(runtime: Runtime, now: dt.datetime | None = None, dry_run: bool = False) -> JobResult:
    return run_planner(NAME, plan, runtime, now, dry_run, prepare=refresh_owner_zones)
