"""What Slack says about the people Rapport writes to (their time zone, and whether they are a workspace
admin or owner: managers by right), kept for a day.

Jobs ask Slack (users.info) about those whose entry is missing or older than REFRESH_AFTER and remember
the answer here; everything else (health, business hours) reads only this table, never Slack. The roles
check (bot/services/roles.py) reads it too, and asks Slack itself only about someone not known here."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Select, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.db.batches import batches
from bot.db.core import connection
from bot.db.models import SlackUser

REFRESH_AFTER = dt.timedelta(days=1)


def usable_zone(tz: object) -> ZoneInfo | None:
    """The zone named `tz`, if it is one this machine knows (Slack's answer is input like any other)."""
    if not isinstance(tz, str) or not tz or len(tz) > 64:
        return None
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # unknown, malformed, or a directory such as "Etc"
        return None


def remember_zone(session: Session, team_id: str, user_id: str, tz: str | None, now: dt.datetime, *,
                  is_admin: bool | None = None, is_owner: bool | None = None) -> None:
    """Keep what Slack said about the user's zone (None: it said nothing usable) and workspace roles."""
    tz = tz if usable_zone(tz) is not None else None
    known = {"tz": tz, "is_admin": is_admin, "is_owner": is_owner, "fetched_at": now}
    insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[session.get_bind().dialect.name]
    statement = insert(SlackUser).values(team_id=team_id, user_id=user_id, **known)
    session.execute(statement.on_conflict_do_update(index_elements=["team_id", "user_id"], set_=known))


def remember_user(session: Session, team_id: str, user_id: str, user: object, now: dt.datetime) -> None:
    """Keep users.info's `user` (None or anything not a user: Slack will not tell; not an admin, no zone)."""
    user = user if isinstance(user, dict) else {}
    tz = user.get("tz") if isinstance(user.get("tz"), str) else None
    remember_zone(session, team_id, user_id, tz, now, is_admin=user.get("is_admin") is True,
                  is_owner=user.get("is_owner") is True)


def workspace_admin(session: Session, team_id: str, user_id: str, now: dt.datetime) -> bool | None:
    """Whether Slack said (in the last REFRESH_AFTER) the user is a workspace admin or owner; None: not known."""
    row = session.execute(select(SlackUser.is_admin, SlackUser.is_owner).where(
        SlackUser.team_id == team_id, SlackUser.user_id == user_id, SlackUser.fetched_at > now - REFRESH_AFTER,
    )).first()
    if row is None or (row.is_admin is None and row.is_owner is None):
        return None
    return bool(row.is_admin or row.is_owner)


def zones(session: Session, team_id: str, user_ids: Iterable[str]) -> dict[str, ZoneInfo]:
    """The zones Slack gave for these users (those it gave none for are left out)."""
    found: dict[str, ZoneInfo] = {}
    for batch in batches(user_ids):
        rows = connection(session).execute(_zones_query(), {"team_id": team_id, "ids": batch})
        for user_id, tz in rows:
            zone = usable_zone(tz)  # None: a zone this machine's tz database lacks
            if zone is not None:
                found[user_id] = zone
    return found


@functools.cache
def _zones_query() -> Select:
    # Every status and every reminder asks for zones: built once, bound at execution.
    return select(SlackUser.user_id, SlackUser.tz).where(
        SlackUser.team_id == bindparam("team_id"), SlackUser.user_id.in_(bindparam("ids", expanding=True)),
        SlackUser.tz.is_not(None))


def due_for_refresh(session: Session, team_id: str, user_ids: Iterable[str], now: dt.datetime) -> list[str]:
    """Those never asked about, or not in the last REFRESH_AFTER."""
    wanted = sorted(set(user_ids))
    fresh: set[str] = set()
    for batch in batches(wanted):
        fresh.update(session.scalars(select(SlackUser.user_id).where(
            SlackUser.team_id == team_id, SlackUser.user_id.in_(batch), SlackUser.fetched_at > now - REFRESH_AFTER)))
    return [user for user in wanted if user not in fresh]
