"""The brief's lessons learned: this client's most recent lessons, newest first, each with its date, who
recorded it and the schedule change it came from."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.blocks import text as t
from bot.blocks.lessons import change_text
from bot.brief import Found, Scope, Section
from bot.db.models import Lesson, ScheduleChange
from bot.services import lessons as lesson_service


def collect(session: Session, scope: Scope, limit: int) -> Found:
    client = scope.client
    found = lesson_service.latest(session, client.team_id, client_id=client.id, limit=limit)
    change_ids = [lesson.change_id for lesson in found if lesson.change_id]
    changes = ({c.id: c for c in session.scalars(select(ScheduleChange).where(ScheduleChange.id.in_(change_ids)))}
               if change_ids else {})
    items = [(lesson, changes.get(lesson.change_id)) for lesson in found]
    total = lesson_service.count(session, client.team_id, client_id=client.id) if len(found) == limit else len(found)
    return Found(items, total)


def line(item: tuple[Lesson, ScheduleChange | None], scope: Scope) -> str:
    lesson, change = item
    source = f" · from {change_text(change)}" if change is not None else ""
    return (f"{t.user_text(lesson.text, 300)} — {t.day(lesson.created_at.astimezone(scope.zone).date())} · "
            f"{t.user(lesson.created_by)}{source}")


SECTION = Section(key="lessons", title=lambda scope: "Lessons learned", collect=collect, line=line,
                  empty="No lesson recorded.")
