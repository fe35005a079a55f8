"""The brief's schedule changes: every change not told to the client yet, and those told since the previous
meeting, each saying whether the client knows."""

from __future__ import annotations

import functools

from sqlalchemy import Select, bindparam, func, or_, select
from sqlalchemy.orm import Session

from bot.blocks import text as t
from bot.blocks.changes import slip_text
from bot.brief import Found, Scope, Section, page
from bot.db.models import ScheduleChange


@functools.cache
def _queries(with_since: bool) -> tuple[Select, Select]:
    """(the changes, untold first; how many there are): built once per shape (every meeting reminder asks),
    bound at execution (team_id, client_id, since, limit)."""
    relevant = ScheduleChange.told_at.is_(None)
    if with_since:  # told since: the client knows now
        relevant = or_(relevant, ScheduleChange.told_at >= bindparam("since", type_=ScheduleChange.told_at.type))
    query = select(ScheduleChange).where(ScheduleChange.team_id == bindparam("team_id"),
                                         ScheduleChange.client_id == bindparam("client_id"), relevant)
    # Untold first: they are what must be said in the meeting.
    return (query.order_by(ScheduleChange.told_at.is_not(None), ScheduleChange.id.desc()).limit(bindparam("limit")),
            select(func.count()).select_from(query.subquery()))


def collect(session: Session, scope: Scope, limit: int) -> Found:
    items_query, count_query = _queries(scope.since is not None)
    params = {"team_id": scope.client.team_id, "client_id": scope.client.id, "limit": limit,
              **({"since": scope.since} if scope.since is not None else {})}
    return page(session, items_query, count_query, params, limit)


def line(change: ScheduleChange, scope: Scope) -> str:
    told = (f":white_check_mark: told {change.told_at:%a %d %b} by {t.user(change.told_by)}" if change.told_at
            else ":warning: *not told to the client yet*")
    return (f"`#{change.id}` {t.user_text(change.item, 120)} → {t.day(change.new_date)} "
            f"({slip_text(change.slip_days)}) — {t.user_text(change.reason, 120)} · {told}")


SECTION = Section(key="changes", title=lambda scope: "Schedule changes", collect=collect, line=line,
                  empty="No open schedule change, none since the last meeting.")
