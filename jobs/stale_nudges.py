"""`stale-nudges`: every client heard from on its cadence.

Runs every few minutes and decides for itself what is due as of now, so that after downtime it catches up
with one nudge per client, not a pile of old ones. For each active client past its cadence (or past a
planned next contact), in the business hours of its calendar (the owner's zone, working days, no public
holiday of the client's country):
- a nudge to the owner in the internal channel (Log contact / Snooze), unless snoozed; again every
  RAPPORT_NUDGE_REPEAT_DAYS business days while still stale, never twice in one day;
- at twice the cadence, one escalation to the managers channel per stale spell;
- no owner or no internal channel: the managers are told instead, once per stale spell.
Each has a dedupe key and is remembered with its outbox row, in the workspace's one transaction.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import replace

from sqlalchemy.orm import Session

from bot.blocks.nudges import escalation, nobody_to_nudge, nudge
from bot.config import Settings
from bot.db.models import AlertKind
from bot.runtime import Runtime
from bot.services import calendars as calendar_service
from bot.services.nudges import StaleClient, alert_key, alerts_sent, record_alert, stale_clients
from jobs.common import JobResult, Outgoing, Plan, run_planner
from jobs.owner_zones import refresh_owner_zones

NAME = "stale-nudges"
logger = logging.getLogger(__name__)


def plan(session: Session, settings: Settings, team_id: str, now: dt.datetime) -> Plan:
    stale = stale_clients(session, team_id, settings.zone, now)
    calendars = calendar_service.calendars(session, team_id, [s.client for s in stale], settings)
    sent = alerts_sent(session, team_id, stale)
    outgoing = Plan()
    waiting: list[dt.datetime] = []

    def say(about: StaleClient, kind: AlertKind, channel: str, message, day: dt.date) -> None:
        outgoing.append(Outgoing(team_id, alert_key(about, kind, day), channel, message, NAME,
                                 record=lambda session: record_alert(session, about, kind, day)))

    unsaid: list[str] = []  # escalations and notices with no managers channel to go to
    for about in stale:
        about = replace(about, spell=sent.spell[about.client.id])
        client, calendar = about.client, calendars[about.client.id]
        if not calendar.is_open(now):
            waiting.append(calendar.next_opening(now))  # the reader's morning, the end of the weekend or holiday
            continue
        today = calendar.today(now)
        if not (client.owner_user_id and client.internal_channel_id):
            if client.id not in sent.no_owner_told:
                if settings.managers_channel:
                    say(about, AlertKind.NO_OWNER, settings.managers_channel, nobody_to_nudge(about), today)
                else:
                    unsaid.append(client.key)
            continue
        snoozed = client.snoozed_until is not None and client.snoozed_until > today
        last_nudge = sent.last_nudge_on.get(client.id)
        repeat_due = last_nudge is None or (
            last_nudge < today and calendar.working_days_after(last_nudge, today) >= settings.nudge_repeat_days)
        if not snoozed and repeat_due:
            say(about, AlertKind.NUDGE, client.internal_channel_id, nudge(about), today)
        if about.twice_the_cadence and client.id not in sent.escalated:
            if settings.managers_channel:
                say(about, AlertKind.ESCALATION, settings.managers_channel,
                    escalation(about, client.snoozed_until if snoozed else None), today)
            else:
                unsaid.append(client.key)
    if unsaid:
        logger.warning("%s: %s: managers would be told about %s, but RAPPORT_MANAGERS_CHANNEL is not set", NAME,
                       team_id, ", ".join(unsaid))
        outgoing.notes.append(f"{team_id}: {len(unsaid)} client(s) to tell the managers about "
                              f"({', '.join(unsaid[:10])}), but RAPPORT_MANAGERS_CHANNEL is not set")
    if waiting:
        first = min(waiting)
        outgoing.notes.append(f"{team_id}: {len(waiting)} client(s) due for contact wait for business hours; the "
                              f"first at {first:%a %Y-%m-%d %H:%M} {first.tzname()}")
    return outgoing


def stale_nudges(runtime: Runtime, now: dt.datetime | None = None, dry_run: bool = False) -> JobResult:
    return run_planner(NAME, plan, runtime, now, dry_run, prepare=refresh_owner_zones)
