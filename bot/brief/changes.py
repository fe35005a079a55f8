"""The brief's schedule changes: every change not told to the client yet, and those told since the previous
meeting, each saying whether the client knows."""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from bot.blocks import text as t
from bot.blocks.changes import slip_text
from bot.brief import Found, Scope, Section
from bot.db.models import ScheduleChange


def collect(session: Session, scope: Scope, limit: int) -> Found:
    relevant = ScheduleChange.told_at.is_(None)
    if scope.since is not None:
        relevant = or_(relevant, ScheduleChange.told_at >= scope.since)  # told since: the client knows now
    query = select(ScheduleChange).where(ScheduleChange.team_id == scope.client.team_id,
                                         ScheduleChange.client_id == scope.client.id, relevant)
    # Untold first: they are what must be said in the meeting.
    items = list(session.scalars(query.order_by(ScheduleChange.told_at.is_not(None), ScheduleChange.id.desc())
                                 .limit(limit)))
    total = session.scalar(select(func.count()).select_from(query.subquery())) if len(items) == limit else len(items)
    return Found(items, total)


def line(change: ScheduleChange, scope: Scope) -> str:
    told = (f":white_check_mark: told {change.told_at:%a %d %b} by {t.user(change.told_by)}" if change.told_at
            else ":warning: *not told to the client yet*")
    return (f"`#{change.id}` {t.user_text(change.item, 120)} → {t.day(change.new_date)} "
            f"({slip_text(change.slip_days)}) — {t.user_text(change.reason, 120)} · {told}")


SECTION = Section(key="changes", title=lambda scope: "Schedule changes", collect=collect, line=line,
                  empty="No open schedule change, none since the last meeting.")
