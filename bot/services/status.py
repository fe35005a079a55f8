"""Where each client stands: last contact against cadence, and what was logged lately.

Health is a rule a manager can read (`/cmo help health`), never a black box. In this version it
looks at contact only; schedule changes, promises and tone join it as those features arrive.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.db.models import Client, Interaction
from bot.services import clients as client_service
from bot.services import interactions as interaction_service

GREEN, AMBER, RED = "green", "amber", "red"
HEALTH_RULES = (
    "*Green*: the last contact (call, meeting, email or visit — notes don't count) is within the "
    "client's cadence.",
    "*Amber*: past the cadence but within twice the cadence, or no contact logged yet.",
    "*Red*: more than twice the cadence since the last contact.",
)


@dataclass(frozen=True)
class Health:
    level: str
    reason: str


def contact_health(last_contact_on: dt.date | None, cadence_days: int, today: dt.date) -> Health:
    if last_contact_on is None:
        return Health(AMBER, "no contact logged yet")
    days = (today - last_contact_on).days
    ago = "today" if days == 0 else f"{days} day{'s' if days != 1 else ''} ago"
    if days <= cadence_days:
        return Health(GREEN, f"last contact {ago}, cadence {cadence_days}d")
    if days <= 2 * cadence_days:
        return Health(AMBER, f"last contact {ago}, past the {cadence_days}d cadence")
    return Health(RED, f"last contact {ago}, more than twice the {cadence_days}d cadence")


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


def client_status(session: Session, client: Client, default_zone: ZoneInfo,
                  now: dt.datetime | None = None) -> ClientStatus:
    today = client_today(client, default_zone, now)
    last = interaction_service.last_contact(session, client)
    return ClientStatus(
        client=client,
        today=today,
        health=contact_health(last.occurred_on if last else None, client.cadence_days, today),
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
    clients = client_service.list_clients(session, team_id, owner_user_id=owner_user_id)
    last = interaction_service.last_contact_dates(session, team_id, [c.id for c in clients])
    rows = [
        PortfolioRow(c, contact_health(last.get(c.id), c.cadence_days, client_today(c, default_zone, now)),
                     last.get(c.id))
        for c in clients
    ]
    order = {RED: 0, AMBER: 1, GREEN: 2}
    return sorted(rows, key=lambda row: order[row.health.level])
