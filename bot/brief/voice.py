"""The current agreed voice lines."""

from __future__ import annotations

from sqlalchemy.orm import Session

from bot.brief import Found, Scope, Section


def collect(session: Session, scope: Scope, limit: int) -> Found:
    return Found([], 0)


SECTION = Section(key="voice", title=lambda scope: "Agreed lines (one voice)", collect=collect,
                  line=lambda item, scope: str(item),
                  empty="No agreed line.")
