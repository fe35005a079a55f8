"""`delay-followups`: a schedule change not told to the client within the disclosure window (default
4 business hours of the client's zone) nudges the owner in the internal channel; after one business day
it is escalated once to the managers channel. Told: nothing more. Posts only in business hours."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from bot.blocks.changes import followup_escalation, followup_nudge
from bot.config import Settings
from bot.db.models import Client
from bot.runtime import Runtime
from bot.services.business_time import BUSINESS_DAY_HOURS, business_hours_between, in_business_hours
from bot.services.changes import followup_keys, open_changes_by_client
from bot.services.status import client_zone
from jobs.common import JobResult, Outgoing, run_planner

NAME = "delay-followups"


def plan(session: Session, settings: Settings, team_id: str, now: dt.datetime) -> list[Outgoing]:
    outgoing: list[Outgoing] = []
    for client_id, changes in open_changes_by_client(session, team_id).items():
        client = session.get(Client, client_id)
        zone = client_zone(client, settings.zone)
        if client.is_archived or not in_business_hours(now, zone):
            continue
        for change in changes:
            hours = business_hours_between(change.logged_at, now, zone)
            nudge_key, escalate_key = followup_keys(change.id)
            if hours >= settings.disclosure_hours and client.internal_channel_id:
                outgoing.append(Outgoing(team_id, nudge_key, client.internal_channel_id,
                                         followup_nudge(change, client, hours), NAME))
            if hours >= BUSINESS_DAY_HOURS and settings.managers_channel:
                outgoing.append(Outgoing(team_id, escalate_key, settings.managers_channel,
                                         followup_escalation(change, client, hours), NAME))
    return outgoing


def delay_followups(runtime: Runtime, now: dt.datetime | None = None, dry_run: bool = False) -> JobResult:
    return run_planner(NAME, plan, runtime, now, dry_run)
