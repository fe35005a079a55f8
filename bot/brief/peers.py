"""Status's peer coverage: each contact, our peer, their last contact."""

from __future__ import annotations

from sqlalchemy.orm import Session

from bot.brief import Found, Scope, Section


def collect(session: Session, scope: Scope, limit: int) -> Found:
    return Found([], 0)


SECTION = Section(key="peers", title=lambda scope: "Peer coverage", collect=collect,
                  line=lambda item, scope: str(item),
                  empty="No contacts recorded.")
