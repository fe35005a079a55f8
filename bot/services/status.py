"""Where each client stands: last contact against cadence, and what was logged lately.

Health is a rule a manager can read (`/cmo help health`, worded in bot/blocks/health.py), never a black
box. In this version it looks at contact and at schedule changes not yet told to the client; promises
and tone join it as those features arrive.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.db.models import Client, Interaction, ScheduleChange
from bot.services import changes as change_service
from bot.services import clients as client_service
from bot.services import interactions as interaction_service
from bot.services.business_time import BUSINESS_DAY_HOURS, business_hours_between


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

    @property
    def untold_overdue(self) -> bool:
        return self.untold_changes > 0 and self.untold_hours >= BUSINESS_DAY_HOURS


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


def client_health(last_contact_on: dt.date | None, cadence_days: int, today: dt.date, *,
                  open_changes: list[ScheduleChange], now: dt.datetime, zone: ZoneInfo) -> Health:
    """Contact against cadence, made worse by schedule changes the client has not been told about."""
    contact = contact_health(last_contact_on, cadence_days, today)
    if not open_changes:
        return contact
    hours = business_hours_between(min(c.logged_at for c in open_changes), now, zone)
    untold = HealthLevel.RED if hours >= BUSINESS_DAY_HOURS else HealthLevel.AMBER
    worst = max(contact.level, untold, key=lambda level: level.severity)
    return replace(contact, level=worst, untold_changes=len(open_changes), untold_hours=hours)


def client_zone(client: Client, default_zone: ZoneInfo) -> ZoneInfo:
    return ZoneInfo(client.timezone) if client.timezone else default_zone


def client_today(client: Client, default_zone: ZoneInfo, now: dt.datetime | None = None) -> dt.date:
    """Today in the client's zone, else the workspace default."""
    return (now or dt.datetime.now(dt.UTC)).astimezone(client_zone(client, default_zone)).date()


@dataclass(frozen=True)
class ClientStatus:
    client: Client
    today: dt.date
    health: Health
    last_contact: Interaction | None
    next_contact_on: dt.date | None
    recent: list[Interaction]
    open_changes: list[ScheduleChange] = field(default_factory=list)


def client_status(session: Session, client: Client, default_zone: ZoneInfo,
                  now: dt.datetime | None = None) -> ClientStatus:
    now = now or dt.datetime.now(dt.UTC)
    today = client_today(client, default_zone, now)
    last = interaction_service.last_contact(session, client)
    open_changes = change_service.list_changes(session, client.team_id, client=client, open_only=True)
    return ClientStatus(
        client=client,
        today=today,
        health=client_health(last.occurred_on if last else None, client.cadence_days, today,
                             open_changes=open_changes, now=now, zone=client_zone(client, default_zone)),
        open_changes=list(reversed(open_changes)),
        last_contact=last,
        next_contact_on=interaction_service.next_planned_contact(session, client, today),
        recent=interaction_service.latest_interactions(session, client, limit=5),
    )


@dataclass(frozen=True)
class PortfolioRow:
    client: Client
    health: Health
    last_contact_on: dt.date | None


def portfolio(session: Session, team_id: str, default_zone: ZoneInfo, *, owner_user_id: str | None = None,
              now: dt.datetime | None = None) -> list[PortfolioRow]:
    """Every active client (or one owner's), worst health first."""
    now = now or dt.datetime.now(dt.UTC)
    clients = client_service.list_clients(session, team_id, owner_user_id=owner_user_id)
    last = interaction_service.last_contact_dates(session, team_id, [c.id for c in clients])
    untold = change_service.open_changes_by_client(session, team_id)
    rows = [
        PortfolioRow(c, client_health(last.get(c.id), c.cadence_days, client_today(c, default_zone, now),
                                      open_changes=untold.get(c.id, []), now=now,
                                      zone=client_zone(c, default_zone)),
                     last.get(c.id))
        for c in clients
    ]
    return sorted(rows, key=lambda row: -row.health.level.severity)
