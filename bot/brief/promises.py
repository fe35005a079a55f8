"""The brief's open promises (and status's)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from bot.brief import Found, Scope, Section


def collect(session: Session, scope: Scope, limit: int) -> Found:
    return Found([], 0)


SECTION = Section(key="promises", title=lambda scope: "Open promises", collect=collect,
                  line=lambda item, scope: str(item),
                  empty="No open promise.")
