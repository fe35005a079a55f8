"""This client's recent lessons."""

from __future__ import annotations

from sqlalchemy.orm import Session

from bot.brief import Found, Scope, Section


def collect(session: Session, scope: Scope, limit: int) -> Found:
    return Found([], 0)


SECTION = Section(key="lessons", title=lambda scope: "Lessons learned", collect=collect,
                  line=lambda item, scope: str(item),
                  empty="No lesson recorded.")
