"""Where each client stands: last contact against cadence, and what was logged lately.

Health is a rule a manager can read (`/cmo help health`, worded in bot/blocks/health.py), never a black
box. In this version it looks at contact, at schedule changes not yet told to the client and at overdue
promises; tone joins it as that feature arrives.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from sqlalchemy.orm import Session

from bot.config import Settings
from bot.db.models import Client, Interaction, InteractionKind, Meeting, Promise, ScheduleChange
from bot.services import calendars as calendar_service
from bot.services import changes as change_service
from bot.services import clients as client_service
from bot.services import interactions as interaction_service
from bot.services import meetings as meeting_service
from bot.services import promises as promise_service
from bot.services.business_time import BusinessCalendar
from bot.services.calendars import client_today


class HealthLevel(StrEnum):
    GREEN = "green"
    AMBER = "amber"
    RED = "red"

    @property
    def severity(self) -> int:
        return list(HealthLevel).index(self)


@dataclass(frozen=True)
class Health:
    """Why a client is green, amber or red, as data; bot/blocks/health.py says it in words."""

    level: HealthLevel
    days_since_contact: int | None  # None: no contact logged yet
    cadence_days: int
    untold_changes: int = 0  # schedule changes not told to the client yet
    untold_hours: float = 0.0  # business hours since the oldest of them was logged
    untold_overdue: bool = False  # for a business day or more
    overdue_promises: int = 0  # open promises due before today (the client's today)
    oldest_overdue_days: int = 0  # how many days the longest overdue of them is late

OVERDUE_PROMISE_RED_DAYS = 7  # an open promise overdue for more than this many days: red
RECENT = 5  # interactions shown under a client's status


def contact_health(last_contact_on: dt.date | None, cadence_days: int, today: dt.date) -> Health:
    if last_contact_on is None:
        return Health(HealthLevel.AMBER, None, cadence_days)
    days = (today - last_contact_on).days
    if days <= cadence_days:
        level = HealthLevel.GREEN
    elif days <= 2 * cadence_days:
        level = HealthLevel.AMBER
    else:
        level = HealthLevel.RED
    return Health(level, days, cadence_days)


def _worst(*levels: HealthLevel) -> HealthLevel:
    return max(levels, key=lambda level: level.severity)


def client_health(last_contact_on: dt.date | None, cadence_days: int, today: dt.date, *,
                  open_changes: list[ScheduleChange], now: dt.datetime, calendar: BusinessCalendar | None,
                  promises: Sequence[Promise] = ()) -> Health:
    """Contact against cadence, made worse by schedule changes the client has not been told about (for
    a business day of `calendar` or more: red) and by open promises overdue on `today` (for more than a
    week: red). `promises` may be all the client's open promises or only the overdue ones. `calendar` is
    needed only with open changes."""
    health = contact_health(last_contact_on, cadence_days, today)
    if open_changes:
        assert calendar is not None, "open changes are counted in business hours"
        hours = calendar.hours_between(min(c.logged_at for c in open_changes), now)
        overdue = hours >= calendar.day_hours
        health = replace(health, level=_worst(health.level, HealthLevel.RED if overdue else HealthLevel.AMBER),
                         untold_changes=len(open_changes), untold_hours=hours, untold_overdue=overdue)
    late = [(today - p.due_on).days for p in promises if p.done_at is None and p.due_on < today]
    if late:
        oldest = max(late)
        level = HealthLevel.RED if oldest > OVERDUE_PROMISE_RED_DAYS else HealthLevel.AMBER
        health = replace(health, level=_worst(health.level, level), overdue_promises=len(late),
                         oldest_overdue_days=oldest)
    return health


@dataclass(frozen=True)
class ClientStatus:
    """`recent`, `open_promises` and (most often) `last_contact` are read as rows with the models' fields: they
    are only shown."""

    client: Client
    today: dt.date
    health: Health
    last_contact: Interaction | None
    next_contact_on: dt.date | None
    recent: list[Interaction]
    open_changes: list[ScheduleChange] = field(default_factory=list)
    next_meeting: meeting_service.Upcoming | None = None
    open_promises: list[Promise] = field(default_factory=list)  # soonest due first (the overdue ones first)


def client_status(session: Session, client: Client, settings: Settings,
                  now: dt.datetime | None = None) -> ClientStatus:
    now = now or dt.datetime.now(dt.UTC)
    today = client_today(client, settings.zone, now)
    recent, next_planned = interaction_service.latest_interactions(session, client, today, limit=RECENT)
    # The latest contact is most often among the recent interactions (same order); asked only if they are
    # all notes and there may be more.
    last = next((i for i in recent if i.kind != InteractionKind.NOTE), None)
    if last is None and len(recent) == RECENT:
        last = interaction_service.last_contact(session, client)
    open_changes = change_service.list_changes(session, client.team_id, client=client, open_only=True)
    open_promises = promise_service.list_promises(session, client.team_id, client_id=client.id)
    return ClientStatus(
        client=client,
        today=today,
        health=client_health(last.occurred_on if last else None, client.cadence_days, today,
                             open_changes=open_changes, now=now,
                             # The owner's zone is asked for only when there are open changes to count.
                             calendar=calendar_service.calendar(session, client, settings) if open_changes else None,
                             promises=open_promises),
        open_changes=list(reversed(open_changes)),
        last_contact=last,
        next_contact_on=next_planned,
        recent=recent,
        next_meeting=next(iter(meeting_service.upcoming(session, client.team_id, after=now, client_id=client.id)),
                          None),
        open_promises=open_promises,
    )


@dataclass(frozen=True)
class PortfolioRow:
    client: Client
    health: Health
    last_contact_on: dt.date | None
    snoozed: bool = False  # its contact reminders are snoozed today
    next_meeting: meeting_service.Upcoming | None = None


def portfolio(session: Session, team_id: str, settings: Settings, *, owner_user_id: str | None = None,
              now: dt.datetime | None = None, meetings: list[Meeting] | None = None) -> list[PortfolioRow]:
    """Every active client (or one owner's), worst health first. `meetings`: the active meetings, when the
    caller has them already (else they are read)."""
    now = now or dt.datetime.now(dt.UTC)
    clients = client_service.list_clients(session, team_id, owner_user_id=owner_user_id)
    last = interaction_service.last_contact_dates(session, team_id, [c.id for c in clients])
    untold = change_service.open_changes_by_client(session, team_id)
    calendars = calendar_service.calendars(session, team_id, clients, settings)
    next_meetings = meeting_service.next_by_client(session, team_id, now, meetings=meetings)
    todays = {c.id: client_today(c, settings.zone, now) for c in clients}
    overdue = promise_service.overdue_by_client(session, team_id, todays)
    rows = [
        PortfolioRow(c, client_health(last.get(c.id), c.cadence_days, todays[c.id],
                                      open_changes=untold.get(c.id, []), now=now, calendar=calendars[c.id],
                                      promises=overdue.get(c.id, [])),
                     last.get(c.id),
                     snoozed=c.snoozed_until is not None and c.snoozed_until > calendars[c.id].today(now),
                     next_meeting=next_meetings.get(c.id))
        for c in clients
    ]
    return sorted(rows, key=lambda row: -row.health.level.severity)
