"""Whose clock applies to a client: its zone (for its dates), and the business calendar of the person
who reads about it (the owner's zone from Slack, else the client's, else the workspace default; the
working hours of RAPPORT_BUSINESS_HOURS; the client's country's public holidays)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.config import Settings
from bot.db.models import Client
from bot.services import people
from bot.services.business_time import BusinessCalendar


def client_zone(client: Client, default_zone: ZoneInfo) -> ZoneInfo:
    return ZoneInfo(client.timezone) if client.timezone else default_zone


def client_today(client: Client, default_zone: ZoneInfo, now: dt.datetime | None = None) -> dt.date:
    """Today in the client's zone, else the workspace default."""
    return (now or dt.datetime.now(dt.UTC)).astimezone(client_zone(client, default_zone)).date()


def calendars(session: Session, team_id: str, clients: Iterable[Client],
              settings: Settings) -> dict[int, BusinessCalendar]:
    """Each client's business calendar, with one query for the owners' zones."""
    clients = list(clients)
    owner_zones = people.zones(session, team_id, (c.owner_user_id for c in clients if c.owner_user_id))
    opens, closes = settings.business_hours
    return {c.id: BusinessCalendar(owner_zones.get(c.owner_user_id or "") or client_zone(c, settings.zone),
                                   opens, closes, c.country)
            for c in clients}


def calendar(session: Session, client: Client, settings: Settings) -> BusinessCalendar:
    return calendars(session, client.team_id, [client], settings)[client.id]
